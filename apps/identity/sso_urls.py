"""allauth's OpenID Connect login and callback, /sso/oidc/<provider id>/login/(callback/). Their URL names are
allauth's own (`openid_connect_login`, `openid_connect_callback`), outside any namespace. The callback is
throttled first (per organization's provider and per client address, THROTTLE_LIMITS["oidc_callback"]): each
one costs a token request to the provider and a JWKS fetch."""

from allauth.socialaccount.providers.openid_connect import views as oidc_views
from django.urls import include, path
from django.utils.translation import gettext as _

from apps.common.ratelimit import ClientThrottle

from .sso import sso_error

oidc_callback_throttle = ClientThrottle("oidc_callback")


def oidc_callback(request, provider_id):
    decision = oidc_callback_throttle.hit(request=request, account=provider_id)
    if not decision.allowed:
        response = sso_error(request, _("Too many attempts. Wait %(seconds)s seconds, then try again.")
                             % {"seconds": decision.retry_after}, status=429)
        response["Retry-After"] = str(decision.retry_after)
        return response
    return oidc_views.callback(request, provider_id=provider_id)


urlpatterns = [
    # Before allauth's own route for the same path, so every callback passes the throttle.
    path("sso/oidc/<str:provider_id>/login/callback/", oidc_callback, name="openid_connect_callback"),
    path("sso/", include("allauth.socialaccount.providers.openid_connect.urls")),
]
