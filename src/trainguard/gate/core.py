"""The gate for one batch: decide every row, keep the admitted ones, describe them all.

:class:`Gate` is what every entry point shares — the streaming run that
writes a gate output folder, the Arrow/pandas/polars helpers, and the
function Ray Data maps over blocks — so all of them decide alike.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..decision.batch import NULL_TIME, collected_micros, decide_codes
from ..decision.decide import DecisionContext
from ..errors import InputError
from ..timeutil import ensure_utc, now_utc
from .content import content_digests, digest_array
from .counts import PairCounts
from .decisions import DecisionTable
from .leaves import leaf_hashes
from .manifest import MANIFEST_SCHEMA
from .mapping import ColumnMapping, ResolvedMapping

# A source id the run could not find: no taxonomy knows this category, so a
# record derived from it is denied with UNKNOWN_CATEGORY rather than guessed at.
UNKNOWN_SOURCE = "?unknown-source"
_STR_LIST = pa.list_(pa.string())

# Given the rows that would be admitted and the content columns, say which
# of them hold registered customer content.
ContentCheck = Callable[[pa.RecordBatch, Sequence[str]], np.ndarray]


class UnscannableContent(InputError):
    """Raised by a content check for a record whose content it cannot read (``row``: its
    row in the batch it was given); the gate refuses the run, naming the record."""

    def __init__(self, message: str, row: int) -> None:
        super().__init__(message)
        self.row = row

    def __reduce__(self) -> tuple[type[UnscannableContent], tuple[str, int]]:
        return (type(self), (str(self), self.row))


@dataclass
class GateBatch:
    admitted: pa.RecordBatch
    manifest: pa.RecordBatch
    leaves: np.ndarray  # (n, 32) uint8 leaf hashes


# A record's name in a run: (tenant, id). Ids are scoped by tenant.
RecordKey = tuple[str, str]


@dataclass
class Lineage:
    """Categories of records by (tenant, id), so derived records can inherit them.

    A ``derived_from`` id names a record of the referring record's own tenant:
    another tenant's record of the same id never stands in for it, and there is
    no way to name a record of another tenant. A source that cannot be found
    makes the derived record's categories unknown (it is denied).
    """

    own: dict[RecordKey, tuple[str, ...]] = field(default_factory=dict)
    parents: dict[RecordKey, tuple[str, ...]] = field(default_factory=dict)
    known: dict[RecordKey, tuple[str, ...]] = field(default_factory=dict)  # earlier manifests
    # One string object per tenant, shared by its keys (a million keys, a few tenants).
    _tenants: dict[str, str] = field(default_factory=dict, repr=False)

    def add(
        self,
        tenants: Iterable[str],
        ids: Iterable[str],
        cats: Iterable[Sequence[str]],
        parents: Iterable[Sequence[str] | None],
    ) -> None:
        shared = self._tenants
        for tenant, rid, c, p in zip(tenants, ids, cats, parents, strict=True):
            key = (shared.setdefault(tenant, tenant), rid)
            # A repeated (tenant, id) refuses the run (:mod:`.unique`); until it is
            # caught, the name carries the categories and sources of every row holding
            # it, never only the last row's.
            before = self.own.get(key)
            self.own[key] = tuple(c) if before is None else tuple(sorted({*before, *c}))
            if p:
                self.parents[key] = (*self.parents.get(key, ()), *p)

    def effective(self, tenant: str, record_id: str) -> tuple[str, ...]:
        """Own categories ∪ everything inherited, transitively, within ``tenant``;
        unknown sources marked. A record both in this run and in an earlier manifest
        counts with the categories of both."""
        out: set[str] = set()
        stack, seen = [record_id], set()
        while stack:
            rid = stack.pop()
            if rid in seen:
                continue
            seen.add(rid)
            key = (tenant, rid)
            found = False
            if key in self.own:
                out.update(self.own[key])
                stack.extend(self.parents.get(key, ()))
                found = True
            if key in self.known:
                out.update(self.known[key])
                found = True
            if not found:
                out.add(UNKNOWN_SOURCE)
        return tuple(sorted(out))


class Gate:
    """Decides batches for one use at one time under one decision context."""

    def __init__(
        self,
        ctx: DecisionContext,
        use: str,
        at: datetime | None = None,
        mapping: ColumnMapping | None = None,
        lineage: Lineage | None = None,
        content_check: ContentCheck | None = None,
    ) -> None:
        ctx.taxonomy.check_use(use)
        self.ctx = ctx
        self.use = use
        self.at = ensure_utc(at, "at") if at is not None else now_utc()
        self.mapping = mapping or ColumnMapping()
        self.lineage = lineage
        self.content_check = content_check
        self._counts: Counter[tuple[str, bool, str]] = Counter()
        # Records by (category set, decision), not yet spelled out into counts.
        self._pairs = PairCounts()
        # Answers per distinct key, kept across batches: one use, one time.
        self.memo: dict[Any, Any] = {}
        self._policy_hashes: set[str] = set()
        self.decisions = DecisionTable()

    @property
    def text_columns(self) -> tuple[str, ...]:
        """Columns readers must leave as text (times keep their offsets)."""
        return (self.mapping.collected_at,)

    def resolve(self, schema: pa.Schema, source: str) -> ResolvedMapping:
        return self.mapping.resolve(schema, source, self.ctx.taxonomy)

    # --- one batch --------------------------------------------------------------------

    def run(
        self,
        batch: pa.RecordBatch | pa.Table,
        source: str = "input",
        m: ResolvedMapping | None = None,
    ) -> GateBatch:
        if isinstance(batch, pa.Table):
            batch = (
                batch.combine_chunks().to_batches()[0]
                if batch.num_rows
                else pa.RecordBatch.from_pylist([], schema=batch.schema)
            )
        m = m or self.resolve(batch.schema, source)
        n = batch.num_rows
        ids = text_column(batch, m.id, source, "id")
        own = self.own_categories(batch, m, source)
        derived = id_lists(batch, m.derived_from, n, source) if m.derived_from else None
        subjects = id_lists(batch, m.subjects, n, source) if m.subjects else _empty_lists(n)

        effective = own
        inherited = None
        tenants = text_column(batch, m.tenant, source, "tenant")
        if derived is not None and pc.sum(pc.list_value_length(derived)).as_py():
            id_list, tenant_list = ids.to_pylist(), tenants.to_pylist()
            lineage = self.lineage
            if lineage is None:  # no earlier pass: sources must be in this batch
                lineage = Lineage()
                lineage.add(tenant_list, id_list, own.to_pylist(), derived.to_pylist())
            has_parents = pc.list_value_length(derived).to_numpy(zero_copy_only=False) > 0
            eff = own.to_pylist()
            inh: list[list[str]] = [[] for _ in range(n)]
            for i in np.flatnonzero(has_parents).tolist():
                cats = lineage.effective(tenant_list[i], id_list[i])
                inh[i] = [c for c in cats if c not in eff[i]]
                eff[i] = list(cats)
            effective, inherited = pa.array(eff, _STR_LIST), pa.array(inh, _STR_LIST)

        meta_cols = {
            "id": ids,
            "tenant": tenants,
            "categories": own,
            "collected_at": batch.column(m.collected_at),
            "subjects": subjects,
        }
        if inherited is not None:
            meta_cols["derived_categories"] = inherited
        meta = pa.table(meta_cols)
        try:
            codes, decided = decide_codes(self.ctx, meta, self.use, self.at, self.memo)
        except InputError as exc:
            raise InputError(f"{source}: {exc}") from None
        numbers = self.decisions.numbers(codes, decided)

        digests = content_digests(batch, m.content)
        candidates = np.flatnonzero(self.decisions.allowed(numbers))
        if self.content_check is not None and candidates.size:
            try:
                hits = self.content_check(batch.take(pa.array(candidates)), m.content)
            except UnscannableContent as exc:  # fail closed: refuse, naming the record
                record = ids[int(candidates[exc.row])].as_py()
                raise InputError(f"{source}: record {record!r}: {exc}") from None
            if hits.any():
                flagged = candidates[hits]
                numbers[flagged] = self.decisions.kept_out(numbers[flagged])
        decision_columns = self.decisions.columns(numbers)
        allowed = decision_columns[0]

        micros = collected_micros(meta)
        collected = pa.array(micros, pa.int64(), mask=micros == NULL_TIME).cast(
            pa.timestamp("us", tz="UTC")
        )
        categories = CategorySets(effective)
        manifest = pa.RecordBatch.from_arrays(
            [
                ids,
                meta_cols["tenant"],
                categories.per_row,
                collected,
                subjects,
                derived if derived is not None else _empty_lists(n),
                digest_array(digests),
                *decision_columns,
            ],
            schema=MANIFEST_SCHEMA,
        )
        self._pairs.add(categories.labels, categories.codes, numbers)
        leaves = leaf_hashes(manifest, self.decisions.digests(numbers))
        return GateBatch(batch.filter(allowed), manifest, leaves)

    # --- helpers ----------------------------------------------------------------------

    def own_categories(self, batch: pa.RecordBatch, m: ResolvedMapping, source: str) -> pa.Array:
        n = batch.num_rows
        if m.category_value is not None:
            return pa.array([[m.category_value]] * n, _STR_LIST)
        assert m.category is not None
        col = batch.column(m.category)
        if pa.types.is_list(col.type) or pa.types.is_large_list(col.type):
            cats = col.cast(_STR_LIST)
        else:
            text = col.cast(pa.string())
            offsets = pa.array(np.arange(n + 1, dtype=np.int32))
            cats = pa.ListArray.from_arrays(offsets, text, mask=pc.is_null(text))
        values = pc.list_flatten(cats)
        bad_rows = pc.is_null(cats)
        if pc.any(bad_rows).as_py() or values.null_count:
            row = _first_true(bad_rows) if pc.any(bad_rows).as_py() else None
            raise InputError(
                f"{source}: column {m.category!r} is empty in row {row if row is not None else '?'}"
            )
        for value in pc.unique(values).to_pylist():
            if value not in self.ctx.taxonomy.categories:
                parents = pc.list_parent_indices(cats)
                first = int(parents[pc.index(values, value).as_py()].as_py())
                rid = batch.column(m.id)[first].as_py()
                raise InputError(
                    f"{source}: row {first} (id {rid!r}): unknown category {value!r} "
                    "(add it with `trainguard taxonomy add` or fix the data)"
                )
        return cats

    def _fold(self) -> None:
        counts, hashes = self._pairs.take(self.decisions)
        self._counts.update(counts)
        self._policy_hashes.update(hashes)

    @property
    def counts(self) -> Counter[tuple[str, bool, str]]:
        """Records by category set × allowed × reason (a record with two reasons
        counts under both)."""
        self._fold()
        return self._counts

    @property
    def policy_hashes(self) -> set[str]:
        """The policy versions the decisions so far rested on."""
        self._fold()
        return self._policy_hashes


def _empty_lists(n: int) -> pa.Array:
    return pa.ListArray.from_arrays(pa.array(np.zeros(n + 1, np.int32)), pa.array([], pa.string()))


def _first_true(mask: pa.Array) -> int:
    return int(np.flatnonzero(mask.to_numpy(zero_copy_only=False))[0])


def text_column(batch: pa.RecordBatch, name: str, source: str, role: str) -> pa.Array:
    col = batch.column(name)
    try:
        text = col.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise InputError(
            f"{source}: column {name!r} ({role}) of type {col.type} is not text"
        ) from None
    if text.null_count:
        raise InputError(
            f"{source}: column {name!r} ({role}) is empty in row {_first_true(pc.is_null(text))}"
        )
    return text


def id_lists(batch: pa.RecordBatch, name: str | None, n: int, source: str) -> pa.Array:
    assert name is not None
    col = batch.column(name)
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        # A lone id in a text column is a list of one; empty text is no list.
        text = col.cast(pa.string())
        lists = pa.array([[v] if v else [] for v in text.to_pylist()], _STR_LIST)
        return lists
    try:
        lists = col.cast(_STR_LIST)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise InputError(
            f"{source}: column {name!r} must hold lists of ids, not {col.type}"
        ) from None
    if lists.null_count:
        lists = pa.array([v or [] for v in lists.to_pylist()], _STR_LIST)
    return lists


class CategorySets:
    """Each record's categories as a sorted set (worked out once per distinct list), a
    code per distinct list, and each code's label (the set joined by ``+``)."""

    def __init__(self, lists: pa.Array) -> None:
        lengths = pc.list_value_length(lists)
        if lists.null_count == 0 and lists.offset == 0 and pc.all(pc.equal(lengths, 1)).as_py():
            # One category a record (a category column): the lists are their sets.
            enc = pc.dictionary_encode(pc.list_flatten(lists))
            distinct = [[k] for k in enc.dictionary.to_pylist()]
            self.per_row = lists
        else:
            enc = pc.dictionary_encode(pc.binary_join(lists, "\x1f"))
            distinct = [
                sorted(set(k.split("\x1f"))) if k else [] for k in enc.dictionary.to_pylist()
            ]
            self.per_row = pa.array(distinct, _STR_LIST).take(enc.indices)
        self.codes = np.asarray(enc.indices.to_numpy(zero_copy_only=False), np.int64)
        self.labels = ["+".join(d) for d in distinct]


def categories_by_key(manifests: Iterable[pa.Table]) -> Mapping[RecordKey, tuple[str, ...]]:
    """Effective categories of every record of earlier manifests, by (tenant, id), for
    inheritance. A record in several manifests (or twice in one written before ids had
    to be unique) counts with the categories of all its rows."""
    out: dict[RecordKey, tuple[str, ...]] = {}
    for table in manifests:
        for tenant, rid, cats in zip(
            table.column("tenant").to_pylist(),
            table.column("id").to_pylist(),
            table.column("categories").to_pylist(),
            strict=True,
        ):
            key = (tenant, rid)
            before = out.get(key)
            out[key] = tuple(cats) if before is None else tuple(sorted({*before, *cats}))
    return out
