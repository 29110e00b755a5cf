"""Public, tagged identifiers (`user_…`, `spl_…`) so that database keys never leave the system, and the stored
digest of a secret API key."""

import hashlib
import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


def new_public_id(prefix: str, length: int = 24) -> str:
    """A random tagged id such as `user_01AbC…`: prefix, underscore, base62 characters."""
    return f"{prefix}_" + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def is_tagged_id(value: object, prefix: str) -> bool:
    if not isinstance(value, str) or not value.startswith(f"{prefix}_"):
        return False
    body = value[len(prefix) + 1 :]
    return 0 < len(body) <= 64 and all(c in _ALPHABET for c in body)


# Longer bearer tokens are refused without a look-up (real keys are about 50 characters).
API_KEY_MAX_LENGTH = 200


def api_key_digest(raw_key: str) -> str:
    """The stored form of a machine or Admin API key. Keys carry at least 240 bits of randomness, so a fast
    unsalted digest is enough and keeps authentication one indexed lookup."""
    return hashlib.sha256(raw_key.encode()).hexdigest()
