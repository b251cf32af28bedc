"""Group commit for the audit entries of a busy service, and decisions that are
exactly as fresh as their place in the log.

Each decision served is an audit entry, and each commit of the store waits
for the disk. A request hands its entries to one writer thread and waits; the
writer appends everything waiting in one transaction, then answers every
request with its entries' indexes. Under load, one commit carries many
decisions; alone, a request waits for its own commit. Nothing is answered
before its entry is committed.

A decision is made before its commit, against the cached context, without
asking the store whether that context is still current. The writer asks
instead, once per group, holding the log's append lock: it reads the log's
size, brings the context up to it (entries written by any process), and
decides again every job made under an older context; a job whose API key was
revoked meanwhile is refused. So each logged decision was made under every
state change logged before it — the same guarantee a per-request check would
give, without a query per request.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection

from ..decision.decide import DecisionContext
from ..store import Store
from .apikeys import KeyCache
from .context import ContextCache

Entries = Sequence[tuple[str, dict[str, Any]]]
MAX_GROUP = 5_000  # entries in one commit
T = TypeVar("T")


@dataclass(frozen=True)
class Prepared(Generic[T]):
    """What a job logs, and how it answers once its entries have their indexes."""

    entries: Entries
    answer: Callable[[list[int]], T]


@dataclass
class _Job:
    prepared: Prepared[Any]
    done: Future[Any]
    # For decisions: the context they were made under and how to make them again.
    ctx: DecisionContext | None = None
    redo: Callable[[DecisionContext], Prepared[Any]] | None = None
    # The API key that asked, and the key cache's generation when it was checked.
    key_id: str | None = None
    key_generation: int = 0


class Journal:
    def __init__(
        self, store: Store, contexts: ContextCache | None = None, keys: KeyCache | None = None
    ) -> None:
        self.store = store
        self.contexts = contexts
        self.keys = keys
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._conn: Connection | None = None  # the writer thread's only
        self.commits = 0
        self.entries = 0
        """Transactions committed and entries they appended (entries / commits: the group size)."""
        self.redone = 0
        """Jobs decided again at commit because the log had moved on: for tests and metrics."""

    def append(self, kind: str, data: dict[str, Any]) -> int:
        return self.append_many([(kind, data)])[0]

    def append_many(self, entries: Entries) -> list[int]:
        """Append ``entries`` (together, in order) and return their indexes once committed."""
        return self.submit(Prepared(entries, list)).result()

    def submit(self, prepared: Prepared[T]) -> Future[T]:
        """Queue entries that hold no decision; the future gives their answer."""
        return self._put(_Job(prepared, Future()))

    def submit_decision(
        self,
        make: Callable[[DecisionContext], Prepared[T]],
        key_id: str | None = None,
        key_generation: int = 0,
    ) -> Future[T]:
        """Decide with ``make`` under the cached context now, and queue the result;
        at commit it is made again if the context has changed since. ``key_id``,
        checked when the key cache was at ``key_generation``, is checked again at
        commit if a key was created or revoked meanwhile."""
        if self.contexts is None:
            raise RuntimeError("a journal without a context cache cannot log decisions")
        ctx = self.contexts.current()
        job = _Job(make(ctx), Future(), ctx, make, key_id, key_generation)
        return self._put(job)

    def close(self) -> None:
        with self._start_lock:
            if self._thread is not None:
                self._queue.put(None)
                self._thread.join()
                self._thread = None

    def _put(self, job: _Job) -> Future[Any]:
        self._ensure_started()
        self._queue.put(job)
        return job.done

    def _ensure_started(self) -> None:
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="trainguard-journal", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        try:
            self._serve()
        finally:
            self._disconnect()

    def _serve(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            count = len(first.prepared.entries)
            while count < MAX_GROUP:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)  # finish this group, then stop
                    break
                group.append(nxt)
                count += len(nxt.prepared.entries)
            self._commit(group)

    def _commit(self, group: list[_Job]) -> None:
        try:
            conn = self._connection()
            with conn.begin():
                # The log's append lock, held to the commit: nothing can be
                # logged between the check below and these entries.
                size = self.store.audit._head_size(conn)
                group = self._current(group, size)
                items = [entry for job in group for entry in job.prepared.entries]
                indexes = self.store.audit.append_many(conn, items)
        except BaseException as exc:  # each waiting request gets the error, not a hang
            self._disconnect()  # the next group starts on a new connection
            for job in group:
                _settle(job.done, error=exc)
            return
        self.commits += 1
        self.entries += len(indexes)
        if self.contexts is not None and indexes:
            self.contexts.note_appended(indexes[0], len(indexes))
        at = 0
        for job in group:
            n = len(job.prepared.entries)
            try:
                answer = job.prepared.answer(indexes[at : at + n])
            except Exception as exc:  # pragma: no cover - a bug in an answer, not the log
                _settle(job.done, error=exc)
            else:
                _settle(job.done, answer)
            at += n

    def _connection(self) -> Connection:
        """The writer's own connection, kept between groups: opening one (and, on
        SQLite, setting its pragmas) cost as much as a small group's inserts."""
        if self._conn is None:
            self._conn = self.store.engine.connect().execution_options(tg_write=True)
        return self._conn

    def _disconnect(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):  # already broken: nothing left to release
                self._conn.close()
            self._conn = None

    def _current(self, group: list[_Job], size: int) -> list[_Job]:
        """The jobs of ``group`` that may be logged at ``size``, each decided under
        the context as of that size; the others are answered with their error."""
        if self.contexts is None or all(job.ctx is None for job in group):
            return group
        ctx = self.contexts.up_to(size)
        kept = []
        for job in group:
            try:
                keys = self.keys
                if job.key_id and keys is not None and job.key_generation != keys.generation:
                    keys.check_still_valid(job.key_id)
                if job.redo is not None and job.ctx is not ctx:
                    job.prepared, job.ctx = job.redo(ctx), ctx
                    self.redone += 1
            except Exception as exc:  # this job's answer is the error; the others go on
                _settle(job.done, error=exc)
                continue
            kept.append(job)
        return kept


def _settle(done: Future[Any], result: Any = None, error: BaseException | None = None) -> None:
    """Answer a job once; a job already answered (refused) or given up by its
    caller is left as it is, and the writer goes on."""
    try:
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(result)
    except InvalidStateError:
        pass
