"""A report for an auditor: one self-contained HTML file, read from the audit log.

What it shows, and where each part comes from:

- decisions over time, by category and by reason: the log's ``decision`` entries;
- gate runs and what they kept out: ``gate.run`` entries, with the reasons counted
  in each run's ``manifest.json`` when the folder is still there;
- scans and their findings: ``scan.run`` entries;
- models and whether records they were trained on would now be denied:
  :func:`..lineage.impact`, now;
- the latest signed checkpoint, and how much of the log it covers.

A tenant's report (``gather(store, tenant)``) holds only what is about that
tenant: its decisions, the models' impact on its records, the kinds of the
entries that name it. Gate runs and scans are the platform's (their counts mix
every tenant's records) and are left out, as are erased entries (an erased
body no longer says whose it was).

Styles and charts are inline (SVG, no script), so the file opens offline.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ..audit.about import data_tenant
from ..audit.note import parse_body
from ..errors import InputError, TrainguardError
from ..lineage import impact, list_models
from ..store import schema as t
from ..timeutil import format_instant, now_utc, parse_instant
from . import charts
from .summary import reason_text

if TYPE_CHECKING:
    from ..store import Store

_KINDS = ("decision", "gate.run", "scan.run")
# Decisions spread over more days than this are shown by month.
_DAYS_SHOWN_BY_DAY = 62


@dataclass
class AuditFacts:
    """What the report shows, gathered from the store in one pass over the log."""

    log_size: int = 0
    origin: str = ""
    redacted: int = 0
    entry_kinds: Counter[str] = field(default_factory=Counter)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    gate_runs: list[dict[str, Any]] = field(default_factory=list)
    scans: list[dict[str, Any]] = field(default_factory=list)
    models: list[dict[str, Any]] = field(default_factory=list)
    checkpoint: str | None = None
    generated_at: datetime = field(default_factory=now_utc)
    tenant: str | None = None  # a tenant's report: only what is about this tenant


def gather(store: Store, tenant: str | None = None) -> AuditFacts:
    facts = AuditFacts(log_size=store.audit.size(), origin=store.audit.origin(), tenant=tenant)
    lists = {"decision": facts.decisions, "gate.run": facts.gate_runs, "scan.run": facts.scans}
    entries = select(t.audit_entries.c.idx, t.audit_entries.c.kind, t.audit_entries.c.body)
    with store.read() as conn:
        if tenant is None:
            kinds = conn.execute(select(t.audit_entries.c.kind, t.audit_entries.c.body.is_(None)))
            for kind, redacted in kinds:
                facts.entry_kinds[kind] += 1
                facts.redacted += bool(redacted)
            wanted = entries.where(t.audit_entries.c.kind.in_(_KINDS))
        else:
            # Whose an entry is, only its data says: every body is read, once.
            wanted = entries
            lists = {"decision": facts.decisions}
        rows = conn.execute(
            wanted.where(t.audit_entries.c.body.is_not(None)).order_by(t.audit_entries.c.idx)
        )
        for idx, kind, body in rows:
            entry = json.loads(bytes(body))
            if tenant is not None:
                if data_tenant(entry.get("data")) != tenant:
                    continue
                facts.entry_kinds[kind] += 1
            if kind in lists:
                lists[kind].append({**entry["data"], "_index": idx, "_logged_at": entry["at"]})
    for run in facts.gate_runs:
        run["_kept_out"] = _kept_out_reasons(run.get("out"))
    facts.models = _models(store, tenant)
    facts.checkpoint = store.audit.latest_checkpoint()
    return facts


def _kept_out_reasons(out: str | None) -> dict[str, int] | None:
    """Records kept out by reason, from the run's manifest.json (None: not readable)."""
    if not out:
        return None
    try:
        meta = json.loads((Path(out) / "manifest.json").read_text(encoding="utf-8"))
        counts: Counter[str] = Counter()
        for c in meta["counts"]:
            if not c["allowed"]:
                counts[str(c["reason"])] += int(c["records"])
        return dict(counts)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _models(store: Store, tenant: str | None) -> list[dict[str, Any]]:
    out = []
    for model in list_models(store):
        row: dict[str, Any] = {"name": model.name, "trained_at": model.trained_at}
        try:
            [result] = impact(store, model.name, tenant=tenant)
            row |= {
                "records": result.records,
                "now_denied": result.now_denied,
                "by_reason": dict(result.by_reason),
            }
        except TrainguardError as exc:
            row["problem"] = str(exc)
        out.append(row)
    return out


