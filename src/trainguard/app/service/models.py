"""Models: registered on gate manifests and listed (the operator); which of their
training records are now denied (a tenant key: its own records)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...decision.identity import check_model_name
from ...lineage import get_model, impact, list_models
from ...timeutil import parse_instant
from ..access import IMPACT_READ, OPERATOR, Principal, server_paths_hidden
from ..models import register
from .base import Base


class ModelOps(Base):
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
        if model is not None:
            get_model(self.store, model)  # a name the caller gave: not found is theirs to know
        what = f"model {model!r}: its gate manifests" if model else "the models' gate manifests"
        with server_paths_hidden(who, what):
            return [r.to_json() for r in impact(self.store, model, when, tenant=who.tenant)]
