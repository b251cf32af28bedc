"""Consent events and the in-memory ledger that ``decide`` consults.

Events are append-only: a grant or a withdrawal, by a person acting as the
tenant's account admin (for the whole tenant) or as themselves (for their own
content), over category and use patterns, under a policy version. An event's
id is derived from its content, so importing the same file twice adds nothing.
"""

from __future__ import annotations

import difflib
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..canonical import canonical_json
from ..errors import ConsentError, TaxonomyError
from ..timeutil import format_instant, parse_instant, to_micros
from .identity import check_subject, check_tenant, check_text, show
from .taxonomy import Taxonomy, any_matches

# Limits on what one event may hold (bytes of UTF-8). Identities have their own
# (:mod:`.identity`: a tenant 64 characters, a subject 256).
MAX_PATTERNS = 64  # category or use patterns in one event
MAX_PATTERN_BYTES = 128
MAX_REF_BYTES = 128  # policy_version: a hash, a prefix or family@version
MAX_NOTICE_ID_BYTES = 256
MAX_LINE_BYTES = 64 * 1024  # one JSONL line
MAX_EVENTS = 100_000  # events in one import (a file or a request): split larger ones

Kind = Literal["grant", "withdraw"]
Role = Literal["account_admin", "self"]
Mode = Literal["explicit", "implied"]