# --- aggregation ------------------------------------------------------------------------


def decisions_over_time(decisions: list[dict[str, Any]]) -> list[charts.Row]:
    """Decisions by the time they were made for (by day, or by month over a long span)
    and reason; a decision with two reasons counts under both."""
    times = [parse_instant(d["at"], "decision at") for d in decisions]
    if not times:
        return []
    by_day = (max(times) - min(times)).days <= _DAYS_SHOWN_BY_DAY
    rows: dict[str, Counter[str]] = defaultdict(Counter)
    for when, d in zip(times, decisions, strict=True):
        period = when.strftime("%Y-%m-%d" if by_day else "%Y-%m")
        rows[period].update(d["reasons"])
    return sorted(rows.items())


def decisions_by(decisions: list[dict[str, Any]], key: str) -> list[charts.Row]:
    """Decisions by category (each of a record's categories) or by use, and reason."""
    rows: dict[str, Counter[str]] = defaultdict(Counter)
    for d in decisions:
        labels = d["record"]["categories"] if key == "category" else [d["use"]]
        for label in labels:
            rows[label].update(d["reasons"])
    return sorted(rows.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))


# --- HTML -------------------------------------------------------------------------------


def report_html(facts: AuditFacts) -> str:
    e = escape
    allowed = sum(d["allowed"] for d in facts.decisions)
    affected = [m for m in facts.models if m.get("now_denied")]
    tiles = [
        ("log entries", f"{facts.log_size:,}"),
        ("decisions", f"{len(facts.decisions):,}"),
        ("denied", f"{len(facts.decisions) - allowed:,}"),
        ("gate runs", f"{len(facts.gate_runs):,}"),
        ("scans", f"{len(facts.scans):,}"),
        ("models affected", f"{len(affected)} of {len(facts.models)}"),
    ]
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>trainguard audit report: {e(facts.origin)}</title>",
        f"<style>{_CSS}</style></head><body><main>",
        "<h1>Audit report</h1>"
        if facts.tenant is None
        else f"<h1>Audit report for tenant {e(facts.tenant)}</h1>",
        *(
            []
            if facts.tenant is None
            else [
                '<p class="meta">Only what is about this tenant: its decisions, the models\' '
                "impact on its records, the entries that name it. Gate runs and scans are the "
                "platform's and are left out.</p>"
            ]
        ),
        f'<p class="meta">Log <code>{e(facts.origin)}</code>, {facts.log_size:,} entries'
        f"{f', {facts.redacted:,} erased (leaf hashes kept)' if facts.redacted else ''}. "
        f"Generated {e(format_instant(facts.generated_at))} by <code>trainguard report</code>.</p>",
        '<div class="tiles">',
        *(f'<div class="tile"><b>{e(v)}</b><span>{e(k)}</span></div>' for k, v in tiles),
        "</div>",
        _decisions_section(facts),
        _gate_section(facts),
        _scan_section(facts),
        _model_section(facts),
        _checkpoint_section(facts),
        _kinds_section(facts),
        "</main></body></html>",
    ]
    return "\n".join(out) + "\n"


