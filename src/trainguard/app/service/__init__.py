"""The operations of trainguard, each with its audit entry, for any adapter.

:class:`Application` is what the HTTP service (and, in time, the CLI) calls:
one method per operation, taking the :class:`~..access.Principal` that asks
and plain values, checking what that principal may do and see, calling the
library, writing the audit entry, and returning JSON-ready data. Adapters
parse and format; they decide nothing.

The operations live by area, one module each (decisions, consent, terms,
notices, registry, scans, models, audit and reports); :class:`Application`
composes them over the state they share (:class:`.base.Base`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...limits import MAX_SCAN_DOCUMENTS
from ...scan.keys import KeyRing
from ...scan.registry import Registry
from ...store import Store
from ..access import Principal
from ..apikeys import KeyCache
from ..context import ContextCache
from ..journal import Journal
from ..scans import ScanJobs
from .audit import AuditOps, entry_tenant
from .consent import ConsentOps
from .decisions import DecisionOps
from .models import ModelOps
from .notices import NoticeOps
from .registry import RegistryOps
from .reports import ReportOps
from .scans import ScanOps
from .terms import TermsOps


class Application(
    DecisionOps,
    ConsentOps,
    TermsOps,
    NoticeOps,
    RegistryOps,
    ScanOps,
    ModelOps,
    AuditOps,
    ReportOps,
):
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


__all__ = ["MAX_SCAN_DOCUMENTS", "Application", "entry_tenant"]
