"""``decide_batch``: the decision for every row of an Arrow table, vectorized.

Rows that share tenant, category set, version in force at collection and
"collected after the time of use?" share every part of the decision except,
when the terms need each subject's consent, the subjects. So the table is
compiled into integer keys with Arrow's hash kernels, :func:`decide_core` runs
once per distinct key (and per distinct subject set where consent needs it),
and the answers are scattered back with ``take``. Agreement with ``decide`` is
by construction, and the per-row work is all numpy/Arrow.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InputError
from ..timeutil import ensure_utc, now_utc, to_micros
from .decide import CoreDecision, DecisionContext, decide_core

DECISION_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("allowed", pa.bool_()),
        ("reasons", pa.list_(pa.string())),
        ("rules", pa.list_(pa.string())),
        ("policy_at_use", pa.string()),
        ("policy_at_collection", pa.string()),
        ("consents", pa.list_(pa.string())),
    ]
)

_CATEGORY_COLUMNS = ("categories", "category")
_SCOPE = "__scope__"
_KNOWN = "__known__"


def decide_batch(
    ctx: DecisionContext,
    table: pa.Table | pa.RecordBatch,
    use: str,
    at: datetime | None = None,
    memo: dict[Any, Any] | None = None,
) -> pa.Table:
    """Decide every row of ``table`` for ``use`` at ``at`` (default: now).

    ``memo``, a dict the caller keeps between calls, remembers the answer for
    each (tenant, categories, version at collection, collected after use?
    [, subjects]) across batches of one run; it is cleared whenever the
    context, use or time differ from the call that filled it.

    Columns read: ``id``, ``tenant``, ``category`` (string) or ``categories``
    (list of strings), ``collected_at`` (timestamp with a timezone, or ISO
    8601 strings), optionally ``subjects`` (list of strings) and
    ``derived_categories`` (list of strings inherited from sources). Returns a
    table in :data:`DECISION_SCHEMA`, one row per input row, in order.
    """
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    ids = _string_column(table, "id") if table.num_rows else pa.array([], pa.string())
    codes, decisions = decide_codes(ctx, table, use, at, memo)
    if table.num_rows == 0:
        return DECISION_SCHEMA.empty_table()
    # Only the decisions this batch uses (with a memo, ``decisions`` is the run's).
    used, inverse = np.unique(codes, return_inverse=True)
    results = [decisions[int(k)] for k in used]
    take = pa.array(inverse.reshape(-1))
    return pa.table(
        [
            ids,
            pa.array([r.allowed for r in results], pa.bool_()).take(take),
            pa.array([list(r.reasons) for r in results], pa.list_(pa.string())).take(take),
            pa.array([list(r.rules) for r in results], pa.list_(pa.string())).take(take),
            pa.array(
                [r.policy_at_use.hash if r.policy_at_use else None for r in results], pa.string()
            ).take(take),
            pa.array(
                [r.policy_at_collection.hash if r.policy_at_collection else None for r in results],
                pa.string(),
            ).take(take),
            pa.array([list(r.consents) for r in results], pa.list_(pa.string())).take(take),
        ],
        schema=DECISION_SCHEMA,
    )


class _Known:
    """The decisions of a run so far, looked up by integer key without Python per key.

    A key packs a run-wide id of the tenant and one of the category set with the
    version in force at collection and the after-use flag. ``keys`` is sorted and
    ``codes`` holds each key's place in ``decisions``; decisions that depend on
    subjects are found by (code, subjects) in ``by_subjects``.

    Tenants with no event in the consent ledger share their policy family's id:
    ``decide_core`` reads a tenant only through its family and its events, so
    their decisions are the same — with many tenants, one decision per family
    and key instead of one per tenant. Tenants under no terms (not assigned, no
    default, or a name no tenant may have) share the family None: UNKNOWN_TENANT."""

    def __init__(self) -> None:
        self.tenants: dict[str, int] = {}  # tenant -> id of the tenant or of its family
        self._groups: dict[tuple[str, str | None], int] = {}
        self.catsets: dict[tuple[str, ...], int] = {}
        self.keys = np.empty(0, np.int64)
        self.codes = np.empty(0, np.int64)
        self.decisions: list[CoreDecision] = []
        self._needs_subjects = bytearray()  # per decision: 1 when subjects matter
        self.by_subjects: dict[tuple[int, tuple[str, ...]], int] = {}

    def tenant_ids(self, names: Sequence[str], ctx: DecisionContext) -> np.ndarray:
        ids = self.tenants
        out = np.empty(len(names), np.int64)
        for k, t in enumerate(names):
            found = ids.get(t)
            if found is None:
                group = ("tenant", t) if ctx.ledger.tenant_events(t) else (
                    "family", ctx.policies.family_for(t)
                )  # fmt: skip
                found = ids[t] = self._groups.setdefault(group, len(self._groups))
            out[k] = found
        return out

    def catset_ids(self, sets: Sequence[tuple[str, ...]]) -> np.ndarray:
        ids = self.catsets
        return np.array([ids.setdefault(c, len(ids)) for c in sets], np.int64)

    def add(self, core: CoreDecision) -> int:
        self.decisions.append(core)
        self._needs_subjects.append(core.depends_on_subjects)
        return len(self.decisions) - 1

    @property
    def needs_subjects(self) -> np.ndarray:
        """Per decision: whether subjects matter. (A copy: a view would pin the bytearray,
        and the next add could not grow it.)"""
        return np.frombuffer(bytes(self._needs_subjects), dtype=np.bool_)

    def insert(self, keys: np.ndarray, codes: np.ndarray) -> None:
        """Add keys not known yet (distinct), keeping ``keys`` sorted: one merge, O(known
        + new), not a sort of everything."""
        order = np.argsort(keys)
        keys, codes = keys[order], codes[order]
        at = np.searchsorted(self.keys, keys)
        self.keys, self.codes = np.insert(self.keys, at, keys), np.insert(self.codes, at, codes)


# Bits of a packed key below the tenant id (up to 2^31 tenants): the category set
# id (2^20 sets: sets of taxonomy categories, so far more than any taxonomy
# yields), the version index + 1 (2^11 versions of one family) and the flag. A
# run beyond these sizes is refused with a clear error rather than guessed at.
_TENANT_SHIFT = 32
_VERSION_BITS = 11
_CATSET_BITS = _TENANT_SHIFT - 1 - _VERSION_BITS


def decide_codes(
    ctx: DecisionContext,
    table: pa.Table | pa.RecordBatch,
    use: str,
    at: datetime | None = None,
    memo: dict[Any, Any] | None = None,
) -> tuple[np.ndarray, list[CoreDecision]]:
    """What :func:`decide_batch` decides, before it is spread over the rows: for
    each row a code, and the decisions the codes index. With a memo, ``decisions``
    is the run's own list: it only grows, and a code means the same decision in
    every batch of the run (the gate keeps one table of decisions by code)."""
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    n = table.num_rows
    when = ensure_utc(at, "at") if at is not None else now_utc()
    at_us = to_micros(when)
    # The scope holds the context itself (not its id), so it cannot be mistaken
    # for a later context that happens to reuse the same address.
    scope = memo.get(_SCOPE) if memo is not None else None
    if memo is not None and (scope is None or scope[0] is not ctx or scope[1:] != (use, at_us)):
        memo.clear()
        memo[_SCOPE] = (ctx, use, at_us)
    known: _Known = memo.setdefault(_KNOWN, _Known()) if memo is not None else _Known()
    if n == 0:
        return np.zeros(0, dtype=np.int64), known.decisions

    _string_column(table, "id")  # checked here too: no decision for a row without an id
    tenants = _string_column(table, "tenant")
    tenant_codes, tenant_names = _encode(tenants)

    cat_values, cat_parents = _category_values(table)
    catset_codes, catsets = _set_codes(cat_values, cat_parents, n, small=True)

    collected = collected_micros(table)
    # A missing collection time cannot be placed before the time of use: it
    # becomes INVALID_TIME, a deny, rather than a guess.
    collected = np.where(collected == NULL_TIME, at_us + 1, collected)

    ps = ctx.policies
    p0 = np.full(n, -1, dtype=np.int64)
    families = [ps.family_for(t) for t in tenant_names]
    for fam in set(families):
        if fam is None or fam not in ps.families:
            continue
        fam_tenants = np.array([i for i, f in enumerate(families) if f == fam], dtype=np.int64)
        rows = np.isin(tenant_codes, fam_tenants)
        starts = np.array([p.effective_micros for p in ps.families[fam]], dtype=np.int64)
        p0[rows] = np.searchsorted(starts, collected[rows], side="right") - 1
    invalid = (collected > at_us).astype(np.int64)

    # Run-wide ids of this batch's tenants and category sets, then one key per row.
    tenant_ids = known.tenant_ids(tenant_names, ctx)
    catset_ids = known.catset_ids(catsets)
    if (
        len(known.tenants) >= 1 << 31  # (ids are fewer than tenants)
        or len(known.catsets) >= 1 << _CATSET_BITS
        or p0.max() + 1 >= 1 << _VERSION_BITS
    ):
        raise InputError(
            "too many distinct tenants, category sets or policy versions in one run "
            "to decide in batches; split the input"
        )
    key = (
        (tenant_ids[tenant_codes] << _TENANT_SHIFT)
        + (((catset_ids[catset_codes] << _VERSION_BITS) + (p0 + 1)) << 1)
        + invalid
    )
    key_codes, distinct = _encode_ints_with_values(key)
    distinct_keys = np.asarray(distinct, np.int64)
    where = np.searchsorted(known.keys, distinct_keys)
    found = where < len(known.keys)
    found[found] = known.keys[where[found]] == distinct_keys[found]
    codes_of_key = np.empty(len(distinct_keys), np.int64)
    codes_of_key[found] = known.codes[where[found]]
    missing = np.flatnonzero(~found)
    if missing.size:
        rep = np.empty(len(distinct_keys), dtype=np.int64)
        rep[key_codes] = np.arange(n, dtype=np.int64)
        for k in missing.tolist():
            row = int(rep[k])
            core = decide_core(
                ctx,
                tenant_names[tenant_codes[row]],
                catsets[catset_codes[row]],
                int(collected[row]),
                (),
                use,
                at_us,
            )
            codes_of_key[k] = known.add(core)
        known.insert(distinct_keys[missing], codes_of_key[missing])
    result_idx = codes_of_key[key_codes]

    stage2_rows = np.flatnonzero(known.needs_subjects[result_idx])
    if stage2_rows.size:
        subj_values, subj_parents = _subject_values(table)
        subj_codes, subj_sets = _set_codes(subj_values, subj_parents, n, small=False)
        key2 = result_idx[stage2_rows] * len(subj_sets) + subj_codes[stage2_rows]
        key2_codes, n_keys2 = _encode_ints(key2)
        rep2 = np.empty(n_keys2, dtype=np.int64)
        rep2[key2_codes] = stage2_rows
        codes2 = np.empty(n_keys2, dtype=np.int64)
        for k in range(n_keys2):
            row = int(rep2[k])
            subjects = subj_sets[subj_codes[row]]
            memo_key = (int(result_idx[row]), subjects)
            code = known.by_subjects.get(memo_key)
            if code is None:
                tenant, cats = tenant_names[tenant_codes[row]], catsets[catset_codes[row]]
                core = decide_core(ctx, tenant, cats, int(collected[row]), subjects, use, at_us)
                code = known.by_subjects[memo_key] = known.add(core)
            codes2[k] = code
        result_idx[stage2_rows] = codes2[key2_codes]

    return result_idx, known.decisions


# --- column helpers -----------------------------------------------------------------------

# Stands for a missing collection time in int64 microsecond columns.
NULL_TIME = np.iinfo(np.int64).min


def _column(table: pa.Table, name: str) -> pa.Array:
    if name not in table.column_names:
        raise InputError(f"input has no column {name!r} (columns: {', '.join(table.column_names)})")
    return table.column(name).combine_chunks()


def _string_column(table: pa.Table, name: str) -> pa.Array:
    col = _column(table, name)
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        try:
            col = col.cast(pa.string())
        except pa.ArrowInvalid as exc:
            raise InputError(f"column {name!r} of type {col.type} cannot be read as text") from exc
    if col.null_count:
        first = int(np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False))[0])
        raise InputError(
            f"column {name!r} has {col.null_count} empty values (first at row {first})"
        )
    return col.cast(pa.string())


def _encode(values: pa.Array) -> tuple[np.ndarray, list[str]]:
    enc = pc.dictionary_encode(values)
    return (
        enc.indices.to_numpy(zero_copy_only=False).astype(np.int64),
        enc.dictionary.to_pylist(),
    )


def _encode_ints(values: np.ndarray) -> tuple[np.ndarray, int]:
    codes, distinct = _encode_ints_with_values(values)
    return codes, len(distinct)


def _encode_ints_with_values(values: np.ndarray) -> tuple[np.ndarray, Sequence[int]]:
    """Dense codes for integer keys (Arrow's hash kernel, no sort) and the distinct keys."""
    enc = pc.dictionary_encode(pa.array(values))
    return (
        enc.indices.to_numpy(zero_copy_only=False).astype(np.int64),
        enc.dictionary.to_pylist(),
    )


def _list_parts(col: pa.Array, name: str) -> tuple[pa.Array, np.ndarray]:
    """Flattened string values of a list column and the row each came from."""
    if pa.types.is_large_list(col.type):
        col = col.cast(pa.list_(col.type.value_type))
    if not pa.types.is_list(col.type):
        raise InputError(f"column {name!r} must be a list of strings, not {col.type}")
    parents = pc.list_parent_indices(col).to_numpy(zero_copy_only=False).astype(np.int64)
    values = pc.list_flatten(col)
    if not pa.types.is_string(values.type):
        values = values.cast(pa.string())
    return values.fill_null(""), parents


def _category_values(table: pa.Table) -> tuple[pa.Array, np.ndarray]:
    name = next((c for c in _CATEGORY_COLUMNS if c in table.column_names), None)
    if name is None:
        raise InputError("input has no column 'category' or 'categories'")
    col = table.column(name).combine_chunks()
    if pa.types.is_list(col.type) or pa.types.is_large_list(col.type):
        values, parents = _list_parts(col, name)
    else:
        # Null categories become "", which no taxonomy knows: UNKNOWN_CATEGORY.
        values = col.cast(pa.string()).fill_null("")
        parents = np.arange(len(col), dtype=np.int64)
    if "derived_categories" in table.column_names:
        more, more_parents = _list_parts(
            table.column("derived_categories").combine_chunks(), "derived_categories"
        )
        values = pa.concat_arrays([values, more])
        parents = np.concatenate([parents, more_parents])
    return values, parents


def _subject_values(table: pa.Table) -> tuple[pa.Array, np.ndarray]:
    if "subjects" not in table.column_names:
        return pa.array([], pa.string()), np.zeros(0, dtype=np.int64)
    return _list_parts(table.column("subjects").combine_chunks(), "subjects")


def _set_codes(
    values: pa.Array, parents: np.ndarray, n: int, *, small: bool
) -> tuple[np.ndarray, list[tuple[str, ...]]]:
    """A code per row for the *set* of values it holds, and the sets by code."""
    codes, names = _encode(values) if len(values) else (np.zeros(0, np.int64), [])
    if len(parents) == n and np.array_equal(parents, np.arange(n)):
        # One value a row (a category column): each value is its own set.
        return codes, [(name,) for name in names]
    if small and len(names) <= 63:
        masks = np.zeros(n, dtype=np.uint64)
        np.bitwise_or.at(masks, parents, np.left_shift(np.uint64(1), codes.astype(np.uint64)))
        set_codes, uniq = _encode_ints_with_values(masks)
        sets = [
            tuple(sorted(names[b] for b in range(len(names)) if (int(m) >> b) & 1)) for m in uniq
        ]
        return set_codes, sets
    order = np.lexsort((codes, parents))
    p, c = parents[order], codes[order]
    keep = np.ones(len(p), dtype=bool)
    keep[1:] = (p[1:] != p[:-1]) | (c[1:] != c[:-1])
    p, c = p[keep], c[keep]
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(np.bincount(p, minlength=n), out=offsets[1:])
    lists = pa.ListArray.from_arrays(pa.array(offsets), pa.array(c).cast(pa.string()))
    joined = pc.binary_join(lists, ",")
    enc = pc.dictionary_encode(joined)
    set_codes = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    sets = [
        tuple(sorted(names[int(x)] for x in s.split(","))) if s else ()
        for s in enc.dictionary.to_pylist()
    ]
    return set_codes, sets


def collected_micros(table: pa.Table, name: str = "collected_at") -> np.ndarray:
    """The column as int64 microseconds since the epoch (UTC); nulls as a sentinel."""
    col = _column(table, name)
    if pa.types.is_timestamp(col.type):
        if col.type.tz is None:
            raise InputError(
                f"column {name!r} holds timestamps without a timezone; store them as UTC "
                "(timestamp with tz) so records cannot shift across a policy boundary"
            )
        as_us = col.cast(pa.timestamp("us", tz="UTC"))
    elif pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        as_us = _parse_time_strings(col.cast(pa.string()), name)
    else:
        raise InputError(f"column {name!r} must be a timestamp or ISO 8601 text, not {col.type}")
    ints = as_us.cast(pa.int64())
    out: np.ndarray = ints.fill_null(NULL_TIME).to_numpy(zero_copy_only=False).astype(np.int64)
    return out


def _parse_time_strings(col: pa.Array, name: str) -> pa.Array:
    from ..timeutil import parse_instant

    try:
        # Arrow's ISO 8601 parser takes "Z" and "+hh:mm"; it is strict about
        # everything else, so anything it refuses goes through our own parser.
        return pc.strptime(col, format="%Y-%m-%dT%H:%M:%S%z", unit="us", error_is_null=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    # Each distinct text is parsed once (a batch's records share a few dates),
    # and the error names the first row that holds the refused text.
    encoded = col.dictionary_encode()
    indices = encoded.indices
    out: list[int | None] = []
    for j, v in enumerate(encoded.dictionary.to_pylist()):
        try:
            out.append(to_micros(parse_instant(v, "")))
        except InputError:
            i = int(pc.index(indices, pa.scalar(j, indices.type)).as_py())
            try:
                parse_instant(v, f"{name} row {i}")
            except InputError as exc:
                raise InputError(str(exc)) from None
            raise  # pragma: no cover - the same text fails the same way
    return pa.array(out, pa.int64()).take(indices).cast(pa.timestamp("us", tz="UTC"))
