"""The brand on pages, emails and invoice PDFs, a template builtin (settings BRAND_NAME and BRAND_LOGO):

    {% brand_name %}                      the product's name ("Billing portal" unless BRAND_NAME says otherwise)
    {% brand_name as brand %}             the same into a variable, e.g. for a {% blocktranslate %}
    {% brand_logo_src "page" %}           the logo for a page (a static URL), "" when no logo is set
    {% brand_logo_src "email" %}          absolute (SITE_URL + static URL): mail clients fetch it from the site
    {% brand_logo_src "pdf" %}            a data: URI of the file, so WeasyPrint needs no network
"""

from __future__ import annotations

import base64
import mimetypes
from functools import lru_cache
from pathlib import Path

from django import template
from django.conf import settings
from django.contrib.staticfiles import finders
from django.templatetags.static import static

register = template.Library()


@register.simple_tag
def brand_name() -> str:
    return settings.BRAND_NAME


@lru_cache(maxsize=8)
def _data_uri(path: str) -> str:
    found = finders.find(path)
    if not found and settings.STATIC_ROOT:
        candidate = Path(settings.STATIC_ROOT) / path
        found = str(candidate) if candidate.exists() else None
    if not found:
        return ""
    mime = mimetypes.guess_type(found)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(Path(found).read_bytes()).decode()}"


@register.simple_tag
def brand_logo_src(kind: str = "page") -> str:
    logo = settings.BRAND_LOGO
    if not logo:
        return ""
    if logo.startswith("https://"):
        return logo
    if kind == "pdf":
        return _data_uri(logo)
    url = static(logo)
    return settings.SITE_URL.rstrip("/") + url if kind == "email" else url
