"""The operations of trainguard, each with its audit entry, for any adapter.

:class:`Application` is what the HTTP service (and, in time, the CLI) calls:
one method per operation, taking the :class:`~.access.Principal` that asks
and plain values, checking what that principal may do and see, calling the
library, writing the audit entry, and returning JSON-ready data. Adapters
parse and format; they decide nothing.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import orjson
import yaml

from ..decision.decide import DecisionContext, Record
from ..decision.identity import check_family, check_model_name, check_record_id, check_subject
from ..decision.policy import parse_policy
from ..errors import InputError, NotFoundError, PolicyFileError
from ..explain import diff, notice
from ..lineage import get_model, impact, list_models
from ..scan import Fields, ScanConfig, ScanOptions
from ..scan.engine import matcher_for
from ..scan.findings import finding_json
from ..scan.keys import KeyRing
from ..scan.registry import Registry
from ..store import Store
from ..timeutil import format_instant, now_utc, parse_instant
from . import decisions
from .access import (
    CONSENT_READ,
    DECIDE,
    IMPACT_READ,
    OPERATOR,
    REGISTRY_READ,
    REGISTRY_WRITE,
    SCAN_READ,
    SCAN_SUBMIT,
    FieldNotFound,
    Principal,
)
from .apikeys import KeyCache
from .consent import events_from_body, record_consent
from .consent_state import consent_state
from .context import ContextCache
from .decisions import BatchAnswer, BatchColumns
from .journal import Journal
from .models import register
from .registry import add_items, added_json, open_registry, remove_item
from .scanning import scan_files
from .scans import ScanJob, ScanJobs

MAX_SCAN_DOCUMENTS = 10_000


class Application:
    def __init__(
        self,
        store: Store | str | None = None,
        registry: str | Path | None = None,
        keys: str | Path | None = None,
        *,
        max_pending_scans: int = 8,
    ) -> None:
        self.store = store if isinstance(store, Store) else Store(store)
        self.ring = KeyRing(keys)
        self.registry_path = Registry(registry, self.ring).path
        self.keys = KeyCache(self.store)
        self.contexts = ContextCache(self.store, on_keys_changed=self.keys.clear)
        self.journal = Journal(self.store, self.contexts, self.keys)
        self.scans = ScanJobs(max_pending=max_pending_scans)

    def close(self) -> None:
        self.journal.close()
        self.scans.close()
        self.contexts.close()

    # --- who is asking ----------------------------------------------------------------

    def authenticate(self, token: str | None, fresh: bool = True) -> Principal:
        """The principal of ``token``. Fresh (the default): brought up to date with
        the log first, so a key revoked by any process is refused from the next
        request on. Not fresh, for work the journal checks again when it logs it
        (decisions): no query unless the key is new to this process."""
        if fresh:
            self.contexts.get()
        return self.keys.authenticate(token)

    def health(self) -> dict[str, Any]:
        self.contexts.get()
        return {"status": "ok", "store": self.store.display_url}

    def context(self) -> DecisionContext:
        return self.contexts.get()

    # --- decisions --------------------------------------------------------------------

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

    # --- consent ----------------------------------------------------------------------

    def add_consent(
        self, who: Principal, body: bytes, allow_unmatched: bool = False
    ) -> dict[str, Any]:
        """Events as ``trainguard consent import`` reads them; all of the caller's tenant."""
        events = events_from_body(self.store, body)
        added, present = record_consent(who, self.store, events, allow_unmatched=allow_unmatched)
        return {
            "recorded": added,
            "already_on_record": present,
            "ids": [e.event_id for e in events],
        }

    def consent_events(self, who: Principal, subject: str | None = None) -> list[dict[str, Any]]:
        mine = who.own_tenant(*CONSENT_READ)
        if subject is not None:
            check_subject(subject, "subject")
        events = self.context().ledger.tenant_events(mine)
        return [
            {"id": s.id, **s.event.canonical()}
            for s in events
            if subject is None or s.event.subject == subject
        ]

    def consent_state(self, who: Principal, subject: str, at: str | None = None) -> dict[str, Any]:
        mine = who.own_tenant(*CONSENT_READ)
        check_subject(subject, "subject")
        when = parse_instant(at, "at") if at else now_utc()
        ctx = self.context()
        return consent_state(ctx.ledger.tenant_events(mine), mine, subject, when, ctx.taxonomy)

    # --- terms ------------------------------------------------------------------------

    def policies(self, who: Principal) -> list[dict[str, Any]]:
        ctx = self.context()
        out = []
        for family, versions in sorted(ctx.policies.families.items()):
            for p in versions:
                out.append(
                    {
                        "family": family,
                        "version": p.version.version,
                        "hash": p.hash,
                        "effective_at": format_instant(p.version.effective_at),
                    }
                )
        return out

    def policy(self, who: Principal, ref: str) -> dict[str, Any]:
        version = self.context().policies.resolve(ref).version
        return dict(version.canonical())

    def policy_notice(self, who: Principal, ref: str) -> dict[str, Any]:
        ctx = self.context()
        return notice(ctx.policies.resolve(ref).version, ctx.taxonomy)

    def policy_diff(self, who: Principal, old: str, new: str) -> list[dict[str, Any]]:
        ctx = self.context()
        before, after = ctx.policies.resolve(old).version, ctx.policies.resolve(new).version
        return [c.to_json() for c in diff(before, after, ctx.taxonomy)]

    def add_policy(self, who: Principal, text: str, source: str) -> dict[str, Any]:
        who.require(*OPERATOR)
        try:
            version = parse_policy(text, source, self.store.taxonomy())
        except yaml.YAMLError as exc:  # the reader's own refusals (control characters…)
            problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise PolicyFileError(f"yaml: {problem}") from None
        [(digest, added)] = self.store.add_policies([(version, source)])
        return {
            "hash": digest,
            "added": added,
            "family": version.family,
            "version": version.version,
        }

    def assign_tenant(self, who: Principal, tenant: str, family: str) -> dict[str, Any]:
        who.require(*OPERATOR)
        check_family(family, "family")
        self.store.assign_tenant(tenant, family)
        return {"tenant": tenant, "family": family}

    # --- registry ---------------------------------------------------------------------

    def _registry(self) -> Registry:
        return Registry(self.registry_path, self.ring)

    def registry_add(
        self, who: Principal, items: Sequence[tuple[str, str, str | None]]
    ) -> dict[str, Any]:
        reg = open_registry(self.registry_path, self.ring, self.store)
        result = add_items(who, reg, who.tenant, items)
        assert who.tenant is not None  # add_items refused every principal but a tenant's
        return added_json(who.tenant, result, reg.last_audit_entry)

    def registry_items(self, who: Principal) -> list[dict[str, Any]]:
        mine = who.own_tenant(*REGISTRY_READ)
        reg = self._registry()
        if not reg.exists():
            return []
        return [
            {"id": i.id, "category": i.category, "ngrams": i.ngrams, "shingles": i.shingles}
            for i in reg.items().values()
            if i.tenant == mine
        ]

    def registry_remove(self, who: Principal, item_id: str) -> dict[str, Any]:
        reg = open_registry(self.registry_path, self.ring, self.store)
        if not reg.exists():
            who.acting_for(who.tenant, *REGISTRY_WRITE)  # the caller's refusal comes first
            raise NotFoundError(f"registry item {item_id!r} does not exist")
        try:
            item = remove_item(who, reg, who.tenant, item_id)
        except NotFoundError:
            raise FieldNotFound("item_id", f"registry item {item_id!r} does not exist") from None
        return {
            "tenant": who.tenant,
            "id": item.id,
            "removed": True,
            "audit_index": reg.last_audit_entry,
        }

    # --- scans ------------------------------------------------------------------------

    def scan_documents(
        self,
        who: Principal,
        documents: Sequence[tuple[str, str]],
        min_confidence: float = 0.5,
        near_duplicates: bool = True,
    ) -> dict[str, Any]:
        """Queue a scan of posted texts against the caller's tenant's registered content.
        The texts are held in memory until scanned, never stored or logged."""
        mine = who.own_tenant(*SCAN_SUBMIT)
        if len(documents) > MAX_SCAN_DOCUMENTS:
            raise InputError(f"documents: at most {MAX_SCAN_DOCUMENTS:,} a request")
        options = self._scan_options(min_confidence, near_duplicates)
        docs = list(documents)

        def work() -> tuple[list[dict[str, Any]], dict[str, Any]]:
            matcher = matcher_for(options)
            mine_ids = {i.id for i in self._registry().items().values() if i.tenant == mine}
            results = matcher.scan_many([text for _, text in docs])
            findings = []
            for (doc_id, _), (spans, n_tokens) in zip(docs, results, strict=True):
                own = [s for s in spans if mine in s.tenants]
                if not own:
                    continue
                # The tenant's view: its own items, and no other tenant named.
                shown = [
                    {
                        **s.to_json(),
                        "items": [i for i in s.items if i in mine_ids],
                        "tenants": [mine],
                    }
                    for s in own
                ]
                findings.append(finding_json(doc_id, own, n_tokens, shown=shown))
            return findings, {"documents": len(docs), "findings": len(findings)}

        return self.scans.submit(mine, len(docs), work).to_json()

    def scan_corpus(
        self, who: Principal, paths: Sequence[str], min_confidence: float = 0.5
    ) -> dict[str, Any]:
        """Queue a scan of corpus files on the server (operator only: it reads the
        server's files, and its findings name every tenant)."""
        who.require(*OPERATOR)
        for i, p in enumerate(paths):
            if not Path(p).exists():
                raise InputError(f"paths.{i}: {p!r} does not exist on the server")
        options = self._scan_options(min_confidence, True)

        def work() -> tuple[list[dict[str, Any]], dict[str, Any]]:
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "findings.jsonl"
                summary, index = scan_files(
                    who, self._registry(), paths, out, options.config, options.fields,
                    append=self.journal.append,
                )  # fmt: skip
                lines = out.read_bytes().splitlines() if out.exists() else []
            return [orjson.loads(line) for line in lines], {
                **summary.to_json(),
                "audit_index": index,
            }

        return self.scans.submit(None, 0, work).to_json()

    def _scan_options(self, min_confidence: float, near_duplicates: bool) -> ScanOptions:
        self._registry().require().require_keys()
        config = ScanConfig(min_confidence=min_confidence, near_duplicates=near_duplicates)
        return ScanOptions(str(self.registry_path), str(self.ring.path), config, Fields())

    def _scan_job(self, who: Principal, job_id: str) -> ScanJob:
        job = self.scans.get(job_id)
        if job is None or (not who.sees_everything() and job.tenant != who.tenant):
            raise FieldNotFound("scan_id", f"scan {job_id!r} does not exist")
        return job

    def scan_status(self, who: Principal, job_id: str) -> dict[str, Any]:
        if not who.sees_everything():
            who.require(*SCAN_READ)
        return self._scan_job(who, job_id).to_json()

    def scan_findings(self, who: Principal, job_id: str) -> dict[str, Any]:
        if not who.sees_everything():
            who.require(*SCAN_READ)
        job = self._scan_job(who, job_id)
        return {"id": job.id, "status": job.status, "findings": job.findings}

    # --- models -----------------------------------------------------------------------

    def register_model(
        self, who: Principal, name: str, manifests: Sequence[str], trained_at: str | None = None
    ) -> dict[str, Any]:
        when = parse_instant(trained_at, "trained_at") if trained_at else None
        return register(who, self.store, name, manifests, when).to_json()

    def models(self, who: Principal) -> list[dict[str, Any]]:
        who.require(*OPERATOR)
        return [m.to_json() for m in list_models(self.store)]

    def model(self, who: Principal, name: str) -> dict[str, Any]:
        who.require(*OPERATOR)
        check_model_name(name, "name")
        return get_model(self.store, name).to_json()

    def impact(
        self, who: Principal, model: str | None = None, at: str | None = None
    ) -> list[dict[str, Any]]:
        """Which models' training records are now denied. A tenant's key sees its
        own records only; the operator every tenant's."""
        who.require(*IMPACT_READ)
        if model is not None:
            check_model_name(model, "model")
        when = parse_instant(at, "at") if at else None
        return [r.to_json() for r in impact(self.store, model, when, tenant=who.tenant)]

    # --- audit ------------------------------------------------------------------------

    def checkpoint(self, who: Principal) -> str:
        note = self.store.audit.latest_checkpoint()
        if note is None:
            raise NotFoundError(
                "audit log has no checkpoint yet (run `trainguard audit checkpoint`)"
            )
        return note

    def entry(self, who: Principal, index: int) -> dict[str, Any]:
        found = self._visible_entry(who, index)
        return found

    def inclusion_proof(
        self, who: Principal, index: int, size: int | None = None
    ) -> dict[str, Any]:
        self._visible_entry(who, index)
        return self.store.audit.inclusion_proof(index, size)

    def consistency_proof(self, who: Principal, old: int, new: int) -> dict[str, Any]:
        return self.store.audit.consistency_proof(old, new)

    def _visible_entry(self, who: Principal, index: int) -> dict[str, Any]:
        """An entry the caller may read: the operator any, a tenant's key only
        entries about its tenant. Others are answered as missing."""
        missing = FieldNotFound("index", f"audit entry {index} does not exist")
        try:
            found = self.store.audit.entry(index)
        except NotFoundError:
            raise missing from None
        if not who.sees_everything() and entry_tenant(found) != who.tenant:
            raise missing
        return found


def entry_tenant(entry: dict[str, Any]) -> str | None:
    """The tenant an audit entry is about, or None (platform entries, redacted ones)."""
    body = entry.get("entry")
    if not isinstance(body, dict):
        return None
    data = body.get("data")
    if not isinstance(data, dict):
        return None
    tenant = data.get("tenant")
    if tenant is None and isinstance(data.get("record"), dict):
        tenant = data["record"].get("tenant")
    return tenant if isinstance(tenant, str) else None
