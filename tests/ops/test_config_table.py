"""Every environment variable the settings read is in the README's Configuration table and in .env.example."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
READERS = re.compile(r"(?:env\.(?:str|int|float|bool|list)|read_bool|read_url|read)\(\s*\"([A-Z][A-Z0-9_]+)\"")


def settings_variables() -> set[str]:
    return set(READERS.findall((ROOT / "billing_portal" / "settings.py").read_text())) | {"PROMETHEUS_MULTIPROC_DIR"}


def test_settings_read_the_variables_this_test_knows_how_to_find():
    found = settings_variables()
    assert {"DATABASE_URL", "SITE_URL", "CELERY_BROKER_URL", "SENTRY_DSN", "METRICS_TOKEN"} <= found
    assert len(found) >= 35


def test_every_variable_is_in_the_readme_table_and_env_example():
    readme = (ROOT / "README.md").read_text()
    table = readme.split("### Configuration", 1)[1].split("\n\n", 3)[2]
    rows = "\n".join(line for line in table.splitlines() if line.startswith("|"))
    example = (ROOT / ".env.example").read_text()
    missing_readme = sorted(name for name in settings_variables() if f"`{name}`" not in rows)
    missing_example = sorted(name for name in settings_variables()
                             if not re.search(rf"^#? ?{name}=", example, re.M))
    assert missing_readme == [], f"add to the README's Configuration table: {missing_readme}"
    assert missing_example == [], f"add to .env.example: {missing_example}"
