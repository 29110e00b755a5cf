"""Run by tests/demo/test_demo_on_sqlite.py in a child process: migrate and seed the demo into a fresh SQLite
database (the embedded database `make demo` uses), then follow every link and hx-get endpoint each kind of user
can reach, and print one JSON line: the pages visited and any answer of 500 or more."""

import json
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.update(DJANGO_SETTINGS_MODULE="billing_portal.settings", DEBUG="true", SECURE_SSL_REDIRECT="false",
                  ALLOWED_HOSTS="testserver", AXES_ENABLED="false", EMAIL_URL="consolemail://")
os.environ.pop("CELERY_BROKER_URL", None)

import django  # noqa: E402

django.setup()
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from apps.accounts.models import User  # noqa: E402

PAGES_PER_USER = int(os.environ.get("DEMO_CRAWL_PAGES", "60"))
USERS = ["owner@globex-enterprise.example", "admin@globex-enterprise.example", "member1@globex-enterprise.example",
         "owner@acme-team.example", "member2@acme-team.example", "owner@initech-enterprise.example",
         "member3@initech-enterprise.example"]
SKIP = ("logout", "/static/", "/admin/")


def crawl(email: str) -> tuple[int, list]:
    client = Client(raise_request_exception=False)
    client.force_login(User.objects.get(email=email))
    seen, queue, failures = set(), ["/"], []
    while queue and len(seen) < PAGES_PER_USER:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        response = client.get(url, follow=True)
        if response.status_code >= 500:
            failures.append([email, url, response.status_code])
            continue
        if "text/html" not in response.get("Content-Type", ""):
            continue
        for href in re.findall(r'(?:href|hx-get)="(/[^"#]*)"', response.content.decode(errors="replace")):
            href = href.replace("&amp;", "&")
            if not any(part in href for part in SKIP) and href not in seen:
                queue.append(href)
    return len(seen), failures


call_command("migrate", verbosity=0, interactive=False)
with open(os.devnull, "w") as quiet:
    call_command("seed_demo", stdout=quiet)
visited, failures = 0, []
for user in USERS:
    count, failed = crawl(user)
    visited += count
    failures += failed
print(json.dumps({"visited": visited, "failures": failures}))
