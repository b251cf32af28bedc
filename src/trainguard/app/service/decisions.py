"""Decisions: one record, or a batch for one use; each logged by the journal."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

from ...decision.decide import Record
from ...decision.identity import check_record_id, check_subject
from ...timeutil import now_utc, parse_instant
from .. import decisions
from ..access import DECIDE, Principal
from ..decisions import BatchAnswer, BatchColumns
from .base import Base


class DecisionOps(Base):
    def decide(
        self,
        who: Principal,
        *,
        categories: Sequence[str],
        use: str,
        collected_at: str,
        subjects: Sequence[str] = (),
        at: str | None = None,
        record_id: str = "-",
        tenant: str | None = None,
    ) -> dict[str, Any]:
        """Decide one record of the caller's tenant; the decision is an audit entry."""
        return self.submit_decide(
            who,
            categories=categories,
            use=use,
            collected_at=collected_at,
            subjects=subjects,
            at=at,
            record_id=record_id,
            tenant=tenant,
        ).result()

    def submit_decide(
        self,
        who: Principal,
        *,
        categories: Sequence[str],
        use: str,
        collected_at: str,
        subjects: Sequence[str] = (),
        at: str | None = None,
        record_id: str = "-",
        tenant: str | None = None,
    ) -> Future[dict[str, Any]]:
        """:meth:`decide`, answered by a future once its entry is committed."""
        mine = who.acting_for(tenant, *DECIDE)
        record = Record(
            check_record_id(record_id, "id"),
            mine,
            tuple(categories),
            parse_instant(collected_at, "collected_at"),
            tuple(check_subject(s, f"subjects.{i}") for i, s in enumerate(subjects)),
        )
        when = parse_instant(at, "at") if at else None
        return self.journal.submit_decision(
            lambda ctx: decisions.one(ctx, record, use, when), who.key_id, who.key_generation
        )

    def decide_batch(
        self,
        who: Principal,
        use: str,
        records: BatchColumns,
        at: str | None = None,
        tenant: str | None = None,
    ) -> dict[str, Any]:
        """Decide many records of the caller's tenant for one use at one time.

        The log gets one entry for the batch, holding the Merkle root over the
        answered decisions (in order, each as compact JSON with sorted keys): any
        one decision can later be shown to be part of what was logged."""
        return self.submit_decide_batch(who, use, records, at, tenant).result().to_json()

    def submit_decide_batch(
        self,
        who: Principal,
        use: str,
        records: BatchColumns,
        at: str | None = None,
        tenant: str | None = None,
    ) -> Future[BatchAnswer]:
        """:meth:`decide_batch`, answered by a future once its entry is committed."""
        mine = who.acting_for(tenant, *DECIDE)
        decisions.check_batch(records)
        when = parse_instant(at, "at") if at else now_utc()
        return self.journal.submit_decision(
            lambda ctx: decisions.many(ctx, mine, use, when, records),
            who.key_id,
            who.key_generation,
        )
