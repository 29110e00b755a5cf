"""The username django-axes counts login failures against: the submitted email, stripped and lower-cased."""


def axes_username(request, credentials) -> str | None:
    raw = (credentials or {}).get("username")
    if raw is None and request is not None:
        raw = request.POST.get("username")
    return raw.strip().lower() if isinstance(raw, str) else None