def _decisions_section(facts: AuditFacts) -> str:
    parts = ["<section><h2>Decisions</h2>"]
    if not facts.decisions:
        parts.append(
            "<p>No decision is in the log (decisions asked for with <code>trainguard decide"
            "</code> or over HTTP are logged; gate runs log their manifests instead).</p>"
        )
        return "".join(parts) + "</section>"
    parts += [
        "<p>By the time each decision was made for, and reason (a decision with two "
        "reasons counts under both).</p>",
        charts.columns(decisions_over_time(facts.decisions), "Decisions over time by reason"),
        "<h3>By category</h3>",
        charts.hbars(decisions_by(facts.decisions, "category"), "Decisions by category"),
        "<h3>By use</h3>",
        charts.hbars(decisions_by(facts.decisions, "use"), "Decisions by use"),
        _reason_legend(facts.decisions),
        "</section>",
    ]
    return "".join(parts)


def _reason_legend(decisions: list[dict[str, Any]]) -> str:
    reasons = Counter(r for d in decisions for r in d["reasons"])
    rows = [(f"{r}", reason_text(r), f"{n:,}") for r, n in reasons.most_common()]
    return _table(("reason", "means", "decisions"), rows)


def _gate_section(facts: AuditFacts) -> str:
    parts = ["<section><h2>Gate runs</h2>"]
    if facts.tenant is not None:
        return parts[0] + "<p>The platform's; not part of a tenant's report.</p></section>"
    if not facts.gate_runs:
        return parts[0] + "<p>No gate run is in the log.</p></section>"
    bars: list[charts.Row] = []
    rows = []
    for run in facts.gate_runs:
        label = f"#{run['_index']} {run['use']} {run['at'][:10]}"
        kept = run["records"] - run["admitted"]
        reasons = run["_kept_out"]
        if reasons is None:
            bars.append((label, {"admitted": run["admitted"], "kept out": kept}))
            why = "manifest folder not readable here"
        else:
            bars.append((label, {"admitted": run["admitted"], **reasons}))
            why = ", ".join(f"{r} {n:,}" for r, n in sorted(reasons.items())) or "-"
        rows.append(
            (
                str(run["_index"]),
                run["use"],
                run["at"],
                f"{run['records']:,}",
                f"{run['admitted']:,}",
                f"{kept:,}",
                why,
                run["root"][:16],
            )
        )
    parts += [
        "<p>Records admitted and kept out per run, kept-out records by reason as counted "
        "in the run's manifest (a record kept out for two reasons counts under both).</p>",
        charts.hbars(bars, "Gate runs: admitted and kept out"),
        _table(
            ("entry", "use", "at", "records", "admitted", "kept out", "why", "manifest root"),
            rows,
        ),
        "</section>",
    ]
    return "".join(parts)


def _scan_section(facts: AuditFacts) -> str:
    head = "<section><h2>Scans for registered customer content</h2>"
    if facts.tenant is not None:
        return head + "<p>The platform's; not part of a tenant's report.</p></section>"
    if not facts.scans:
        return head + "<p>No scan is in the log.</p></section>"
    bars: list[charts.Row] = []
    rows = []
    for s in facts.scans:
        label = f"#{s['_index']} {s['_logged_at'][:10]}"
        docs, found = int(s.get("documents", 0)), int(s.get("findings", 0))
        bars.append((label, {"documents with findings": found, "clean": max(docs - found, 0)}))
        rows.append(
            (
                str(s["_index"]),
                s["_logged_at"],
                ", ".join(map(str, s.get("inputs", []))),
                f"{docs:,}",
                f"{found:,}",
            )
        )
    return "".join(
        [
            head,
            charts.hbars(bars, "Scans: documents with findings"),
            _table(("entry", "logged", "inputs", "documents", "with findings"), rows),
            "</section>",
        ]
    )


