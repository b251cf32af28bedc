"""A registry built from the real meeting transcripts (module-scoped: built once)."""

from __future__ import annotations

import pytest

from trainguard.scan import KeyRing, Registry, transcript_text

from ..conftest import meeting_rows


def load_meetings() -> dict[str, str]:
    return {r["meeting_id"]: transcript_text(r["turns"]) for r in meeting_rows()}


def is_ami(meeting_id: str) -> bool:
    return meeting_id[:2] in ("ES", "IS", "TS")


@pytest.fixture(scope="module")
def meetings() -> dict[str, str]:
    return load_meetings()


@pytest.fixture(scope="module")
def registered(meetings: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Registry:
    """ICSI, committee and education meetings, split between two tenants. AMI meetings
    (another series) stay unregistered."""
    base = tmp_path_factory.mktemp("registry")
    registry = Registry(base / "registry", KeyRing(base / "keys"))
    others = sorted(m for m in meetings if not is_ami(m))
    registry.add("acme", [(m, meetings[m], "customer.transcript") for m in others[::2]])
    registry.add("globex", [(m, meetings[m], "customer.transcript") for m in others[1::2]])
    return registry
