"""`make bench` ends by naming every ratio that got worse by more than 20% against the committed results."""

import json
import subprocess
from pathlib import Path

from bench import compare


def test_a_ratio_that_fell_by_more_than_a_fifth_is_named_and_one_within_it_is_not():
    previous = {"admission_vs_select_view": 0.70, "single_event_vs_select_view": 0.20, "invoice_vs_scan": 5.0,
                "started_at": "2026-12-04T17:41:02"}
    current = {"admission_vs_select_view": 0.50, "single_event_vs_select_view": 0.19, "invoice_vs_scan": 5.5}

    found = compare.regressions(previous, current)

    assert [row["key"] for row in found] == ["admission_vs_select_view"]
    assert found[0]["change_pct"] == -28.6
    lines = compare.report(previous, current)
    assert lines[0].startswith("Ratios that fell by more than 20%")
    assert "REGRESSION admission_vs_select_view: 0.7 -> 0.5 (-28.6%)" in lines[1]


def test_a_lower_is_better_ratio_regresses_when_it_rises():
    previous = {"analytics_p95_vs_baseline": 100.0, "invoice_vs_scan": 8.0}
    current = {"analytics_p95_vs_baseline": 130.0, "invoice_vs_scan": 4.0}  # the invoice got faster: no regression

    assert [row["key"] for row in compare.regressions(previous, current)] == ["analytics_p95_vs_baseline"]


def test_missing_or_failed_figures_and_a_first_run_are_not_regressions():
    assert compare.regressions({"invoice_vs_scan": 5.0}, {"invoice_vs_scan": None}) == []
    assert compare.regressions({}, {"invoice_vs_scan": 5.0}) == []
    assert compare.report({}, {"invoice_vs_scan": 5.0}) == ["No previous results to compare with (first run)."]
    assert compare.report({"hot_vs_spread": 1.0}, {"hot_vs_spread": 0.9})[0].startswith("No ratio fell")


def test_the_previous_results_are_the_committed_file_not_an_uncommitted_rerun(tmp_path: Path):
    results = tmp_path / "bench" / "results"
    results.mkdir(parents=True)
    path = results / "latest.json"
    path.write_text(json.dumps({"hot_vs_spread": 1.08}))
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([*git, "add", "."], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-qm", "results"], cwd=tmp_path, check=True)
    path.write_text(json.dumps({"hot_vs_spread": 0.5}))  # a local rerun, not committed

    assert compare.load_previous(path) == {"hot_vs_spread": 1.08}
