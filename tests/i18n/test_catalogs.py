"""The four translated catalogs are complete: every message translated, none fuzzy, and nothing the code marks
for translation is missing from them (makemessages is run into a scratch copy and compared)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)
LANGUAGES = ("de", "fr", "it", "es")
MAKEMESSAGES_ARGS = ["--no-location", "--no-obsolete", "-i", ".venv/*", "-i", "tests/*", "-i", "bench/*",
                     "-i", "staticfiles/*", "-i", "test-output/*"]


def catalog(language: str, root: Path = BASE_DIR):
    with (root / "locale" / language / "LC_MESSAGES" / "django.po").open("rb") as po_file:
        return read_po(po_file, locale=language)


def message_keys(cat) -> set:
    return {(m.context, m.id) for m in cat if m.id}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_is_translated_and_none_is_fuzzy(language):
    cat = catalog(language)
    untranslated = [m.id for m in cat if m.id and (not m.string or (isinstance(m.string, tuple)
                                                                    and not all(m.string)))]
    fuzzy = [m.id for m in cat if m.id and m.fuzzy]
    assert not untranslated, f"{language}: untranslated {untranslated}"
    assert not fuzzy, f"{language}: fuzzy {fuzzy}"
    assert not cat.fuzzy


@pytest.mark.parametrize("language", LANGUAGES)
def test_placeholders_survive_translation(language):
    """A translation keeps every %(name)s of its message (a lost one would raise or show nothing)."""
    import re

    pattern = re.compile(r"%\((\w+)\)s")
    for m in catalog(language):
        if not m.id or isinstance(m.id, tuple):
            continue
        assert set(pattern.findall(m.id)) == set(pattern.findall(m.string)), (language, m.id, m.string)


def test_makemessages_would_add_nothing(tmp_path):
    """Run makemessages on a scratch copy of the sources and compare its msgids with the committed catalogs."""
    for name in ("apps", "templates", "billing_portal", "scripts", "manage.py"):
        source = BASE_DIR / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, tmp_path / name)
    (tmp_path / "locale").mkdir()
    env = {**os.environ, "DEBUG": "true", "DJANGO_SETTINGS_MODULE": "billing_portal.settings"}
    subprocess.run([sys.executable, "manage.py", "makemessages", *[f"-l{lang}" for lang in LANGUAGES],
                    *MAKEMESSAGES_ARGS], cwd=tmp_path, env=env, check=True, capture_output=True)
    for language in LANGUAGES:
        fresh, committed = message_keys(catalog(language, tmp_path)), message_keys(catalog(language))
        assert not fresh - committed, f"{language}: not in locale/{language}: {sorted(fresh - committed)}"
        assert not committed - fresh, f"{language}: no longer used: {sorted(committed - fresh)}"