def _model_section(facts: AuditFacts) -> str:
    head = "<section><h2>Models and impact</h2>"
    if not facts.models:
        return head + "<p>No model is registered.</p></section>"
    bars: list[charts.Row] = []
    rows = []
    for m in facts.models:
        if "problem" in m:
            rows.append((m["name"], "-", "-", "cannot check: " + m["problem"]))
            continue
        bars.append(
            (m["name"], {"still allowed": m["records"] - m["now_denied"], **m["by_reason"]})
        )
        status = "affected" if m["now_denied"] else "not affected"
        reasons = ", ".join(f"{r} {n:,}" for r, n in sorted(m["by_reason"].items()))
        rows.append(
            (
                m["name"],
                f"{m['records']:,}",
                f"{m['now_denied']:,}",
                status + (f" ({reasons})" if reasons else ""),
            )
        )
    return "".join(
        [
            head,
            "<p>Every record each model was trained on, decided again now: records that "
            "would now be denied, by reason.</p>",
            charts.hbars(bars, "Models: training records that would now be denied"),
            _table(("model", "trained on", "now denied", "status"), rows),
            "</section>",
        ]
    )


def _checkpoint_section(facts: AuditFacts) -> str:
    head = "<section><h2>Latest signed checkpoint</h2>"
    if facts.checkpoint is None:
        return head + (
            "<p>No checkpoint yet: <code>trainguard audit checkpoint</code> signs one.</p></section>"
        )
    body = parse_body(facts.checkpoint.split("\n\n", 1)[0] + "\n")
    behind = facts.log_size - body.size
    cover = (
        "covers the whole log"
        if behind == 0
        else f"covers the first {body.size:,} entries; {behind:,} were added since"
    )
    return (
        f"{head}<p>It {escape(cover)}. Anyone holding the public key can check it, and "
        "proofs against it, without trusting this store.</p>"
        f"<pre>{escape(facts.checkpoint)}</pre></section>"
    )


def _kinds_section(facts: AuditFacts) -> str:
    rows = [(k, f"{n:,}") for k, n in sorted(facts.entry_kinds.items())]
    return f"<section><h2>Log entries by kind</h2>{_table(('kind', 'entries'), rows)}</section>"


def _table(head: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    e = escape
    out = ["<table><tr>", *(f"<th>{e(h)}</th>" for h in head), "</tr>"]
    for r in rows:
        out += ["<tr>", *(f"<td>{e(c)}</td>" for c in r), "</tr>"]
    out.append("</table>")
    return "".join(out)


_CSS = (
    "body{font:15px/1.45 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}"
    "main{max-width:72rem;margin:1.5rem auto;padding:0 1rem}"
    "h1{margin:.2rem 0}h2{margin:0 0 .4rem}.meta{color:#4a5263;font-size:.9rem}"
    "section{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:1rem 1.2rem;"
    "margin:1rem 0;overflow-x:auto}"
    ".tiles{display:flex;flex-wrap:wrap;gap:.7rem;margin:1rem 0}"
    ".tile{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:.6rem 1rem;"
    "min-width:8rem}.tile b{display:block;font-size:1.5rem}.tile span{color:#4a5263}"
    "table{border-collapse:collapse;margin:.6rem 0;font-size:.9rem}"
    "td,th{border:1px solid #dde1e8;padding:.25rem .6rem;text-align:left;vertical-align:top}"
    "th{background:#eef1f5}pre{background:#f0f2f5;padding:.6rem;overflow-x:auto}"
    "svg.chart{max-width:900px;display:block;margin:.4rem 0}"
    "svg .lbl{font:12px system-ui,sans-serif;fill:#1d2330}"
    "svg .num{font:11px system-ui,sans-serif;fill:#4a5263}svg .axis{stroke:#9aa3b2}"
)


def write_report(store: Store, out: Path, tenant: str | None = None) -> AuditFacts:
    """Gather the facts (``tenant``'s only, when given) and write the report to ``out``."""
    facts = gather(store, tenant)
    text = report_html(facts)
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"--out {out}: cannot write ({exc.strerror})") from None
    return facts
