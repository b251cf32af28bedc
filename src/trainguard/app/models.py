"""Registering a model as trained on gate outputs: the platform's act, for the
operator's key and the local operator. The store writes the model, its
manifests and the ``model.register`` entry in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ..lineage import Model, register_model
from .access import OPERATOR, Principal

if TYPE_CHECKING:
    from ..store import Store


def register(
    who: Principal,
    store: Store,
    name: str,
    manifests: Sequence[str | Path],
    trained_at: datetime | None = None,
) -> Model:
    who.require(*OPERATOR)
    return register_model(store, name, list(manifests), trained_at)
