"""The closing comparison of `make bench`: every ratio that moved the wrong way by more than 20% against the
committed previous results (bench/results/latest.json as it stood before this run), so a regression is seen in the
run that caused it.

Only ratios are compared: absolute figures move by half between runs on this shared 2-core machine, ratios to a
baseline measured in the same run do not. Each key's good direction is named below ("up": higher is better).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

# The keys that are ratios to a baseline measured in the same run (absolute rates and latencies are not compared),
# each with the direction that is better.
RATIO_KEYS = {
    "admission_vs_select_view": "up",
    "admission_p50_vs_select_p50": "down",
    "single_event_vs_select_view": "up",
    "batch_events_vs_select_view": "up",
    "hot_vs_spread": "up",
    "admission_hot_vs_spread": "up",
    "ingest_vs_pgbench_n": "up",
    "analytics_p95_vs_baseline": "down",
    "invoice_vs_scan": "down",
}
THRESHOLD = 0.20


def load_previous(path: Path) -> dict:
    """The committed previous results (`git show HEAD:<path>`); else the file as it is on disk before this run
    overwrites it; {} when there is neither (a first run) or it does not parse."""
    root = path.resolve().parents[2]
    relative = path.resolve().relative_to(root)
    try:
        text = subprocess.run(["git", "show", f"HEAD:{relative}"], cwd=root, capture_output=True, text=True,
                              check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        try:
            text = path.read_text()
        except OSError:
            return {}
    try:
        return json.loads(text)
    except ValueError:
        return {}


def regressions(previous: dict, current: dict, *, threshold: float = THRESHOLD) -> list[dict]:
    """Each ratio key whose value got worse by more than `threshold` (a fraction of the previous value).

    A key missing from either run, or None in either (an add-on benchmark failed), is skipped: there is nothing to
    compare.
    """
    found = []
    for key, better in RATIO_KEYS.items():
        before, after = previous.get(key), current.get(key)
        if isinstance(before, bool) or isinstance(after, bool):
            continue
        if not isinstance(before, (int, float)) or not isinstance(after, (int, float)) or not before:
            continue
        change = (after - before) / abs(before)
        worse = -change if better == "up" else change
        if worse > threshold:
            found.append({"key": key, "previous": before, "current": after, "change_pct": round(change * 100, 1)})
    return found


def report(previous: dict, current: dict) -> list[str]:
    """The lines `make bench` prints last."""
    if not previous:
        return ["No previous results to compare with (first run)."]
    found = regressions(previous, current)
    started = previous.get("started_at", "an unknown time")
    if not found:
        return [f"No ratio fell by more than {THRESHOLD:.0%} against the previous results ({started})."]
    lines = [f"Ratios that fell by more than {THRESHOLD:.0%} against the previous results ({started}):"]
    for row in found:
        lines.append(f"  REGRESSION {row['key']}: {row['previous']} -> {row['current']} ({row['change_pct']:+}%)")
    return lines
