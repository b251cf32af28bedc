"""What verification gathers from the log entries for the state check.

While the leaves are checked, each chunk of rows also passes through
:class:`LogScan`: the ``kind`` column is held to the kind inside the body (the
column is not covered by the leaf hash, and the state check selects entries
by it), the bodies of state-bearing entries are kept for the replay, and rows
whose body is erased are noted with their kind and leaf for the redaction check.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np
import orjson

from ..canonical import canonical_json

# Every kind whose entry sets a row of a table decisions (or the log) read.
LOG_ORIGIN = "log.origin"
POLICY_ADDED = "policy.added"
DEFAULT_FAMILY = "policy.default_family"
TENANT_FAMILY = "tenant.family"
TAXONOMY_EXTENDED = "taxonomy.extended"
CONSENT_GRANT = "consent.grant"
CONSENT_WITHDRAW = "consent.withdraw"
MODEL_REGISTER = "model.register"
REDACTED = "audit.redacted"
# The signing key the log pins, and each hand-over to a new one: the writer
# keeps the key in force in tg_settings (audit_key, audit_max_unsigned).
KEY_PINNED = "audit.key_pinned"
KEY_ROTATED = "audit.key_rotated"
# The HTTP service's keys, and the notices people were shown: not read by
# decisions, but a row forged there opens the service or fakes a record.
APIKEY_CREATED = "apikey.created"
APIKEY_REVOKED = "apikey.revoked"
NOTICE_STORED = "notice.stored"
NOTICE_SERVED = "notice.served"
NOTICE_ACKNOWLEDGED = "notice.acknowledged"
STATE_KINDS = frozenset(
    {
        KEY_PINNED,
        KEY_ROTATED,
        LOG_ORIGIN,
        POLICY_ADDED,
        DEFAULT_FAMILY,
        TENANT_FAMILY,
        TAXONOMY_EXTENDED,
        CONSENT_GRANT,
        CONSENT_WITHDRAW,
        MODEL_REGISTER,
        REDACTED,
        APIKEY_CREATED,
        APIKEY_REVOKED,
        NOTICE_STORED,
        NOTICE_SERVED,
        NOTICE_ACKNOWLEDGED,
    }
)
# Consent and notice-event entries name a person (personal data) and their rows
# can be held to a digest; the other state entries carry none and could not be
# checked once erased.
CONSENT_KINDS = frozenset({CONSENT_GRANT, CONSENT_WITHDRAW})
NOTICE_EVENT_KINDS = frozenset({NOTICE_SERVED, NOTICE_ACKNOWLEDGED})
REDACTABLE_STATE_KINDS = CONSENT_KINDS | NOTICE_EVENT_KINDS

# Single decisions are kept too: verify makes each again under the replayed state.
DECISION = "decision"
KEPT_KINDS = STATE_KINDS | {DECISION}

Fault = tuple[str, int | None]


@dataclass
class LogScan:
    """State-bearing and decision entries (index, body) in log order, and erased rows by index."""

    entries: list[tuple[int, bytes]] = field(default_factory=list)
    erased: dict[int, tuple[str, bytes]] = field(default_factory=dict)
    tables: Any = None  # the state tables, read in the same snapshot (state.StateTables)
    redecided: int = 0  # logged decisions made again and found the same
    not_redecided: int = 0  # logged decisions that could not be made again (see redecide)

    def take_arrow(self, batch: Any, start: int, good: int) -> Fault | None:
        """Rows ``[0, good)`` of an Arrow batch of (idx, leaf_hash, body, kind)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        leaf_col = batch.column(1).slice(0, good)
        body_col = batch.column(2).slice(0, good)
        kind_col = batch.column(3).slice(0, good)
        present = body_col.is_valid().to_numpy(zero_copy_only=False)
        body_offsets = _offsets(body_col)
        body_buf = body_col.buffers()[2]
        data = np.frombuffer(body_buf, np.uint8) if body_buf is not None else np.zeros(1, np.uint8)
        kind_buf = kind_col.buffers()[2]
        kinds = np.frombuffer(kind_buf, np.uint8) if kind_buf is not None else np.zeros(1, np.uint8)
        mismatch = _kind_tail_mismatches(data, body_offsets, present, kinds, _offsets(kind_col))
        for i in np.flatnonzero(mismatch).tolist():
            fault = _kind_fault(start + i, body_col[i].as_py(), kind_col[i].as_py())
            if fault is not None:
                return fault
        if not present.all():
            for i in np.flatnonzero(~present).tolist():
                self.erased[start + i] = (kind_col[i].as_py(), leaf_col[i].as_py())
        wanted = pc.is_in(kind_col, value_set=pa.array(sorted(KEPT_KINDS)))
        wanted = pc.and_(wanted, pa.array(present))
        if pc.any(wanted).as_py():
            rows = np.flatnonzero(wanted.to_numpy(zero_copy_only=False)) + start
            bodies = body_col.filter(wanted).to_pylist()
            self.entries.extend(zip(rows.tolist(), bodies, strict=True))
        return None

    def take_rows(
        self, start: int, leaves: Sequence[Any], bodies: Sequence[Any], kinds: Sequence[str]
    ) -> Fault | None:
        """Rows from the driver: leaf hashes, bodies (None when erased) and kinds."""
        tails: dict[str, bytes] = {}
        for i, (body, kind) in enumerate(zip(bodies, kinds, strict=True)):
            if body is None:
                self.erased[start + i] = (kind, bytes(leaves[i]))
                continue
            tail = tails.get(kind)
            if tail is None:
                tail = tails[kind] = b',"kind":' + canonical_json(kind) + b"}"
            raw = body if isinstance(body, bytes) else bytes(body)
            if not raw.endswith(tail):
                fault = _kind_fault(start + i, raw, kind)
                if fault is not None:
                    return fault
            if kind in KEPT_KINDS:
                self.entries.append((start + i, raw))
        return None