class ConsentEvent(BaseModel):
    """One grant or withdrawal, exactly as recorded."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant: str = Field(min_length=1)
    kind: Kind
    subject: str = Field(min_length=1)
    role: Role
    categories: tuple[str, ...] = Field(min_length=1)
    uses: tuple[str, ...] = Field(min_length=1)
    mode: Mode | None = None
    policy_version: str = Field(min_length=1, description="content hash of the version")
    notice_id: str | None = None
    at: datetime

    @field_validator("at", mode="before")
    @classmethod
    def _parse_at(cls, v: Any) -> datetime:
        if isinstance(v, datetime):
            if v.tzinfo is None:
                raise ValueError("at needs a timezone")
            return v
        if not isinstance(v, str):
            raise ValueError("at must be an ISO 8601 date-time with a timezone")
        try:
            return parse_instant(v, "at")
        except Exception as exc:
            raise ValueError(str(exc).removeprefix("at: ")) from exc

    @model_validator(mode="after")
    def _grant_has_mode(self) -> ConsentEvent:
        if self.kind == "grant" and self.mode is None:
            raise ValueError("a grant needs a mode (explicit or implied)")
        return self

    def canonical(self) -> dict[str, Any]:
        body = self.model_dump(mode="json", exclude_none=True)
        body["at"] = format_instant(self.at)
        body["categories"] = sorted(self.categories)
        body["uses"] = sorted(self.uses)
        return body

    @property
    def event_id(self) -> str:
        return "ce_" + hashlib.sha256(canonical_json(self.canonical())).hexdigest()[:24]

    def check_taxonomy(self, taxonomy: Taxonomy) -> None:
        for c in self.categories:
            taxonomy.check_category_pattern(c)
        for u in self.uses:
            taxonomy.check_use_pattern(u)

    def covers(self, category: str, use: str) -> bool:
        return any_matches(self.categories, category) and any_matches(self.uses, use)


def parse_event(data: Mapping[str, Any], source: str, taxonomy: Taxonomy) -> ConsentEvent:
    """Validate one event from a mapping (a JSONL line, an API body): its fields,
    the identities it names (:mod:`.identity`), the size and characters of its text,
    and its patterns against the taxonomy."""
    check_strings(data, source)
    try:
        event = ConsentEvent.model_validate(dict(data))
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "event"
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        elif err["type"] == "missing":
            msg = "required field is missing"
        raise ConsentError(f"{source}: {field}: {msg}") from None
    check_event(event, source)
    try:
        event.check_taxonomy(taxonomy)
    except TaxonomyError as exc:
        raise ConsentError(f"{source}: {exc}") from None
    return event


def check_event(event: ConsentEvent, source: str) -> None:
    """The limits every event entering the ledger must meet, however it arrives:
    exact identities, bounded fields, no control or format characters."""
    check_tenant(event.tenant, f"{source}: tenant")
    check_subject(event.subject, f"{source}: subject")
    for name, values in (("categories", event.categories), ("uses", event.uses)):
        if len(values) > MAX_PATTERNS:
            raise ConsentError(f"{source}: {name}: at most {MAX_PATTERNS} patterns")
        for i, v in enumerate(values):
            check_text(v, f"{source}: {name}[{i}]", MAX_PATTERN_BYTES, ConsentError)
    check_text(event.policy_version, f"{source}: policy_version", MAX_REF_BYTES, ConsentError)
    if event.notice_id is not None:
        check_text(event.notice_id, f"{source}: notice_id", MAX_NOTICE_ID_BYTES, ConsentError)


def check_strings(data: Any, source: str, path: str = "") -> None:
    """No key or string anywhere in ``data`` holds a control or format character
    (NUL, a zero-width space, a bidi override): what is stored is what is shown."""
    if isinstance(data, str):
        check_text(data, f"{source}: {path or 'value'}", MAX_LINE_BYTES, ConsentError)
    elif isinstance(data, Mapping):
        for key, value in data.items():
            name = f"{path}.{key}" if path else str(key)
            if isinstance(key, str):
                check_text(key, f"{source}: key {show(key)}", MAX_PATTERN_BYTES, ConsentError)
            check_strings(value, source, name)
    elif isinstance(data, list | tuple):
        for i, value in enumerate(data):
            check_strings(value, source, f"{path}[{i}]")


Party = tuple[str, str]
_NEVER = 2**63 - 1


def _party_key(role: str, subject: str) -> Party:
    # Who can act for whom: an admin for the tenant, a person for themselves.
    return (role, subject if role == "self" else "")


@dataclass(frozen=True)
class StoredEvent:
    """An event as the ledger holds it: with its id and a sortable time."""

    id: str
    event: ConsentEvent
    at_micros: int


class Ledger:
    """All consent events, grouped by tenant and ordered by time then id."""

    def __init__(self, events: Iterable[ConsentEvent] = ()) -> None:
        self._by_tenant: dict[str, list[StoredEvent]] = defaultdict(list)
        for e in events:
            self._by_tenant[e.tenant].append(StoredEvent(e.event_id, e, to_micros(e.at)))
        for items in self._by_tenant.values():
            items.sort(key=lambda s: (s.at_micros, s.id))
        # Indexes built on first use, per tenant (see party_events, first_grant_micros).
        self._parties: dict[str, dict[Party, list[StoredEvent]]] = {}
        self._first_grant: dict[tuple[str, str, str], int] = {}

    def add(self, event: ConsentEvent) -> None:
        items = self._by_tenant[event.tenant]
        items.append(StoredEvent(event.event_id, event, to_micros(event.at)))
        items.sort(key=lambda s: (s.at_micros, s.id))
        self._parties.pop(event.tenant, None)
        self._first_grant = {k: v for k, v in self._first_grant.items() if k[0] != event.tenant}

    def party_events(self, tenant: str, role: str, subject: str | None) -> list[StoredEvent]:
        """The tenant's events by one party, in ledger order: an admin acts for the
        tenant (every admin's events), a person for themselves (``subject``'s own)."""
        index = self._parties.get(tenant)
        if index is None:
            index = {}
            for s in self._by_tenant.get(tenant, []):
                index.setdefault(_party_key(s.event.role, s.event.subject), []).append(s)
            self._parties[tenant] = index
        return index.get(_party_key(role, subject or ""), [])

    def first_grant_micros(self, tenant: str, category: str, use: str) -> int:
        """When the tenant's first grant covering (category, use) was given, by
        anyone (the largest int64 when none was)."""
        key = (tenant, category, use)
        found = self._first_grant.get(key)
        if found is None:
            found = min(
                (
                    s.at_micros
                    for s in self._by_tenant.get(tenant, [])
                    if s.event.kind == "grant" and s.event.covers(category, use)
                ),
                default=_NEVER,
            )
            self._first_grant[key] = found
        return found

    def extended(self, events: Iterable[ConsentEvent]) -> Ledger:
        """A new ledger with ``events`` added, this one left as it is: readers of
        this one (decisions in flight on other threads) never see a half-sorted
        list. Only the lists of the tenants concerned are copied."""
        new = list(events)
        touched = {e.tenant for e in new}
        out = Ledger()
        out._by_tenant.update(self._by_tenant)
        # The untouched tenants' indexes still hold.
        out._parties = {t: v for t, v in self._parties.items() if t not in touched}
        out._first_grant = {k: v for k, v in self._first_grant.items() if k[0] not in touched}
        copied: set[str] = set()
        for e in new:
            if e.tenant not in copied:
                out._by_tenant[e.tenant] = list(self._by_tenant.get(e.tenant, []))
                copied.add(e.tenant)
            out._by_tenant[e.tenant].append(StoredEvent(e.event_id, e, to_micros(e.at)))
        for tenant in touched:
            out._by_tenant[tenant].sort(key=lambda s: (s.at_micros, s.id))
        return out

    def event_ids(self) -> set[str]:
        return {s.id for items in self._by_tenant.values() for s in items}

    def tenant_events(self, tenant: str) -> list[StoredEvent]:
        return self._by_tenant.get(tenant, [])

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_tenant.values())


class UnmatchedWithdrawalError(ConsentError):
    """A withdrawal that would end no grant on record (a misspelt subject, say)."""


def check_withdrawals_match(
    new: Sequence[ConsentEvent], on_record: Iterable[ConsentEvent], taxonomy: Taxonomy
) -> None:
    """Refuse a withdrawal that ends nothing.

    A withdrawal ends a grant when ``decide`` would let it (see ``_withdrawn``):
    same tenant and role, the same subject when the role is ``self`` (an account
    admin acts for the tenant, so any admin's withdrawal ends any admin's grant),
    a grant given at or before the withdrawal, and at least one (category, use)
    of the taxonomy that both cover. ``Bob`` withdrawing ``bob``'s consent ends
    nothing, and saying so is better than recording it and letting training go on.
    Grants among ``new`` count, so a file may hold a grant and its withdrawal.
    """
    records = list(on_record)
    known = {e.event_id for e in records}
    grants = [e for e in [*records, *new] if e.kind == "grant"]
    by_party: dict[tuple[str, str, str], list[ConsentEvent]] = defaultdict(list)
    for g in grants:
        by_party[_party(g)].append(g)
    for w in new:
        if w.kind != "withdraw" or w.event_id in known:
            continue
        if not any(_ends(w, g, taxonomy) for g in by_party.get(_party(w), ())):
            raise UnmatchedWithdrawalError(_unmatched_message(w, grants))


def _party(e: ConsentEvent) -> tuple[str, str, str]:
    """Who can end whose grant: an admin any admin's, a person only their own."""
    return (e.tenant, e.role, e.subject if e.role == "self" else "")


