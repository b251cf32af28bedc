"""The decision: may this record be put to this use at this time, and why.

This module is the normative implementation of "Decision semantics" in the
design: every other path (``decide_batch``, the gate, the HTTP API) reaches its
answers through :func:`decide_core`, so they cannot drift apart.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..canonical import canonical_json
from ..errors import NotFoundError
from ..timeutil import ensure_utc, format_instant, now_utc, to_micros
from .consent import Ledger, StoredEvent
from .identity import is_tenant
from .policy import CompiledPolicy, ConsentRequirement, Outcome, PolicyVersion
from .taxonomy import DEFAULT_TAXONOMY, Taxonomy

# Reason codes, exactly as the design names them.
ALLOWED = "ALLOWED"
DENIED_AT_USE = "DENIED_AT_USE"
DENIED_AT_COLLECTION = "DENIED_AT_COLLECTION"
NO_POLICY_IN_FORCE = "NO_POLICY_IN_FORCE"
UNKNOWN_TENANT = "UNKNOWN_TENANT"
UNKNOWN_CATEGORY = "UNKNOWN_CATEGORY"
UNKNOWN_USE = "UNKNOWN_USE"
INVALID_TIME = "INVALID_TIME"
CONSENT_MISSING = "CONSENT_MISSING"
CONSENT_WITHDRAWN = "CONSENT_WITHDRAWN"
CONSENT_IMPLIED_NOT_ACCEPTED = "CONSENT_IMPLIED_NOT_ACCEPTED"
CONSENT_STALE = "CONSENT_STALE"
CONSENT_WRONG_PARTY = "CONSENT_WRONG_PARTY"

REASON_CODES = (
    ALLOWED,
    DENIED_AT_USE,
    DENIED_AT_COLLECTION,
    NO_POLICY_IN_FORCE,
    UNKNOWN_TENANT,
    UNKNOWN_CATEGORY,
    UNKNOWN_USE,
    INVALID_TIME,
    CONSENT_MISSING,
    CONSENT_WITHDRAWN,
    CONSENT_IMPLIED_NOT_ACCEPTED,
    CONSENT_STALE,
    CONSENT_WRONG_PARTY,
)

REASON_TEXT = {
    ALLOWED: "allowed",
    DENIED_AT_USE: "the terms in force at the time of use forbid it",
    DENIED_AT_COLLECTION: "the terms in force when the content was collected forbid it",
    NO_POLICY_IN_FORCE: "no version of the terms was in force at that time",
    UNKNOWN_TENANT: "the tenant is not assigned any terms and no default terms are set",
    UNKNOWN_CATEGORY: "the category is not in the taxonomy",
    UNKNOWN_USE: "the use is not in the taxonomy",
    INVALID_TIME: "the time of use is before the content was collected",
    CONSENT_MISSING: "the consent the terms require is not on record",
    CONSENT_WITHDRAWN: "the consent was withdrawn",
    CONSENT_IMPLIED_NOT_ACCEPTED: "only implied consent is on record; explicit consent is required",
    CONSENT_STALE: "the consent was given under terms that have changed since",
    CONSENT_WRONG_PARTY: "consent is on record, but from the wrong party",
}


@dataclass(frozen=True)
class Record:
    """One unit of content, by its metadata only (never the content itself)."""

    id: str
    tenant: str
    categories: tuple[str, ...]
    collected_at: datetime
    subjects: tuple[str, ...] = ()
    derived_from: tuple[str, ...] = ()


@dataclass(frozen=True)
class CoreDecision:
    """The part of a decision that does not depend on the record's identity."""

    allowed: bool
    reasons: tuple[str, ...]
    rules: tuple[str, ...]
    policy_at_use: CompiledPolicy | None
    policy_at_collection: CompiledPolicy | None
    consents: tuple[str, ...]
    consent_required: ConsentRequirement | None
    # True when the answer would change with the record's subjects: the batch
    # engine uses it to decide how finely it must group records.
    depends_on_subjects: bool = False