def _kind_fault(index: int, body: bytes, kind: str) -> Fault | None:
    """The slow look at a row whose body does not end with its kind column, as bytes."""
    try:
        entry = orjson.loads(body)
        inside = entry["kind"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return (f"entry {index}: body is not a log entry", index)
    if inside != kind:
        return (f"entry {index}: kind column says {kind!r} but the entry is {inside!r}", index)
    return None


def _offsets(col: Any) -> np.ndarray:
    """A string/binary Arrow array's offsets (32- or 64-bit), as int64."""
    import pyarrow as pa

    wide = pa.types.is_large_binary(col.type) or pa.types.is_large_string(col.type)
    raw = np.frombuffer(col.buffers()[1], dtype=np.int64 if wide else np.int32)
    return raw[col.offset : col.offset + len(col) + 1].astype(np.int64)


@numba.njit(cache=True)
def _kind_tail_mismatches(
    data: Any, offsets: Any, present: Any, kinds: Any, kind_offsets: Any
) -> Any:  # pragma: no cover - compiled
    """Rows whose body does not end with ``,"kind":"<kind column>"}``.

    Keys are sorted, so ``kind`` is the last member of every canonical entry.
    A kind holding a character JSON escapes is flagged too; the caller then
    looks at that row the slow way.
    """
    pattern = np.array([44, 34, 107, 105, 110, 100, 34, 58, 34], dtype=np.uint8)  # ,"kind":"
    n = offsets.shape[0] - 1
    out = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        if not present[i]:
            continue
        lo, hi = offsets[i], offsets[i + 1]
        klo, khi = kind_offsets[i], kind_offsets[i + 1]
        need = 9 + (khi - klo) + 2
        if hi - lo < need or data[hi - 1] != 125 or data[hi - 2] != 34:  # "}
            out[i] = True
            continue
        at = hi - need
        for k in range(9):
            if data[at + k] != pattern[k]:
                out[i] = True
                break
        if out[i]:
            continue
        for k in range(khi - klo):
            c = kinds[klo + k]
            if data[at + 9 + k] != c or c == 34 or c == 92 or c < 32:
                out[i] = True
                break
    return out


def kind_tail_mismatches_reference(
    bodies: Sequence[bytes], present: Sequence[bool], kinds: Sequence[bytes]
) -> list[bool]:
    """What :func:`_kind_tail_mismatches` computes: a present row whose body does not
    end with ``,"kind":"<kind>"}``, or whose kind holds a quote, a backslash or a
    control character (JSON would escape it)."""
    return [
        on
        and (
            not body.endswith(b',"kind":"' + kind + b'"}')
            or any(c in b'"\\' or c < 32 for c in kind)
        )
        for body, on, kind in zip(bodies, present, kinds, strict=True)
    ]
