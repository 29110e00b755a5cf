"""Which language a request is answered in (replaces Django's LocaleMiddleware).

In this order:
  1. the person's saved preference: `User.language`, or for someone not logged in the language cookie the
     header's picker sets (Django's set_language cookie);
  2. otherwise the browser's Accept-Language, when it asks for one of settings.LANGUAGES;
  3. otherwise, on an organization's pages (/orgs/<slug>/…), that organization's default language;
  4. otherwise settings.LANGUAGE_CODE (English).
Steps 1 and 2 are decided before the view runs (no query: the user is already loaded); step 3 needs the
organization, so it waits for the resolved URL's `slug` and costs one indexed query, only for requests that
named no language at all.
"""

from __future__ import annotations

from django.conf import settings
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.translation.trans_real import get_supported_language_variant, parse_accept_lang_header

from .models import Organization

SUPPORTED = frozenset(code for code, _name in settings.LANGUAGES)
# The machine API and the Admin API answer in English whatever the client's Accept-Language says.
ENGLISH_ONLY_PREFIXES = ("/api/", "/v1/")


def supported(code: str | None) -> str | None:
    """`code` as one of the five languages ("de-AT" → "de"), or None."""
    if not code:
        return None
    try:
        variant = get_supported_language_variant(code)
    except LookupError:
        return None
    return variant if variant in SUPPORTED else None


def language_from_preference(request) -> str | None:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and supported(user.language):
        return supported(user.language)
    return supported(request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME))


def language_from_browser(request) -> str | None:
    for code, _quality in parse_accept_lang_header(request.META.get("HTTP_ACCEPT_LANGUAGE", "")):
        if code == "*":
            break
        found = supported(code)
        if found:
            return found
    return None


def organization_default_language(slug: str) -> str | None:
    code = Organization.objects.filter(slug=slug).values_list("default_language", flat=True).first()
    return supported(code)


class PreferredLanguageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(ENGLISH_ONLY_PREFIXES):
            language = "en"
        else:
            language = language_from_preference(request) or language_from_browser(request)
        request.language_decided = language is not None
        translation.activate(language or settings.LANGUAGE_CODE)
        request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        patch_vary_headers(response, ("Accept-Language", "Cookie"))
        response.headers.setdefault("Content-Language", translation.get_language())
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        slug = view_kwargs.get("slug")
        if request.language_decided or not slug:
            return None
        language = organization_default_language(slug)
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        return None
