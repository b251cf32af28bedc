"""What `trainguard demo` prints, step by step (imported when the demo runs)."""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ..audit.note import Signer
from ..demo.run import (
    NOT_YET,
    PERIODS,
    DemoResult,
    ExplainStory,
    build_demo,
    explain_story,
    gate_story,
    scan_story,
    write_demo_report,
)
from ..explain import diff
from ..timeutil import format_instant
from ..verify import verify_proof
from ._app import console


def run_demo(workdir: Path, out: Path, kept: bool) -> None:
    console.rule("trainguard demo: the terms of August 2023")
    result = build_demo(workdir)
    ps = result.store.policy_set()
    console.print("Terms (policy files, each version immutable and known by its hash):")
    for p in ps.families["meetco-terms"]:
        console.print(
            f"  {p.version.version:<24} {p.hash[:12]}  effective {format_instant(p.version.effective_at)}  {p.version.title or ''}"
        )
    # What each new version changed for training, read as decisions read it.
    console.print("What each version changed for training (trainguard policy diff):")
    versions = [p.version for p in ps.families["meetco-terms"]]
    taxonomy = result.store.taxonomy()
    for old, new in itertools.pairwise(versions):
        for change in diff(old, new, taxonomy):
            if "train.first_party" not in change.uses:
                continue
            kinds = ", ".join(change.categories)
            console.print(
                f"  {old.version} -> {new.version}: training on {kinds}: "
                f"was {change.before.says()}; now {change.after.says()}",
                markup=False,
            )
    tenants = ", ".join(f"{t} -> {f}" for t, f in sorted(ps.tenant_families.items()))
    console.print(
        f"Tenants (trainguard tenant assign): {tenants}; no default family, so any other "
        "tenant is denied with UNKNOWN_TENANT."
    )
    console.print("Consent on record:")
    for e in result.consents:
        console.print(
            f"  {format_instant(e.at)}  {e.tenant}: {e.role} {e.subject} {e.kind} {','.join(e.uses)} ({e.mode})"
        )
    console.print(
        f"Records: {result.records.num_rows} synthetic records of tenants acme and globex.\n"
    )

    table = Table(title="How the same kinds of content fare (allowed/total, main reason)")
    for name in ("tenant", "content", "collected"):
        table.add_column(name, no_wrap=True)
    for use, when in result.questions:
        table.add_column(f"{use}\non {when.date()}", no_wrap=True)
    for tenant, kind, label in sorted(result.grid, key=_row_order):
        # globex is there to show missing consent: one kind is enough.
        if tenant == "globex" and kind != "customer.chat":
            continue
        cells = result.grid[(tenant, kind, label)]
        row = [tenant, kind, label]
        for qi in range(len(result.questions)):
            c = cells[qi]
            if c.reasons.get(NOT_YET) == c.total:
                row.append("[dim]not collected yet[/dim]")
                continue
            reason = c.reasons.most_common(1)[0][0] if c.reasons else ""
            color = "green" if c.allowed == c.total else ("red" if c.allowed == 0 else "yellow")
            row.append(f"[{color}]{c.allowed}/{c.total}[/{color}] {reason}")
        table.add_row(*row)
    wide = Console(highlight=False, width=max(console.width, 170))
    wide.print(table)
    model = _gate(result)
    _scan(result.workdir, result)
    explained = _explain(result, model, out)
    signer = Signer.generate(result.store.audit.origin())
    note = result.store.audit.checkpoint(signer)
    report = write_demo_report(result, out)
    where = "" if kept else " (a temporary folder, removed at exit: pass --out DIR to keep them)"
    console.print(f"Written to {out}{where}:", markup=False)
    for what, path in [*explained.files.items(), ("audit report (HTML)", report)]:
        console.print(f"  {what:<24} {path.name}", markup=False)
    verified = result.store.audit.verify(signer.verifier)
    proof = result.store.audit.inclusion_proof(0)
    shown = verify_proof(signer.verifier, note, proof)
    console.print(
        f"\nAudit log: {verified.size} entries (policies, tenants, consent, decisions, the gate run, "
        "the model, the scan, the notice), checkpoint signed; "
        f"verify: {'OK' if verified.ok else verified.problem}; offline proof: {shown}.",
        markup=False,
    )
    console.print(
        "Read it as the design's worked timeline: chat collected in spring trains on 2023-08-09 with "
        "acme's implied admin consent, is DENIED_AT_USE from 2023-08-11, and the hypothetical 2024 "
        "terms never reach what was collected under the 2023-08-11 terms (DENIED_AT_COLLECTION)."
    )


