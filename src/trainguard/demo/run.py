"""The demo: the 2023 timeline, consent, synthetic records, and what each may be used for.

Runs on a temporary SQLite store. The library part builds the scene and
returns plain data; the CLI renders it.
"""

from __future__ import annotations

import random
import shutil
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..decision.batch import decide_batch
from ..decision.consent import ConsentEvent
from ..decision.policy import load_policy_file
from ..store import Store

TIMELINE_FILES = ("v1-2023-03-31.yaml", "v2-2023-08-07.yaml", "v3-2023-08-11.yaml")
HYPOTHETICAL_FILE = "v4-hypothetical.yaml"

PERIODS = (
    ("before 2023-08-07", datetime(2023, 4, 1, tzinfo=UTC), datetime(2023, 8, 6, tzinfo=UTC)),
    ("2023-08-07 .. 08-08", datetime(2023, 8, 7, tzinfo=UTC), datetime(2023, 8, 8, 23, tzinfo=UTC)),
    (
        "2023-08-11 .. 08-14",
        datetime(2023, 8, 11, tzinfo=UTC),
        datetime(2023, 8, 14, 23, tzinfo=UTC),
    ),
)
CATEGORIES = ("customer.chat", "customer.audio", "customer.whiteboard", "service.telemetry")
NOT_YET = "NOT_YET_COLLECTED"
QUESTIONS = (
    ("train.first_party", datetime(2023, 8, 9, tzinfo=UTC)),
    ("train.first_party", datetime(2023, 8, 15, tzinfo=UTC)),
    ("infer.feature", datetime(2023, 8, 15, tzinfo=UTC)),
    ("train.first_party", datetime(2024, 2, 1, tzinfo=UTC)),
)


def copy_policy_files(
    dest: Path, names: tuple[str, ...] = (*TIMELINE_FILES, HYPOTHETICAL_FILE)
) -> list[Path]:
    src = resources.files("trainguard.demo") / "policies"
    out = []
    for name in names:
        target = dest / name
        with resources.as_file(src / name) as p:
            shutil.copyfile(p, target)
        out.append(target)
    return out


