"""The audit report: what the log, the manifests and the models say, in one HTML file
that fetches nothing, renders in a browser without a console error, and fits a laptop."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trainguard.audit.note import Signer
from trainguard.cli import app
from trainguard.demo.run import record_decisions
from trainguard.explain.report import (
    decisions_by,
    decisions_over_time,
    gather,
    report_html,
    write_report,
)
from trainguard.lineage import impact
from trainguard.store import Store

from . import chromium
from .conftest import World

# Anything that would make a browser fetch: a src or href that is not a fragment,
# a CSS url(), a stylesheet link, a script, an import.
_FETCHES = re.compile(
    r"""(\bsrc\s*=|\bhref\s*=\s*["']?(?!#)|url\(|<link\b|<script\b|@import)""", re.I
)


def _signed(store: Store) -> None:
    store.audit.checkpoint(Signer.generate(store.audit.origin()))


def test_the_report_holds_the_logs_decisions_gate_runs_scans_and_models(world: World) -> None:
    store = world.demo.store
    logged = record_decisions(world.demo)
    store.audit.record("scan.run", {"inputs": ["c.jsonl"], "documents": 20, "findings": 3})
    _signed(store)
    facts = gather(store)
    assert len(facts.decisions) == logged
    assert facts.log_size == store.audit.size()
    [run] = facts.gate_runs
    meta = json.loads((world.gate.out_dir / "manifest.json").read_text())
    kept_out: Counter[str] = Counter()
    for c in meta["counts"]:
        if not c["allowed"]:
            kept_out[c["reason"]] += c["records"]
    assert run["_kept_out"] == kept_out
    [scan] = facts.scans
    assert (scan["documents"], scan["findings"]) == (20, 3)
    [model] = facts.models
    [now] = impact(store, world.gate.model)
    assert (model["records"], model["now_denied"]) == (now.records, now.now_denied)
    html = report_html(facts)
    assert html.count("<svg") >= 6  # decisions x3, gate runs, scans, models
    assert "It covers the whole log." in html
    assert _FETCHES.search(html) is None


def test_decisions_are_counted_by_day_or_by_month_and_by_reason() -> None:
    def d(at: str, cats: list[str], use: str, reasons: list[str]) -> dict[str, object]:
        return {"at": at, "record": {"categories": cats}, "use": use, "reasons": reasons}

    week = [
        d("2023-08-09T10:00:00Z", ["customer.chat"], "train.first_party", ["ALLOWED"]),
        d("2023-08-09T11:00:00Z", ["customer.chat"], "train.first_party", ["ALLOWED"]),
        d(
            "2023-08-15T00:00:00Z",
            ["customer.audio", "customer.transcript"],
            "train.first_party",
            ["DENIED_AT_USE", "CONSENT_MISSING"],
        ),
    ]
    assert decisions_over_time(week) == [
        ("2023-08-09", Counter({"ALLOWED": 2})),
        ("2023-08-15", Counter({"DENIED_AT_USE": 1, "CONSENT_MISSING": 1})),
    ]
    year = [*week, d("2024-02-01T00:00:00Z", ["service.usage"], "infer.feature", ["ALLOWED"])]
    assert [period for period, _ in decisions_over_time(year)] == ["2023-08", "2024-02"]
    by_category = dict(decisions_by(week, "category"))
    assert by_category["customer.chat"] == Counter({"ALLOWED": 2})
    assert by_category["customer.transcript"] == Counter({"DENIED_AT_USE": 1, "CONSENT_MISSING": 1})
    assert dict(decisions_by(week, "use")) == {
        "train.first_party": Counter({"ALLOWED": 2, "DENIED_AT_USE": 1, "CONSENT_MISSING": 1})
    }


def test_an_empty_log_says_what_is_missing(store: Store) -> None:
    html = report_html(gather(store))
    assert "No decision is in the log" in html
    assert "No gate run is in the log." in html
    assert "No checkpoint yet" in html


def test_a_model_whose_manifest_is_gone_is_reported_not_fatal(world: World) -> None:
    shutil.rmtree(world.gate.out_dir)
    html = report_html(gather(world.demo.store))
    assert "cannot check: " in html
    assert "manifest folder not readable here" in html


def test_report_command_and_a_folder_that_does_not_exist(world: World, tmp_path: Path) -> None:
    runner = CliRunner()
    db = ["--db", world.demo.store.url.split("///", 1)[1]]
    out = tmp_path / "report.html"
    made = runner.invoke(app, [*db, "report", "--out", str(out)])
    assert made.exit_code == 0, made.stderr
    assert f"wrote {out}:" in made.stdout and out.read_text().startswith("<!DOCTYPE html>")
    bad = runner.invoke(app, [*db, "report", "--out", str(tmp_path / "no" / "r.html")])
    assert bad.exit_code == 2 and bad.stderr.count("\n") == 1 and "cannot write" in bad.stderr


# --- in a browser ---------------------------------------------------------------------------


@pytest.mark.skipif(chromium.CHROMIUM is None, reason=chromium.MISSING)
def test_the_report_renders_in_chromium_at_laptop_size_without_console_messages(
    world: World, tmp_path: Path
) -> None:
    record_decisions(world.demo)
    _signed(world.demo.store)
    page = tmp_path / "report.html"
    write_report(world.demo.store, page)
    shot, console = chromium.render(page, tmp_path)
    assert console == []
    assert chromium.png_size(shot) == (chromium.WIDTH, chromium.HEIGHT)


@pytest.mark.skipif(chromium.CHROMIUM is None, reason=chromium.MISSING)
def test_the_console_check_does_catch_a_page_that_errs(tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><p>x</p><script>console.error('boom'); nope();</script>")
    _, console = chromium.render(page, tmp_path)
    assert any('"boom"' in line for line in console)
    assert any("nope is not defined" in line for line in console)


@pytest.mark.skipif(chromium.CHROMIUM is None, reason=chromium.MISSING)
def test_the_notice_and_the_summary_pages_render_without_console_messages(
    world: World, tmp_path: Path
) -> None:
    from trainguard.explain.notices import build_notice, notice_html
    from trainguard.explain.summary import summary_html, training_summary

    store = world.demo.store
    version = store.policy_set().resolve("meetco-terms@2023-08-11").version
    pages = {
        "notice.html": notice_html(build_notice(version, store.taxonomy(), "participant")),
        "summary.html": summary_html(training_summary(store, world.gate.model)),
    }
    for name, text in pages.items():
        assert _FETCHES.search(text) is None, name
        (tmp_path / name).write_text(text, encoding="utf-8")
        shot, console = chromium.render(tmp_path / name, tmp_path)
        assert console == [], name
        assert chromium.png_size(shot) == (chromium.WIDTH, chromium.HEIGHT)


def test_a_tenants_report_holds_its_decisions_and_its_records_impact_only(
    world: World, tmp_path: Path
) -> None:
    store = world.demo.store
    record_decisions(world.demo)
    whole = gather(store)
    parts = {t: gather(store, t) for t in ("acme", "globex")}
    assert sum(len(p.decisions) for p in parts.values()) == len(whole.decisions)
    for tenant, part in parts.items():
        assert part.decisions and {d["record"]["tenant"] for d in part.decisions} == {tenant}
        assert part.gate_runs == part.scans == [] and part.redacted == 0
        [model] = part.models
        [now] = impact(store, world.gate.model, tenant=tenant)
        assert (model["records"], model["now_denied"]) == (now.records, now.now_denied)
        assert part.entry_kinds["decision"] == len(part.decisions)
    out = tmp_path / "acme.html"
    made = CliRunner().invoke(
        app, ["--db", store.url.split("///", 1)[1], "report", "--out", str(out), "--tenant", "acme"]
    )
    assert made.exit_code == 0, made.stderr
    page = out.read_text()
    assert "Audit report for tenant acme" in page and "globex" not in page
