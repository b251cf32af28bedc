"""Scans run in the background: submitted, polled, their findings fetched.

One worker thread runs the scans one at a time, with at most ``max_pending``
waiting; a scan submitted beyond that is refused (the client retries later),
so a burst of submissions cannot take unbounded memory. Finished jobs are
kept, newest first, up to ``max_kept``. A job's id is random: knowing one
tenant's job ids says nothing about another's.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..errors import TrainguardError
from ..timeutil import format_instant, now_utc


class Busy(TrainguardError):
    """Too many scans waiting: try again later."""


@dataclass
class ScanJob:
    id: str
    tenant: str | None  # None: an operator's scan over every tenant's content
    documents: int
    submitted_at: str
    status: str = "queued"  # queued, running, done, failed
    findings: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "documents": self.documents,
            "submitted_at": self.submitted_at,
            "findings": len(self.findings),
            "summary": self.summary,
            "error": self.error,
        }


class ScanJobs:
    def __init__(self, max_pending: int = 8, max_kept: int = 1_000) -> None:
        self.max_pending = max_pending
        self.max_kept = max_kept
        self._jobs: OrderedDict[str, ScanJob] = OrderedDict()
        self._lock = threading.Lock()
        self._pending = 0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trainguard-scan")

    def submit(
        self,
        tenant: str | None,
        documents: int,
        work: Callable[[], tuple[list[dict[str, Any]], dict[str, Any]]],
    ) -> ScanJob:
        with self._lock:
            if self._pending >= self.max_pending:
                raise Busy(f"scans: {self._pending} waiting already; submit again later")
            self._pending += 1
            job = ScanJob(
                "scan_" + secrets.token_hex(12), tenant, documents, format_instant(now_utc())
            )
            self._jobs[job.id] = job
            while len(self._jobs) > self.max_kept:
                oldest = next(iter(self._jobs.values()))
                if oldest.status in ("queued", "running"):
                    break
                self._jobs.popitem(last=False)
        self._pool.submit(self._run, job, work)
        return job

    def get(self, job_id: str) -> ScanJob | None:
        with self._lock:
            return self._jobs.get(job_id)

    def wait_idle(self) -> None:
        """Wait until every scan submitted so far has finished (one worker: a no-op
        queued now runs after them)."""
        self._pool.submit(lambda: None).result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _run(
        self, job: ScanJob, work: Callable[[], tuple[list[dict[str, Any]], dict[str, Any]]]
    ) -> None:
        job.status = "running"
        try:
            job.findings, job.summary = work()
            job.status = "done"
        except TrainguardError as exc:
            job.error, job.status = str(exc), "failed"
        except Exception as exc:  # a bug: the job says so, the service stays up
            job.error, job.status = f"internal error: {type(exc).__name__}", "failed"
        finally:
            with self._lock:
                self._pending -= 1
