"""Models, the gate manifests they were trained on, and the impact of later changes.

A model is registered with the gate output folders of its training data.
Each manifest's Merkle root is checked and kept, so a manifest edited after
registration is caught. ``impact`` re-decides every admitted record of every
manifest under the ledger and terms in force now (or at ``at``): the models
whose training data now holds records that would be denied are listed, with
counts by reason and the record ids, for retraining or unlearning.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import insert, select

from .decision.batch import decide_batch
from .decision.identity import check_model_name
from .errors import ConflictError, InputError, IntegrityError, NotFoundError
from .gate.manifest import manifest_tree, read_manifest
from .store import schema as t
from .timeutil import ensure_utc, format_instant, from_micros, now_utc, parse_instant, to_micros

if TYPE_CHECKING:
    from .store import Store


@dataclass(frozen=True)
class ModelManifest:
    path: str
    root: str
    use: str
    at: datetime
    records: int
    admitted: int


@dataclass(frozen=True)
class Model:
    name: str
    trained_at: datetime | None
    registered_at: datetime
    manifests: tuple[ModelManifest, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "trained_at": format_instant(self.trained_at) if self.trained_at else None,
            "registered_at": format_instant(self.registered_at),
            "records": sum(m.admitted for m in self.manifests),
            "manifests": [
                {
                    "path": m.path,
                    "root": m.root,
                    "use": m.use,
                    "at": format_instant(m.at),
                    "records": m.records,
                    "admitted": m.admitted,
                }
                for m in self.manifests
            ],
        }


def register_model(
    store: Store, name: str, manifest_dirs: list[str | Path], trained_at: datetime | None = None
) -> Model:
    """Register ``name`` as trained on the admitted records of these gate outputs."""
    check_model_name(name)
    if not manifest_dirs:
        raise InputError("model register: give at least one --manifest folder")
    entries = []
    for d in manifest_dirs:
        meta, table = read_manifest(d)
        root = manifest_tree(table).root().hex()
        if meta.get("merkle", {}).get("root") != root:
            raise IntegrityError(f"{d}: manifest.parquet does not match the root in manifest.json")
        entries.append(
            ModelManifest(
                path=str(Path(d).resolve()),
                root=root,
                use=str(meta["use"]),
                at=parse_instant(str(meta["at"]), f"{d}: manifest.json at"),
                records=int(meta["records"]),
                admitted=int(meta["admitted"]),
            )
        )
    when = ensure_utc(trained_at, "--trained-at") if trained_at else None
    registered = now_utc()
    with store.write() as conn:
        if conn.execute(select(t.models.c.name).where(t.models.c.name == name)).first():
            raise ConflictError(f"model {name!r} is already registered")
        conn.execute(
            insert(t.models).values(
                name=name,
                trained_at_us=to_micros(when) if when else None,
                registered_at_us=to_micros(registered),
            )
        )
        conn.execute(
            insert(t.model_manifests),
            [
                {
                    "model": name,
                    "position": i,
                    "path": m.path,
                    "root": m.root,
                    "use": m.use,
                    "at_us": to_micros(m.at),
                    "records": m.records,
                    "admitted": m.admitted,
                }
                for i, m in enumerate(entries)
            ],
        )
        model = Model(name, when, registered, tuple(entries))
        store.audit.append(conn, "model.register", model.to_json(), at=registered)
    return model


def list_models(store: Store) -> list[Model]:
    with store.read() as conn:
        rows = conn.execute(select(t.models).order_by(t.models.c.name)).all()
        parts = conn.execute(
            select(t.model_manifests).order_by(
                t.model_manifests.c.model, t.model_manifests.c.position
            )
        ).all()
    by_model: dict[str, list[ModelManifest]] = {}
    for p in parts:
        by_model.setdefault(p.model, []).append(
            ModelManifest(p.path, p.root, p.use, from_micros(p.at_us), p.records, p.admitted)
        )
    return [
        Model(
            r.name,
            from_micros(r.trained_at_us) if r.trained_at_us is not None else None,
            from_micros(r.registered_at_us),
            tuple(by_model.get(r.name, [])),
        )
        for r in rows
    ]


def get_model(store: Store, name: str) -> Model:
    for m in list_models(store):
        if m.name == name:
            return m
    raise NotFoundError(f"model {name!r} is not registered")


# --- impact ----------------------------------------------------------------------------


@dataclass
class ModelImpact:
    name: str
    records: int = 0
    now_denied: int = 0
    by_reason: Counter[str] = field(default_factory=Counter)
    record_ids: list[str] = field(default_factory=list)

    @property
    def affected(self) -> bool:
        return self.now_denied > 0

    def to_json(self, with_ids: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model": self.name,
            "records": self.records,
            "now_denied": self.now_denied,
            "by_reason": dict(sorted(self.by_reason.items())),
        }
        if with_ids:
            out["record_ids"] = self.record_ids
        return out


def impact(
    store: Store, model: str | None = None, at: datetime | None = None, tenant: str | None = None
) -> list[ModelImpact]:
    """Re-decide every admitted record of each model's manifests at ``at`` (default now);
    with ``tenant``, only that tenant's records (counted and listed)."""
    models = [get_model(store, model)] if model else list_models(store)
    ctx = store.context()
    when = ensure_utc(at, "--at") if at else now_utc()
    out = []
    for m in models:
        result = ModelImpact(m.name)
        for part in m.manifests:
            _, table = read_manifest(part.path)
            if manifest_tree(table).root().hex() != part.root:
                raise IntegrityError(
                    f"model {m.name!r}: manifest {part.path} changed since it was registered"
                )
            trained = table.filter(pc.field("allowed"))
            if tenant is not None:
                trained = trained.filter(pc.field("tenant") == tenant)
            result.records += trained.num_rows
            if trained.num_rows == 0:
                continue
            records = pa.table(
                {
                    "id": trained.column("id"),
                    "tenant": trained.column("tenant"),
                    "categories": trained.column("categories"),
                    "collected_at": trained.column("collected_at"),
                    "subjects": trained.column("subjects"),
                }
            )
            decisions = decide_batch(ctx, records, part.use, when)
            denied = decisions.filter(pc.invert(decisions.column("allowed")))
            result.now_denied += denied.num_rows
            result.record_ids.extend(denied.column("id").to_pylist())
            for reasons in denied.column("reasons").to_pylist():
                result.by_reason.update(reasons)
        out.append(result)
    return out
