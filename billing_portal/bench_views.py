"""The benchmark's baseline: the cheapest useful Django JSON view, one indexed SELECT, nothing else.

Mounted only when BENCH_BASELINE_VIEW is true (off by default; `make bench` turns it on for its own server).
It authenticates nothing and reads one organization by primary key, so `make bench` can report the admission
API's throughput as a ratio to what Django, gunicorn and PostgreSQL give for one query on this machine.
"""

from __future__ import annotations

import json

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def select_one(request):
    """POST {"id": n} (or GET ?id=n): one `SELECT … WHERE id = %s` on an indexed table, answered as JSON."""
    try:
        if request.method == "POST":
            pk = int(json.loads(request.body or b"{}").get("id", 1))
        else:
            pk = int(request.GET.get("id", 1))
    except (ValueError, TypeError, AttributeError):
        return JsonResponse({"error": "id must be an integer"}, status=400)
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, slug, plan_kind FROM organizations_organization WHERE id = %s", [pk])
        row = cursor.fetchone()
    if row is None:
        return JsonResponse({"found": False}, status=404)
    return JsonResponse({"found": True, "id": row[0], "slug": row[1], "plan_kind": row[2]})
