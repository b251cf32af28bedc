"""Every logged single decision, made again under the state the log had just before it.

The state tables are checked against the log as they stand now; a temporary edit
(terms swapped in, a decision made, the terms put back) leaves them as the log
says and would pass. The decision it produced would not: it was made under
state no entry put in force. Decisions are made and logged under the log's
append lock in one transaction, so on an honest log each ``decision`` entry is
exactly what :func:`~trainguard.decision.decide.decide` gives under the state
replayed from the entries before it.

The context is kept incrementally: rebuilt only after a change of terms,
families, settings or taxonomy; consent events are appended. Policy bodies come
from the stored rows, which the state check has already held to the hashes the
log recorded. An erased consent entry is replayed from the row its logged digest
names (the state check holds that row to the digest too).

Not re-checked, and counted: erased decision entries (nothing left to compare),
and a decision that differs only while some erased consent entry could not be
tied to a row (its event is unknown, so the difference may be its doing).
Batch decisions (``decision.batch``) log only a Merkle root and are not re-made.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from ..decision.consent import ConsentEvent, Ledger
from ..decision.decide import DecisionContext, PolicySet, Record, decide, decide_core
from ..decision.policy import CompiledPolicy, PolicyVersion
from ..decision.taxonomy import DEFAULT_TAXONOMY
from ..timeutil import parse_instant, to_micros
from .collect import (
    CONSENT_GRANT,
    CONSENT_KINDS,
    CONSENT_WITHDRAW,
    DEFAULT_FAMILY,
    POLICY_ADDED,
    TAXONOMY_EXTENDED,
    TENANT_FAMILY,
    Fault,
    LogScan,
)

DECISION = "decision"
DECISION_TAIL = b',"kind":"decision"}'
_CONSENT_TAILS = tuple(b',"kind":"' + k.encode() + b'"}' for k in (CONSENT_GRANT, CONSENT_WITHDRAW))
# Entries after which the terms a decision is made under must be rebuilt.
_REBUILD = frozenset({POLICY_ADDED, DEFAULT_FAMILY, TENANT_FAMILY, TAXONOMY_EXTENDED})
# What a difference is named by, in this order.
_FIELDS = (
    ("allowed", "allowed"),
    ("policy_at_use", "terms at use"),
    ("policy_at_collection", "terms at collection"),
    ("reasons", "reasons"),
    ("rules", "rules"),
    ("consents", "consents"),
    ("consent_required", "consent required"),
)


@dataclass
class Redecided:
    checked: int = 0
    not_checked: int = 0


class _Replay:
    """The state decisions read, as the entries so far put it in force."""

    def __init__(self, bodies: dict[str, PolicyVersion], erased: list[tuple[int, Any]]) -> None:
        self.bodies = bodies
        self.policies: list[str] = []
        self.default: str | None = None
        self.tenants: dict[str, str] = {}
        self.categories: dict[str, str] = {}
        self.uses: dict[str, str] = {}
        self.ledger = Ledger()
        self.pending: list[ConsentEvent] = []
        self.erased = erased  # (index, event or None when unknown), in log order
        self.next_erased = 0
        self.unknown = False  # an erased consent entry before here could not be replayed
        self.ctx: DecisionContext | None = None

    def apply(self, kind: str, data: dict[str, Any]) -> None:
        if kind == POLICY_ADDED:
            self.policies.append(str(data["hash"]))
        elif kind == DEFAULT_FAMILY:
            self.default = None if data["family"] is None else str(data["family"])
        elif kind == TENANT_FAMILY:
            self.tenants[str(data["tenant"])] = str(data["family"])
        elif kind == TAXONOMY_EXTENDED:
            for key in data["keys"]:
                into = self.categories if key["kind"] == "category" else self.uses
                into[str(key["key"])] = str(key["description"])
        if kind in _REBUILD:
            self.ctx = None

    def context(self, index: int) -> DecisionContext:
        """The context just before entry ``index``."""
        while self.next_erased < len(self.erased) and self.erased[self.next_erased][0] < index:
            event = self.erased[self.next_erased][1]
            if event is None:
                self.unknown = True
            else:
                self.pending.append(event)
            self.next_erased += 1
        if self.pending:
            self.ledger = self.ledger.extended(self.pending)
            self.pending = []
            if self.ctx is not None:
                self.ctx = DecisionContext(self.ctx.policies, self.ledger, self.ctx.taxonomy)
        if self.ctx is None:
            policies = PolicySet(
                [self.bodies[h] for h in self.policies],
                default_family=self.default,
                tenant_families=dict(self.tenants),
            )
            taxonomy = DEFAULT_TAXONOMY.extended(self.categories, self.uses)
            self.ctx = DecisionContext(policies, self.ledger, taxonomy)
        return self.ctx


def check_decisions(
    scan: LogScan, redactions: dict[int, tuple[int, dict[str, Any]]]
) -> tuple[Fault | None, Redecided]:
    """The first logged decision the logged state does not give, or None; and counts.

    Called once the state tables are known to match the log."""
    from .state import data_digest

    counts = Redecided(not_checked=sum(1 for kind, _ in scan.erased.values() if kind == DECISION))
    tables = scan.tables
    bodies = {str(r[0]): PolicyVersion.model_validate(json.loads(r[4])) for r in tables.policies}
    erased_targets = sorted(
        (target, str(data["data_digest"]))
        for target, (_, data) in redactions.items()
        if data.get("kind") in CONSENT_KINDS and target in scan.erased
    )
    by_digest: dict[str, ConsentEvent] = {}
    if erased_targets:
        for row in tables.consent:
            body = json.loads(row[7])
            by_digest[data_digest({**body, "id": row[1]})] = ConsentEvent.model_validate(body)
    state = _Replay(bodies, [(i, by_digest.get(d)) for i, d in erased_targets])
    loads = orjson.loads
    refs: dict[str, dict[str, str]] = {}
    for index, body in scan.entries:
        if body.endswith(_CONSENT_TAILS):
            data = loads(body)["data"]
            state.pending.append(
                ConsentEvent.model_validate({k: v for k, v in data.items() if k != "id"})
            )
            continue
        entry = loads(body)
        kind, data = entry["kind"], entry["data"]
        if kind != DECISION:
            state.apply(kind, data)
            continue
        try:
            ctx = state.context(index)
            same = _same_outcome(ctx, data, refs)
            if not same:  # the full decision, to be sure and to name what differs
                again = _redecide(ctx, data)
                same = again == data
        except (KeyError, TypeError, ValueError, AttributeError):
            return (f"entry {index}: not a well-formed decision entry", index), counts
        if same:
            counts.checked += 1
        elif state.unknown:
            counts.not_checked += 1
        else:
            return (f"entry {index}: {_difference(data, again)}", index), counts
    return None, counts


def _same_outcome(
    ctx: DecisionContext, data: dict[str, Any], refs: dict[str, dict[str, str]]
) -> bool:
    """Whether the logged outcome is the one the core gives, compared field by field
    (most decisions: no Decision object, no JSON of it)."""
    r = data["record"]
    core = decide_core(
        ctx,
        str(r["tenant"]),
        tuple(sorted(set(r["categories"]))),
        _micros(r["collected_at"], "collected_at"),
        tuple(sorted(set(r["subjects"]))),
        str(data["use"]),
        _micros(data["at"], "at"),
    )
    required = core.consent_required
    return (
        data["allowed"] is core.allowed
        and data["reasons"] == list(core.reasons)
        and data["rules"] == list(core.rules)
        and data["consents"] == list(core.consents)
        and data["policy_at_use"] == _ref(core.policy_at_use, refs)
        and data["policy_at_collection"] == _ref(core.policy_at_collection, refs)
        and data["consent_required"] == (required.as_json() if required else None)
    )


def _ref(policy: CompiledPolicy | None, refs: dict[str, dict[str, str]]) -> dict[str, str] | None:
    if policy is None:
        return None
    ref = refs.get(policy.hash)  # the hash names the version's content
    if ref is None:
        ref = refs[policy.hash] = policy.ref()
    return ref


def _micros(text: str, what: str) -> int:
    """A logged instant (``format_instant``: UTC, with a Z) in microseconds."""
    if isinstance(text, str) and text.endswith("Z"):
        try:
            return to_micros(datetime.fromisoformat(text))
        except ValueError:
            pass
    return to_micros(parse_instant(text, what))


def _redecide(ctx: DecisionContext, data: dict[str, Any]) -> dict[str, Any]:
    r = data["record"]
    record = Record(
        id=str(r["id"]),
        tenant=str(r["tenant"]),
        categories=tuple(r["categories"]),
        collected_at=parse_instant(r["collected_at"], "collected_at"),
        subjects=tuple(r["subjects"]),
    )
    return decide(ctx, record, str(data["use"]), parse_instant(data["at"], "at")).to_json()


def _difference(logged: dict[str, Any], again: dict[str, Any]) -> str:
    """One line: what the logged decision says against what the logged state gives."""
    for key, name in _FIELDS:
        if logged.get(key) != again.get(key):
            return (
                f"logged decision is not the one the logged state gives: {name} "
                f"{_show(key, logged.get(key))} logged, {_show(key, again.get(key))} on replay"
            )
    return "logged decision is not the one the logged state gives (its record or time differ)"


def _show(key: str, value: Any) -> str:
    if key == "allowed" and isinstance(value, bool):
        return "ALLOWED" if value else "DENIED"
    if isinstance(value, dict) and "family" in value and "version" in value:
        return f"{value['family']}@{value['version']}"
    if value is None:
        return "none"
    return json.dumps(value, separators=(",", ":"))