def _row_order(key: tuple[str, str, str]) -> tuple[str, str, int]:
    tenant, kind, label = key
    return (tenant, kind, [p[0] for p in PERIODS].index(label))


def _gate(result: DemoResult) -> str:
    story = gate_story(result)
    console.rule("The gate: a training set built on 2023-08-09")
    console.print(
        f"{story.records} candidate records -> {story.admitted} admitted, "
        f"{story.records - story.admitted} kept out; manifest in {story.out_dir.name}/",
        markup=False,
    )
    table = Table("category", "allowed", "reason", "records")
    for c in story.counts:
        table.add_row(str(c["category"]), str(c["allowed"]), str(c["reason"]), str(c["records"]))
    console.print(table)
    w = story.withdrawal
    console.print(
        f"Model {story.model!r} registered as trained on it. Then, {format_instant(w.at)}: "
        f"{w.tenant}'s admin withdraws consent to training. Impact:",
        markup=False,
    )
    for e in story.impact:
        console.print(
            f"  {e['model']}: {e['now_denied']} of {e['records']} training records would now be "
            f"denied {e['by_reason']} (e.g. {', '.join(map(str, e['first_ids']))})",
            markup=False,
        )
    return story.model


def _scan(workdir: Path, result: DemoResult) -> None:
    story = scan_story(workdir, result.store)
    console.rule("The scanner: customer content that slipped into a public corpus")
    console.print(
        f"Registered {story.registered} meetings ({story.source}) as keyed fingerprints; "
        f"scanned {story.documents} documents, 3 with planted content.",
        markup=False,
    )
    table = Table("document", "what was done", "found", "kind", "items", "coverage")
    by_doc = {f["doc_id"]: f for f in story.findings}
    for doc_id, what in story.planted.items():
        f = by_doc.get(doc_id)
        spans = f["spans"] if f else []
        table.add_row(
            doc_id,
            what,
            "[green]yes[/green]" if f else "[red]no[/red]",
            ", ".join(sorted({s["kind"] for s in spans})),
            ", ".join(sorted({i for s in spans for i in s["items"]})),
            f"{f['coverage']:.0%}" if f else "",
        )
    Console(highlight=False, width=max(console.width, 130)).print(table)
    others = [str(f["doc_id"]) for f in story.findings if f["doc_id"] not in story.planted]
    listed = f" ({', '.join(others[:5])})" if others else ""
    console.print(
        f"Other documents with findings: {len(others)}{listed}. The registry holds no text: "
        "only fingerprints keyed (SipHash) under keys kept apart.",
        markup=False,
    )


def _explain(result: DemoResult, model: str, out: Path) -> ExplainStory:
    story = explain_story(result, model, out)
    console.rule("Explaining it: a notice, what changed, a public summary, a report")
    console.print(
        f"{story.decisions:,} decisions on record in the audit log (the questions above). "
        f"Notice {story.notice_id} of the 2023-08-11 terms served to and acknowledged by "
        "acme/user-3 (neither is consent).",
        markup=False,
    )
    console.print("Every change between versions, classified (trainguard policy diff):")
    for old, new, changes in story.diffs:
        kinds = Counter(c.kind for c in changes)
        counted = ", ".join(
            f"{n} {k.replace('_', ' ')}{'s' if n > 1 else ''}" for k, n in sorted(kinds.items())
        )
        console.print(f"  {old} -> {new}: {counted}", markup=False)
        for c in changes:
            if c.kind == "expansion":
                console.print(f"    expansion: {c.consequence}", markup=False)
    return story
