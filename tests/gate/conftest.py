"""A small training set on the design's timeline, as Parquet, JSONL and CSV."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from trainguard.decision.consent import ConsentEvent
from trainguard.decision.policy import load_policy_file
from trainguard.store import Store
from trainguard.timeutil import parse_instant

AUG_9 = parse_instant("2023-08-09T00:00:00Z", "test")
AUG_10 = parse_instant("2023-08-10T00:00:00Z", "test")
AUG_15 = parse_instant("2023-08-15T00:00:00Z", "test")


def t(s: str) -> datetime:
    return parse_instant(s, "test")


def records() -> pa.Table:
    """Chat and audio from May, telemetry, a summary derived from the chat, and
    a usage report derived from telemetry."""
    return pa.table(
        {
            "id": ["chat-1", "audio-1", "tele-1", "summary-1", "usage-1"],
            "tenant": ["acme"] * 5,
            "category": [
                "customer.chat",
                "customer.audio",
                "service.telemetry",
                "customer.ai_output",
                "service.usage",
            ],
            "collected_at": ["2023-05-01T09:00:00Z"] * 5,
            "subjects": [["bob", "carol"], ["bob"], [], ["bob"], []],
            "derived_from": [[], [], [], ["chat-1"], ["tele-1"]],
            "text": ["hi carol", "(audio)", "cpu=3", "bob greeted carol", "2 meetings"],
        }
    )


@pytest.fixture
def records_parquet(tmp_path: Path) -> Path:
    path = tmp_path / "records.parquet"
    pq.write_table(records(), path)
    return path


@pytest.fixture
def v1_v2_store(store: Store, policy_files: dict[str, Path]) -> Store:
    """Terms up to 2023-08-07 (v3 not yet added) and an admin's implied consent."""
    store.add_policies(
        [(load_policy_file(policy_files[v]), str(policy_files[v])) for v in ("v1", "v2")]
    )
    store.set_default_family("meetco-terms")
    store.add_consent_events([admin_grant(store)])
    return store


def admin_grant(
    store: Store, kind: str = "grant", at: str = "2023-08-08T10:00:00Z"
) -> ConsentEvent:
    v2 = store.policy_set().resolve("meetco-terms@2023-08-07").hash
    return ConsentEvent(
        tenant="acme",
        kind=kind,  # type: ignore[arg-type]
        subject="alice",
        role="account_admin",
        categories=("customer.*",),
        uses=("train.*",),
        mode="implied" if kind == "grant" else None,
        policy_version=v2,
        at=t(at),
    )