def _ends(w: ConsentEvent, g: ConsentEvent, taxonomy: Taxonomy) -> bool:
    if (g.tenant, g.role) != (w.tenant, w.role) or g.at > w.at:
        return False
    if w.role == "self" and g.subject != w.subject:
        return False
    cats = [c for c in taxonomy.categories if any_matches(g.categories, c)]
    uses = [u for u in taxonomy.uses if any_matches(g.uses, u)]
    return any(any_matches(w.categories, c) for c in cats) and any(
        any_matches(w.uses, u) for u in uses
    )


def _unmatched_message(w: ConsentEvent, grants: Sequence[ConsentEvent]) -> str:
    what = (
        f"withdrawal by subject {show(w.subject)} (tenant {w.tenant}, role {w.role}) "
        "matches no grant on record"
    )
    tenant_grants = [g for g in grants if g.tenant == w.tenant]
    if not tenant_grants:
        tenants = sorted({g.tenant for g in grants})
        return f"{what}: tenant {w.tenant} has no grant on record" + _closest(
            "tenant", w.tenant, tenants
        )
    same_party = [g for g in tenant_grants if g.role == w.role]
    if w.role == "self":
        same_party = [g for g in same_party if g.subject == w.subject]
    if same_party:
        return (
            f"{what}: the {w.role} grants on record do not cover "
            f"{','.join(w.categories)} for {','.join(w.uses)} at or before {format_instant(w.at)}"
        )
    subjects = sorted({g.subject for g in tenant_grants})
    return what + _closest("subject", w.subject, subjects)


def _closest(kind: str, name: str, known: Sequence[str]) -> str:
    if not known:
        return ""
    # Case and spacing are what people get wrong; compare without them, name the original.
    folded = {k.casefold().strip(): k for k in known}
    hit = difflib.get_close_matches(name.casefold().strip(), list(folded), n=1, cutoff=0.0)
    return f"; the closest {kind} on record is {show(folded[hit[0]])}" if hit else ""