@dataclass(frozen=True)
class Decision:
    record: Record
    use: str
    at: datetime
    core: CoreDecision

    @property
    def allowed(self) -> bool:
        return self.core.allowed

    @property
    def reasons(self) -> tuple[str, ...]:
        return self.core.reasons

    def to_json(self) -> dict[str, Any]:
        c = self.core
        r = self.record
        return {
            "record": {
                "id": r.id,
                "tenant": r.tenant,
                "categories": sorted(set(r.categories)),
                "collected_at": format_instant(r.collected_at),
                "subjects": sorted(set(r.subjects)),
            },
            "use": self.use,
            "at": format_instant(self.at),
            "allowed": c.allowed,
            "reasons": list(c.reasons),
            "rules": list(c.rules),
            "policy_at_use": c.policy_at_use.ref() if c.policy_at_use else None,
            "policy_at_collection": (
                c.policy_at_collection.ref() if c.policy_at_collection else None
            ),
            "consents": list(c.consents),
            "consent_required": c.consent_required.as_json() if c.consent_required else None,
        }

    def canonical_bytes(self) -> bytes:
        return canonical_json(self.to_json())


@dataclass
class PolicySet:
    """Every policy version, grouped by family and ordered by effective time."""

    versions: Sequence[PolicyVersion] = ()
    default_family: str | None = None
    tenant_families: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_hash: dict[str, CompiledPolicy] = {}
        self.families: dict[str, list[CompiledPolicy]] = {}
        for v in self.versions:
            compiled = CompiledPolicy(v)
            self.by_hash[compiled.hash] = compiled
            self.families.setdefault(v.family, []).append(compiled)
        self._wellformed: dict[str, bool] = {}
        self._starts: dict[str, list[int]] = {}
        for fam, items in self.families.items():
            items.sort(key=lambda p: p.effective_micros)
            self._starts[fam] = [p.effective_micros for p in items]

    def family_for(self, tenant: str) -> str | None:
        """The family whose terms ``tenant`` is under, or None (UNKNOWN_TENANT).

        Exact: ``Acme``, ``acme `` or ``acme\u200b`` are not ``acme``. The default
        family (set only by the operator) reaches unassigned tenants whose name is
        well-formed, never a name no tenant could have: a misspelt look-alike of an
        assigned tenant must not be handed the default terms in its place."""
        family = self.tenant_families.get(tenant)
        if family is not None or self.default_family is None:
            return family
        # Memoized per name: the batch engine asks for every distinct tenant of
        # every batch, and a dict lookup costs a fraction of a regex match.
        wellformed = self._wellformed.get(tenant)
        if wellformed is None:
            wellformed = self._wellformed[tenant] = is_tenant(tenant)
        return self.default_family if wellformed else None

    def in_force(self, family: str | None, micros: int) -> CompiledPolicy | None:
        if family is None or family not in self.families:
            return None
        i = bisect.bisect_right(self._starts[family], micros) - 1
        return self.families[family][i] if i >= 0 else None

    def index_in_force(self, family: str, micros: int) -> int:
        """Index of the version in force (−1 when none), for the batch engine."""
        return bisect.bisect_right(self._starts.get(family, []), micros) - 1

    def resolve(self, ref: str) -> CompiledPolicy:
        """Find a version by full hash, a unique hash prefix (8+), or family@version."""
        if ref in self.by_hash:
            return self.by_hash[ref]
        if "@" in ref:
            fam, _, ver = ref.partition("@")
            for p in self.families.get(fam, []):
                if p.version.version == ver:
                    return p
            raise NotFoundError(f"policy version {ref!r} is not in the store")
        if len(ref) >= 8:
            hits = [p for h, p in self.by_hash.items() if h.startswith(ref)]
            if len(hits) == 1:
                return hits[0]
        named = [p for p in self.by_hash.values() if p.version.version == ref]
        if len(named) == 1:
            return named[0]
        if len(named) > 1:
            raise NotFoundError(
                f"policy version {ref!r} is ambiguous: use family@version or a hash"
            )
        raise NotFoundError(f"policy version {ref!r} is not in the store")


@dataclass
class DecisionContext:
    """Everything a decision reads: taxonomy, terms, and the consent ledger."""

    policies: PolicySet
    ledger: Ledger = field(default_factory=Ledger)
    taxonomy: Taxonomy = DEFAULT_TAXONOMY


