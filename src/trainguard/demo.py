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

import pyarrow as pa

from .batch import decide_batch
from .consent import ConsentEvent
from .policy import load_policy_file
from .store import Store

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
    src = resources.files("trainguard") / "demo_policies"
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


def build_demo(workdir: Path) -> DemoResult:
    store = Store(str(workdir / "demo.db"))
    store.init()
    files = copy_policy_files(workdir)
    store.add_policies([(load_policy_file(f), str(f)) for f in files])
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
