"""Group commit for the audit entries of a busy service.

Each decision served is an audit entry, and each commit of the store waits
for the disk. A request hands its entry to one writer thread and waits; the
writer appends everything waiting in one transaction, then answers every
request with its entry's index. Under load, one commit carries many
decisions; alone, a request waits for its own commit as before. Nothing is
answered before its entry is committed.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

from ..store import Store

Entries = Sequence[tuple[str, dict[str, Any]]]
MAX_GROUP = 5_000  # entries in one commit


class Journal:
    def __init__(self, store: Store, on_appended: Callable[[int, int], None] | None = None) -> None:
        self.store = store
        self.on_appended = on_appended
        self._queue: queue.Queue[tuple[Entries, Future[list[int]]] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def append(self, kind: str, data: dict[str, Any]) -> int:
        return self.append_many([(kind, data)])[0]

    def append_many(self, entries: Entries) -> list[int]:
        """Append ``entries`` (together, in order) and return their indexes once committed."""
        done: Future[list[int]] = Future()
        self._ensure_started()
        self._queue.put((entries, done))
        return done.result()

    def close(self) -> None:
        with self._start_lock:
            if self._thread is not None:
                self._queue.put(None)
                self._thread.join()
                self._thread = None

    def _ensure_started(self) -> None:
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="trainguard-journal", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            count = len(first[0])
            while count < MAX_GROUP:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)  # finish this group, then stop
                    break
                group.append(nxt)
                count += len(nxt[0])
            self._commit(group)

    def _commit(self, group: list[tuple[Entries, Future[list[int]]]]) -> None:
        items = [entry for entries, _ in group for entry in entries]
        try:
            indexes = self.store.audit.record_many(items)
        except BaseException as exc:  # each waiting request gets the error, not a hang
            for _, done in group:
                done.set_exception(exc)
            return
        if self.on_appended is not None and indexes:
            self.on_appended(indexes[0], len(indexes))
        at = 0
        for entries, done in group:
            done.set_result(indexes[at : at + len(entries)])
            at += len(entries)