def synthetic_records(n: int = 300, seed: int = 7) -> pa.Table:
    """Records across tenants, categories and collection dates; one in five is a
    transcript derived from audio, so it inherits customer.audio."""
    rng = random.Random(seed)
    rows: dict[str, list[object]] = defaultdict(list)
    for i in range(n):
        label, lo, hi = PERIODS[i % len(PERIODS)]
        cat = CATEGORIES[(i // len(PERIODS)) % len(CATEGORIES)]
        when = lo + timedelta(seconds=rng.randrange(int((hi - lo).total_seconds())))
        derived = cat == "customer.audio" and rng.random() < 0.2
        rows["id"].append(f"rec-{i:04d}")
        rows["tenant"].append("acme" if i % 5 else "globex")
        rows["categories"].append(["customer.transcript"] if derived else [cat])
        rows["derived_categories"].append(["customer.audio"] if derived else [])
        rows["collected_at"].append(when)
        rows["subjects"].append([f"user-{rng.randrange(40)}" for _ in range(rng.randrange(1, 4))])
        rows["period"].append(label)
    return pa.table(
        {
            "id": pa.array(rows["id"], pa.string()),
            "tenant": pa.array(rows["tenant"], pa.string()),
            "categories": pa.array(rows["categories"], pa.list_(pa.string())),
            "derived_categories": pa.array(rows["derived_categories"], pa.list_(pa.string())),
            "collected_at": pa.array(rows["collected_at"], pa.timestamp("us", tz="UTC")),
            "subjects": pa.array(rows["subjects"], pa.list_(pa.string())),
            "period": pa.array(rows["period"], pa.string()),
        }
    )


@dataclass
class Cell:
    allowed: int = 0
    total: int = 0
    reasons: Counter[str] = field(default_factory=Counter)


@dataclass
class DemoResult:
    store: Store
    workdir: Path
    records: pa.Table
    questions: list[tuple[str, datetime]]
    # (tenant, kind, period) -> question index -> cell
    grid: dict[tuple[str, str, str], dict[int, Cell]]
    consents: list[ConsentEvent]


DEMO_TENANTS = ("acme", "globex")


def build_demo(workdir: Path) -> DemoResult:
    store = Store(str(workdir / "demo.db"))
    store.init()
    files = copy_policy_files(workdir)
    store.add_policies([(load_policy_file(f), str(f)) for f in files])
    # Both customers are under the platform's terms, by name: a tenant under no
    # terms would be denied everything (UNKNOWN_TENANT), and no default is set.
    for tenant in DEMO_TENANTS:
        store.assign_tenant(tenant, "meetco-terms")
    ps = store.policy_set()
    v2 = ps.resolve("meetco-terms@2023-08-07").hash
    v3 = ps.resolve("meetco-terms@2023-08-11").hash
    consents = [
        # acme's admin turned on an AI feature under v2: implied consent to training.
        ConsentEvent(
            tenant="acme",
            kind="grant",
            subject="admin-acme",
            role="account_admin",
            categories=("customer.*",),
            uses=("train.*", "infer.feature"),
            mode="implied",
            policy_version=v2,
            at=datetime(2023, 8, 8, 9, tzinfo=UTC),
        ),
        # Under v3 acme's admin enabled meeting summaries.
        ConsentEvent(
            tenant="acme",
            kind="grant",
            subject="admin-acme",
            role="account_admin",
            categories=("customer.*",),
            uses=("infer.feature",),
            mode="implied",
            policy_version=v3,
            at=datetime(2023, 8, 12, 9, tzinfo=UTC),
        ),
    ]
    store.add_consent_events(consents)
    records = synthetic_records()
    ctx = store.context()
    grid: dict[tuple[str, str, str], dict[int, Cell]] = defaultdict(lambda: defaultdict(Cell))
    kinds = [
        "customer.transcript (from audio)" if d else c[0]
        for c, d in zip(
            records.column("categories").to_pylist(),
            records.column("derived_categories").to_pylist(),
            strict=True,
        )
    ]
    periods = records.column("period").to_pylist()
    tenants = records.column("tenant").to_pylist()
    for qi, (use, when) in enumerate(QUESTIONS):
        out = decide_batch(ctx, records, use, when)
        for tenant, kind, period, allowed, reasons in zip(
            tenants,
            kinds,
            periods,
            out.column("allowed").to_pylist(),
            out.column("reasons").to_pylist(),
            strict=True,
        ):
            if reasons == ["INVALID_TIME"]:
                # Content collected after the question's date: not a decision to show.
                reasons = [NOT_YET]
            cell = grid[(tenant, kind, period)][qi]
            cell.total += 1
            cell.allowed += bool(allowed)
            cell.reasons.update(reasons)
    return DemoResult(store, workdir, records, list(QUESTIONS), grid, consents)


# --- the gate, a model, a withdrawal -----------------------------------------------------


@dataclass
class GateStory:
    out_dir: Path
    records: int
    admitted: int
    counts: list[dict[str, object]]
    model: str
    withdrawal: ConsentEvent
    impact: list[dict[str, Any]]


def gate_dataset(path: Path, seed: int = 11) -> Path:
    """A mixed training set: audio, transcripts derived from it, chat, telemetry; two tenants."""
    import pyarrow.parquet as pq

    rng = random.Random(seed)
    rows: dict[str, list[object]] = defaultdict(list)
    start = datetime(2023, 5, 1, tzinfo=UTC)
    last_audio: dict[str, str] = {}
    for i in range(240):
        tenant = "acme" if i % 3 else "globex"
        kind = ("customer.audio", "customer.transcript", "customer.chat", "service.telemetry")[
            i % 4
        ]
        if kind == "customer.audio":
            last_audio[tenant] = f"r{i:04d}"
        rows["id"].append(f"r{i:04d}")
        rows["tenant"].append(tenant)
        rows["category"].append(kind)
        rows["collected_at"].append(start + timedelta(hours=rng.randrange(24 * 90)))
        rows["subjects"].append([f"user-{rng.randrange(30)}"])
        # A transcript is derived from its tenant's audio recorded last before it
        # (derived_from names records of the record's own tenant).
        source = last_audio.get(tenant) if kind == "customer.transcript" else None
        rows["derived_from"].append([source] if source else [])
        rows["text"].append(f"record {i} of {tenant}: {kind} content")
    pq.write_table(pa.table(rows), path)
    return path


def gate_story(result: DemoResult) -> GateStory:
    from ..gate import run_gate
    from ..lineage import impact, register_model

    store, workdir = result.store, result.workdir
    source = gate_dataset(workdir / "training-candidates.parquet")
    trained_at = datetime(2023, 8, 9, tzinfo=UTC)
    out = workdir / "training-set-2023-08-09"
    gated = run_gate(store, [str(source)], "train.first_party", out, at=trained_at)
    register_model(store, "assistant-2023-08", [out], trained_at)
    v2 = store.policy_set().resolve("meetco-terms@2023-08-07").hash
    withdrawal = ConsentEvent(
        tenant="acme",
        kind="withdraw",
        subject="admin-acme",
        role="account_admin",
        categories=("customer.*",),
        uses=("train.*",),
        policy_version=v2,
        at=datetime(2023, 8, 10, 8, tzinfo=UTC),
    )
    store.add_consent_events([withdrawal])
    effects = impact(store, at=datetime(2023, 8, 10, 12, tzinfo=UTC))
    return GateStory(
        out,
        gated.records,
        gated.admitted,
        list(gated.manifest["counts"]),
        "assistant-2023-08",
        withdrawal,
        [e.to_json(with_ids=False) | {"first_ids": e.record_ids[:3]} for e in effects],
    )


# --- the scanner ---------------------------------------------------------------------------


@dataclass
class ScanStory:
    source: str
    registered: int
    documents: int
    planted: dict[str, str]  # doc id -> what was done
    findings: list[dict[str, Any]]
    mb_per_s: float


def _meetings() -> tuple[str, dict[str, str]]:
    """The real meeting transcripts shipped with the package."""
    from ..scan import transcript_text
    from .sample_data import demo_meetings

    rows = demo_meetings()
    source = f"{len(rows)} real meetings of the QMSum training split"
    return source, {r["meeting_id"]: transcript_text(r["turns"]) for r in rows}


def scan_story(workdir: Path, store: Store | None = None) -> ScanStory:
    """Register meetings, plant pieces of them in a corpus, scan it; with a store, the
    scan goes into its audit log as `trainguard scan` records one."""
    import hashlib
    import json

    from ..scan import KeyRing, Registry, ScanOptions, scan_corpus, tokenize
    from ..scan.corpus import Fields

    source, meetings = _meetings()
    ids = sorted(meetings)
    registered, others = ids[::2], ids[1::2]
    registry = Registry(workdir / "registry", KeyRing(workdir / "keys"))
    registry.add("acme", [(m, meetings[m], "customer.transcript") for m in registered])

    def piece(item: str, at: int, words: int) -> str:
        t = tokenize(meetings[item])
        at = min(at, len(t) - words - 1)
        return meetings[item][int(t.starts[at]) : int(t.ends[at + words - 1])]

    pasted = piece(registered[0], 400, 40)
    relabeled = "\n".join(
        f"[00:0{i}:10] Speaker {i}: {line.upper()}"
        for i, line in enumerate(piece(registered[1], 900, 42).split(". "))
    )
    edited = " ".join(
        "indeed" if k % 10 == 4 else w
        for k, w in enumerate(piece(registered[2], 1500, 160).split())
    )
    planted = {
        "blog-post-17": "pasted 40 words verbatim into a blog post",
        "support-dump-3": "upper-cased, re-wrapped, with speaker labels and timestamps",
        "forum-thread-9": "about 160 words with one word in ten replaced",
    }
    docs = [{"id": f"public-{m}", "text": meetings[m]} for m in others]
    docs += [
        {
            "id": "blog-post-17",
            "text": "We tried the new remote today. " + pasted + " Overall, fine.",
        },
        {"id": "support-dump-3", "text": "ticket 3 attachment:\n" + relabeled},
        {"id": "forum-thread-9", "text": "Someone posted this: " + edited},
    ]
    corpus = workdir / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    findings_path = workdir / "findings.jsonl"
    options = ScanOptions(str(registry.path), str(registry.keys.path), fields=Fields())
    summary = scan_corpus([str(corpus)], options, findings_path)
    findings = [json.loads(line) for line in findings_path.read_text(encoding="utf-8").splitlines()]
    if store is not None:
        store.audit.record(
            "scan.run",
            {
                "inputs": [str(corpus)],
                "registry": str(registry.path.resolve()),
                "documents": summary.documents,
                "bytes": summary.bytes,
                "findings": summary.findings,
                "malformed": summary.malformed,
                "findings_sha256": hashlib.sha256(findings_path.read_bytes()).hexdigest(),
            },
        )
    return ScanStory(
        source, len(registered), summary.documents, planted, findings, summary.mb_per_s
    )


# --- explaining it: decisions on record, a notice, diffs, a summary, a report ---------------


def record_decisions(result: DemoResult) -> int:
    """Put the demo's questions into the audit log as decisions, one entry a record and
    question, as `trainguard decide` does (content not yet collected at the question's
    date is left out). Returns how many were recorded."""
    from ..decision.decide import Record, decide

    ctx = result.store.context()
    entries: list[tuple[str, dict[str, Any]]] = []
    rows = result.records.to_pylist()
    for use, when in result.questions:
        for r in rows:
            if r["collected_at"] > when:
                continue
            record = Record(
                r["id"],
                r["tenant"],
                tuple(r["categories"] + r["derived_categories"]),
                r["collected_at"],
                tuple(r["subjects"]),
            )
            entries.append(("decision", decide(ctx, record, use, when).to_json()))
    result.store.audit.record_many(entries)
    return len(entries)


@dataclass
class ExplainStory:
    decisions: int
    notice_id: str
    files: dict[str, Path]  # what -> where
    diffs: list[tuple[str, str, list[Any]]]  # (old version, new version, changes)


NOTICE_VERSION = "meetco-terms@2023-08-11"
NOTICE_READER = ("acme", "user-3")


def explain_story(result: DemoResult, model: str, out: Path) -> ExplainStory:
    """Decisions into the log; the 2023-08-11 notice shown to and acknowledged by one
    participant; the diffs of the timeline; the model's public training summary. The
    report is written last (:func:`write_demo_report`), after the log is signed."""
    import itertools
    import json

    from ..explain import diff, diff_lines
    from ..explain.notice_events import record_notice_event
    from ..explain.notices import build_notice, notice_html, notice_text
    from ..explain.summary import summary_html, training_summary

    store = result.store
    out.mkdir(parents=True, exist_ok=True)
    decisions = record_decisions(result)
    taxonomy = store.taxonomy()
    version = store.policy_set().resolve(NOTICE_VERSION).version
    notice = build_notice(version, taxonomy, "participant")
    files = {
        "notice (text)": out / "notice-2023-08-11-participant.txt",
        "notice (HTML)": out / "notice-2023-08-11-participant.html",
        "policy diffs": out / "policy-diffs.txt",
        "training summary (JSON)": out / f"training-summary-{model}.json",
        "training summary (HTML)": out / f"training-summary-{model}.html",
    }
    files["notice (text)"].write_text(notice_text(notice), encoding="utf-8")
    files["notice (HTML)"].write_text(notice_html(notice), encoding="utf-8")
    tenant, subject = NOTICE_READER
    record_notice_event(
        store, notice.id, "served", tenant, subject, datetime(2023, 8, 12, 9, tzinfo=UTC)
    )
    record_notice_event(
        store, notice.id, "acknowledged", tenant, subject, datetime(2023, 8, 12, 9, 5, tzinfo=UTC)
    )
    versions = [p.version for p in store.policy_set().families["meetco-terms"]]
    diffs, text = [], []
    for old, new in itertools.pairwise(versions):
        changes = diff(old, new, taxonomy)
        diffs.append((old.version, new.version, changes))
        text += [*diff_lines(old, new, changes, taxonomy), ""]
    files["policy diffs"].write_text("\n".join(text), encoding="utf-8")
    summary = training_summary(store, model, provider="MeetCo (demo)")
    files["training summary (JSON)"].write_text(
        json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    files["training summary (HTML)"].write_text(summary_html(summary), encoding="utf-8")
    return ExplainStory(decisions, notice.id, files, diffs)


def write_demo_report(result: DemoResult, out: Path) -> Path:
    from ..explain.report import write_report

    path = out / "audit-report.html"
    write_report(result.store, path)
    return path
