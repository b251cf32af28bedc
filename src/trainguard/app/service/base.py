"""What every area of :class:`~trainguard.app.service.Application` shares: the
store, the registry and its keys, the caches kept current from the log, the
journal that logs decisions and the scan queue."""

from __future__ import annotations

from pathlib import Path

from ...decision.decide import DecisionContext
from ...scan.keys import KeyRing
from ...scan.registry import Registry
from ...store import Store
from ..apikeys import KeyCache
from ..context import ContextCache
from ..journal import Journal
from ..scans import ScanJobs


class Base:
    store: Store
    ring: KeyRing
    registry_path: Path
    keys: KeyCache
    contexts: ContextCache
    journal: Journal
    scans: ScanJobs

    def context(self) -> DecisionContext:
        return self.contexts.get()

    def _registry(self) -> Registry:
        return Registry(self.registry_path, self.ring)
