"""Deciding one record, and logging the decision: the operation both the CLI
(``trainguard decide``) and the service (``POST /v1/decisions``) call.

Adapters parse their own inputs into a :class:`~trainguard.decision.decide.Record`
(each names its inputs its own way in errors: ``--collected-at``,
``collected_at``); what happens then is the same: the decision is made, and the
decision, ids and all, becomes one ``decision`` entry in the audit log.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from ..decision.decide import Decision, DecisionContext, Record, decide
from .access import DECIDE, Principal

Append = Callable[[str, dict[str, Any]], int]
"""Appends one entry to the audit log and returns its index (the store's own
``audit.record``, or the service's group commit)."""


def decide_and_log(
    who: Principal,
    context: DecisionContext,
    record: Record,
    use: str,
    at: datetime | None,
    append: Append,
) -> tuple[Decision, int]:
    """Decide ``record`` for ``use`` at ``at`` (default: now) and log the decision.

    A key decides for its own tenant only; the local operator for any."""
    who.acting_for(record.tenant, *DECIDE)
    decision = decide(context, record, use, at)
    # A decision someone asked for is evidence: it goes into the audit log.
    return decision, append("decision", decision.to_json())