def decide(ctx: DecisionContext, record: Record, use: str, at: datetime | None = None) -> Decision:
    """Decide whether ``record`` may be put to ``use`` at ``at`` (default: now)."""
    when = ensure_utc(at, "at") if at is not None else now_utc()
    core = decide_core(
        ctx,
        record.tenant,
        tuple(sorted(set(record.categories))),
        to_micros(ensure_utc(record.collected_at, "collected_at")),
        tuple(sorted(set(record.subjects))),
        use,
        to_micros(when),
    )
    return Decision(record, use, when, core)


def decide_core(
    ctx: DecisionContext,
    tenant: str,
    categories: tuple[str, ...],
    collected_micros: int,
    subjects: tuple[str, ...],
    use: str,
    at_micros: int,
) -> CoreDecision:
    """The decision semantics, step by step as the design numbers them."""
    ps = ctx.policies
    family = ps.family_for(tenant)
    p0 = ps.in_force(family, collected_micros)
    p1 = ps.in_force(family, at_micros)

    # 1. Refuse to guess. A tenant under no terms has no version in force either:
    # UNKNOWN_TENANT says why, in place of NO_POLICY_IN_FORCE.
    early: list[str] = []
    if family is None:
        early.append(UNKNOWN_TENANT)
    if not categories or any(c not in ctx.taxonomy.categories for c in categories):
        early.append(UNKNOWN_CATEGORY)
    if use not in ctx.taxonomy.uses:
        early.append(UNKNOWN_USE)
    if at_micros < collected_micros:
        early.append(INVALID_TIME)
    if family is not None and (p0 is None or p1 is None):
        early.append(NO_POLICY_IN_FORCE)
    if early:
        return CoreDecision(False, tuple(sorted(early)), (), p1, p0, (), None)
    assert p0 is not None and p1 is not None

    # 2–3. Evaluate under both versions, per category; deny anywhere wins.
    reasons: set[str] = set()
    rules: set[str] = set()
    needs: list[tuple[str, Outcome, ConsentRequirement]] = []
    for c in categories:
        o1 = p1.evaluate(c, use)
        o0 = p0.evaluate(c, use)
        rules.update(o1.rule_ids)
        rules.update(o0.rule_ids)
        if o1.effect == "deny":
            reasons.add(DENIED_AT_USE)
        if o0.effect == "deny":
            reasons.add(DENIED_AT_COLLECTION)
        requirement = _stricter(o0.requirement, o1.requirement)
        if requirement is not None:
            needs.append((c, o1, requirement))
    if reasons:
        return CoreDecision(False, tuple(sorted(reasons)), tuple(sorted(rules)), p1, p0, (), None)

    # 4. Consent, for every category that needs it.
    required: ConsentRequirement | None = None
    for _, _, req in needs:
        required = req if required is None else required.stricter(req)
    used: set[str] = set()
    for c, o1, _ in needs:
        # Every category must meet the strictest requirement of the record.
        assert required is not None
        ok, ids, problems = _consent_satisfied(
            ctx, tenant, c, use, at_micros, required, o1, subjects
        )
        used.update(ids)
        if not ok:
            reasons.update(problems)
    depends = required is not None and required.from_ == "every_subject"
    if reasons:
        return CoreDecision(
            False, tuple(sorted(reasons)), tuple(sorted(rules)), p1, p0, (), required, depends
        )
    return CoreDecision(
        True, (ALLOWED,), tuple(sorted(rules)), p1, p0, tuple(sorted(used)), required, depends
    )


def _stricter(
    a: ConsentRequirement | None, b: ConsentRequirement | None
) -> ConsentRequirement | None:
    if a is None:
        return b
    if b is None:
        return a
    return a.stricter(b)


