"""A model's training-content summary and the auditor's report: the caller's
part of each (a tenant key: its own tenant's)."""

from __future__ import annotations

from typing import Any

from ...explain.report import report_html
from .. import reports
from ..access import Principal
from .base import Base


class ReportOps(Base):
    def training_summary(
        self,
        who: Principal,
        model: str,
        provider: str | None = None,
        contact: str | None = None,
        tenant: str | None = None,
    ) -> dict[str, Any]:
        return reports.summary(who, self.store, model, provider, contact, tenant)

    def report(self, who: Principal, tenant: str | None = None) -> str:
        """The report as one self-contained HTML page."""
        return report_html(reports.report(who, self.store, tenant))
