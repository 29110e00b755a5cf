"""allauth's OpenID Connect login and callback, /sso/oidc/<provider id>/login/(callback/). Their URL names are
allauth's own (`openid_connect_login`, `openid_connect_callback`), outside any namespace."""

from django.urls import include, path

urlpatterns = [path("sso/", include("allauth.socialaccount.providers.openid_connect.urls"))]