def _consent_satisfied(
    ctx: DecisionContext,
    tenant: str,
    category: str,
    use: str,
    at: int,
    required: ConsentRequirement,
    at_use: Outcome,
    subjects: tuple[str, ...],
) -> tuple[bool, list[str], set[str]]:
    """Whether the ledger holds the consent ``required`` for (category, use) at ``at``."""
    if required.from_ == "account_admin":
        ok, event_id, admin_problems = _party_consent(
            ctx, tenant, category, use, at, required, at_use, "account_admin", None
        )
        return ok, [event_id] if event_id else [], admin_problems
    if not subjects:
        # Nobody on record to consent: when unsure, deny.
        return False, [], {CONSENT_MISSING}
    ids: list[str] = []
    problems: set[str] = set()
    for s in subjects:
        ok, event_id, p = _party_consent(
            ctx, tenant, category, use, at, required, at_use, "self", s
        )
        if event_id:
            ids.append(event_id)
        problems |= p
    return not problems, ids, problems


def _party_consent(
    ctx: DecisionContext,
    tenant: str,
    category: str,
    use: str,
    at: int,
    required: ConsentRequirement,
    at_use: Outcome,
    role: str,
    subject: str | None,
) -> tuple[bool, str | None, set[str]]:
    """Look for one valid grant by the right party; explain why none counts.

    Reads only the party's own events (the ledger indexes them), so a decision
    costs the same however many other people's consents the tenant holds."""
    events = ctx.ledger.party_events(tenant, role, subject)
    candidates = [
        e
        for e in events
        if e.at_micros <= at and e.event.kind == "grant" and e.event.covers(category, use)
    ]
    if not candidates:
        anyone = ctx.ledger.first_grant_micros(tenant, category, use) <= at
        return False, None, {CONSENT_WRONG_PARTY if anyone else CONSENT_MISSING}
    problems: set[str] = set()
    # Newest first, so the consent cited is the most recent one that holds.
    for g in sorted(candidates, key=lambda e: (e.at_micros, e.id), reverse=True):
        issues = set()
        if _withdrawn(events, g, category, use, at, role):
            issues.add(CONSENT_WITHDRAWN)
        if required.mode == "explicit" and g.event.mode != "explicit":
            issues.add(CONSENT_IMPLIED_NOT_ACCEPTED)
        given_under = ctx.policies.by_hash.get(g.event.policy_version)
        if given_under is None or not given_under.evaluate(category, use).same_terms(at_use):
            issues.add(CONSENT_STALE)
        if not issues:
            return True, g.id, set()
        problems |= issues
    return False, None, problems


def _withdrawn(
    events: Iterable[StoredEvent], grant: StoredEvent, category: str, use: str, at: int, role: str
) -> bool:
    """A withdrawal at or after the grant and at or before ``at`` that covers (c, u).

    An admin acts for the tenant, so any admin's withdrawal ends any admin's
    grant; a person acting for themselves can only withdraw their own.
    """
    for w in events:
        if w.event.kind != "withdraw" or w.event.role != role:
            continue
        if role == "self" and w.event.subject != grant.event.subject:
            continue
        if grant.at_micros <= w.at_micros <= at and w.event.covers(category, use):
            return True
    return False


def explain_decision(decision: Decision) -> list[str]:
    """Plain-language lines that say what the decision is and why."""
    c = decision.core
    verdict = "ALLOWED" if c.allowed else "DENIED"
    lines = [
        f"{verdict}: {decision.use} on {', '.join(sorted(set(decision.record.categories)))} "
        f"(tenant {decision.record.tenant}) at {format_instant(decision.at)}"
    ]
    for r in c.reasons:
        lines.append(f"  reason  {r}: {REASON_TEXT[r]}")
    if c.policy_at_collection:
        ref = c.policy_at_collection.ref()
        lines.append(
            f"  terms when collected  {ref['family']}@{ref['version']} ({ref['hash'][:12]})"
        )
    if c.policy_at_use:
        ref = c.policy_at_use.ref()
        lines.append(
            f"  terms at use          {ref['family']}@{ref['version']} ({ref['hash'][:12]})"
        )
    if c.rules:
        lines.append(f"  rules   {', '.join(c.rules)}")
    if c.consent_required:
        req = c.consent_required
        lines.append(f"  consent required from {req.from_} ({req.mode})")
    if c.consents:
        lines.append(f"  consents used  {', '.join(c.consents)}")
    return lines
