"""A registry built from the real meeting transcripts (module-scoped: built once)."""

from __future__ import annotations

import json

import pytest

from trainguard.scan import KeyRing, Registry, transcript_text

from ..conftest import MEETINGS


def load_meetings() -> dict[str, str]:
    if not MEETINGS.exists():
        pytest.skip(f"real transcripts not found at {MEETINGS}")
    with MEETINGS.open(encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    return {r["meeting_id"]: transcript_text(r["turns"]) for r in rows}


def is_ami(meeting_id: str) -> bool:
    return meeting_id[:2] in ("ES", "IS", "TS")


@pytest.fixture(scope="module")
def meetings() -> dict[str, str]:
    return load_meetings()


@pytest.fixture(scope="module")
def registered(meetings: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Registry:
    """ICSI, committee and covid meetings, split between two tenants. AMI meetings
    (another series) stay unregistered."""
    base = tmp_path_factory.mktemp("registry")
    registry = Registry(base / "registry", KeyRing(base / "keys"))
    others = sorted(m for m in meetings if not is_ami(m))
    registry.add("acme", [(m, meetings[m], "customer.transcript") for m in others[::2]])
    registry.add("globex", [(m, meetings[m], "customer.transcript") for m in others[1::2]])
    return registry
