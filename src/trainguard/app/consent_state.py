"""What a person's consent on record amounts to at one time.

For each grant the subject gave (or that was given in their name), the
(category, use) pairs of the taxonomy it still covers at ``at``: a pair is
ended by a withdrawal of the same party, given at or after the grant and at
or before ``at``, that covers it — the rule ``decide`` applies. Whether a
grant is enough for a use also depends on the terms in force (explicit or
implied, whose, under which version): ``decide`` answers that.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ..decision.consent import StoredEvent
from ..decision.taxonomy import Taxonomy, any_matches
from ..timeutil import format_instant, to_micros


def consent_state(
    events: Sequence[StoredEvent], tenant: str, subject: str, at: datetime, taxonomy: Taxonomy
) -> dict[str, Any]:
    t = to_micros(at)
    mine = [s for s in events if s.event.subject == subject and s.at_micros <= t]
    grants = [s for s in mine if s.event.kind == "grant"]
    withdrawals = [s for s in events if s.event.kind == "withdraw" and s.at_micros <= t]
    in_effect = []
    ended = []
    for g in grants:
        pairs = [
            (c, u)
            for c in taxonomy.categories
            if any_matches(g.event.categories, c)
            for u in taxonomy.uses
            if any_matches(g.event.uses, u)
        ]
        left = [
            {"category": c, "use": u}
            for c, u in pairs
            if not any(_ends(w, g, c, u) for w in withdrawals)
        ]
        if left:
            in_effect.append(
                {
                    "id": g.id,
                    "role": g.event.role,
                    "mode": g.event.mode,
                    "policy_version": g.event.policy_version,
                    "at": format_instant(g.event.at),
                    "covers": left,
                }
            )
        else:
            ended.append(g.id)
    return {
        "tenant": tenant,
        "subject": subject,
        "at": format_instant(at),
        "in_effect": in_effect,
        "withdrawn": ended,
        "events": [s.id for s in mine],
    }


def _ends(w: StoredEvent, g: StoredEvent, category: str, use: str) -> bool:
    if w.event.role != g.event.role or not g.at_micros <= w.at_micros:
        return False
    if g.event.role == "self" and w.event.subject != g.event.subject:
        return False
    return w.event.covers(category, use)
