"""Recording consent: grants and withdrawals from the CLI's options, a JSONL
file, or the service's request body, all through :func:`record_consent`.

The store writes each new event and its ``consent.*`` audit entry in one
transaction; here is what comes before that, the same for every adapter:
which tenants the caller may record consent for, and what a refused
withdrawal tells the caller to do about it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..decision.consent import ConsentEvent, UnmatchedWithdrawalError
from ..decision.consent_input import read_events_body, read_events_file
from .access import CONSENT_WRITE, Principal

if TYPE_CHECKING:
    from ..store import Store


def record_consent(
    who: Principal,
    store: Store,
    events: Sequence[ConsentEvent],
    *,
    allow_unmatched: bool = False,
    override: str = "allow_unmatched=true",
) -> tuple[int, int]:
    """Record ``events``, all or none: (recorded, already on record).

    A key records its own tenant's consent only; the local operator any
    tenant's. A withdrawal that ends no grant is refused unless
    ``allow_unmatched``; the error names ``override``, the adapter's way to say so."""
    who.require(*CONSENT_WRITE)
    for i, event in enumerate(events):
        who.acting_for(event.tenant, *CONSENT_WRITE, field=f"events.{i}.tenant")
    try:
        return store.add_consent_events(events, allow_unmatched=allow_unmatched)
    except UnmatchedWithdrawalError as exc:
        raise UnmatchedWithdrawalError(f"{exc} ({override} records it anyway)") from None


def events_from_file(store: Store, path: str | Path) -> list[ConsentEvent]:
    """Events from a JSONL file (``trainguard consent import``), every line checked."""
    policies = store.policy_set()
    return read_events_file(path, lambda ref: policies.resolve(ref).hash, store.taxonomy())


def events_from_body(store: Store, body: bytes) -> list[ConsentEvent]:
    """Events from a request body, one JSON object a line, as a file is read."""
    policies = store.policy_set()
    return read_events_body(body, "body", lambda ref: policies.resolve(ref).hash, store.taxonomy())
