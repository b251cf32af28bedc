"""Scans: posted texts against the caller's tenant's content, or (the operator)
corpus files on the server; queued, then read back by id."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from ...errors import InputError
from ...limits import MAX_SCAN_DOCUMENTS
from ...scan import Fields, ScanConfig, ScanOptions
from ...scan.engine import matcher_for
from ...scan.findings import finding_json
from ..access import OPERATOR, SCAN_READ, SCAN_SUBMIT, FieldNotFound, Principal
from ..scanning import scan_files
from ..scans import ScanJob
from .base import Base


class ScanOps(Base):
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
