"""The state decisions read, held to the log that recorded it.

Every row of the tables a decision reads — policy versions, tenant families,
settings, taxonomy extensions, consent events — of the model registry, and of
the HTTP service's API keys and the notices people were shown (state_service) is
written in the same transaction as the log entry that records it. Replaying
the state-bearing entries in log order must therefore give back every row,
column for column: `audit verify` compares each table with that replay, in
one pass per table, and names the first row that was changed, deleted, or
inserted without an entry. A body erased by ``audit redact`` is accepted only
where an ``audit.redacted`` entry says so; a consent or notice-event row whose
entry was erased is held to the digest that entry logged.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from ..canonical import canonical_json
from .collect import (
    CONSENT_GRANT,
    CONSENT_KINDS,
    CONSENT_WITHDRAW,
    DEFAULT_FAMILY,
    KEY_PINNED,
    KEY_ROTATED,
    LOG_ORIGIN,
    MODEL_REGISTER,
    NOTICE_EVENT_KINDS,
    POLICY_ADDED,
    REDACTABLE_STATE_KINDS,
    REDACTED,
    STATE_KINDS,
    TAXONOMY_EXTENDED,
    TENANT_FAMILY,
    Fault,
    LogScan,
)
from .redecide import DECISION_TAIL, check_decisions
from .rowfaults import changed as _changed
from .rowfaults import deleted as _deleted
from .rowfaults import inserted as _inserted
from .rowfaults import micros as _micros
from .rowshape import SHAPES, check_objects, check_shapes
from .schema import (
    CONSENT_EVENTS,
    MODEL_MANIFESTS,
    MODELS,
    POLICY_VERSIONS,
    SETTINGS,
    TAXONOMY_KEYS,
    TENANT_FAMILIES,
)
from .state_service import QUERIES as SERVICE_QUERIES
from .state_service import (
    SERVICE_KINDS,
    ServiceState,
    check_api_keys,
    check_notice_events,
    check_notices,
)

Row = Sequence[Any]


@dataclass
class StateTables:
    """Every state table, read in bulk in the snapshot the entries were read in."""

    settings: list[Row]
    policies: list[Row]
    tenants: list[Row]
    taxonomy: list[Row]
    consent: list[Row]
    models: list[Row]
    manifests: list[Row]
    api_keys: list[Row]
    notices: list[Row]
    notice_events: list[Row]
    objects: list[Row]  # views, triggers and rules: (kind, name)


_QUERIES = {
    "settings": f'SELECT "key", "value" FROM {SETTINGS}',
    "policies": f"SELECT hash, family, version, effective_at_us, body, source, added_at_us "
    f"FROM {POLICY_VERSIONS}",
    "tenants": f"SELECT tenant, family FROM {TENANT_FAMILIES}",
    "taxonomy": f'SELECT "key", kind, description FROM {TAXONOMY_KEYS}',
    "consent": f"SELECT seq, id, tenant, kind, subject, role, at_us, body, recorded_at_us "
    f"FROM {CONSENT_EVENTS} ORDER BY seq",
    "models": f"SELECT name, trained_at_us, registered_at_us FROM {MODELS}",
    "manifests": f'SELECT model, position, path, root, "use", at_us, records, admitted '
    f"FROM {MODEL_MANIFESTS} ORDER BY model, position",
    **SERVICE_QUERIES,
}


# Schema objects the store never creates (see rowshape.check_objects).
_OBJECTS_SQLITE = "SELECT type, name FROM sqlite_master WHERE type IN ('view', 'trigger')"
_OBJECTS_POSTGRES = (
    "SELECT 'view', table_name FROM information_schema.views "
    "WHERE table_schema = current_schema() "
    "UNION ALL SELECT 'trigger', trigger_name FROM information_schema.triggers "
    "WHERE event_object_schema = current_schema() "
    "UNION ALL SELECT 'rule', rulename FROM pg_rules WHERE schemaname = current_schema()"
)


def read_tables(fetch: Callable[[str], Sequence[Row]], *, sqlite: bool) -> StateTables:
    """Each table in one query, through the caller's cursor (so in its snapshot)."""
    tables = {name: list(fetch(sql)) for name, sql in _QUERIES.items()}
    objects = list(fetch(_OBJECTS_SQLITE if sqlite else _OBJECTS_POSTGRES))
    return StateTables(**tables, objects=objects)


def redaction_record(index: int, entry: dict[str, Any], leaf: bytes) -> dict[str, Any]:
    """What an ``audit.redacted`` entry logs about the entry it erases.

    The digest is of the erased data, so a row that entry set can still be
    checked; the leaf hash and kind pin the row of the log itself.
    """
    return {
        "index": index,
        "kind": entry["kind"],
        "at": entry["at"],
        "leaf_hash": leaf.hex(),
        "data_digest": data_digest(entry["data"]),
    }


def data_digest(data: Any) -> str:
    return hashlib.sha256(canonical_json(data)).hexdigest()


def redaction_refused(kind: str) -> str | None:
    """Why an entry of this kind may not be erased, or None."""
    if kind == REDACTED:
        return "a redaction entry cannot itself be redacted"
    if kind in STATE_KINDS and kind not in REDACTABLE_STATE_KINDS:
        return f"a {kind} entry sets state that decisions read; it cannot be erased"
    return None


# --- replay --------------------------------------------------------------------------


@dataclass
class _Replayed:
    """The state the log describes, each item with the index of the entry that set it."""

    origin_at: int | None = None
    settings: dict[str, tuple[str, int]] = field(default_factory=dict)
    policies: dict[str, tuple[int, str, dict[str, Any]]] = field(default_factory=dict)
    tenants: dict[str, tuple[str, int]] = field(default_factory=dict)
    taxonomy: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)
    consent: list[tuple[int, bytes]] = field(default_factory=list)  # checked as bytes
    models: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    redactions: dict[int, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    service: ServiceState = field(default_factory=ServiceState)

    def current(self, index: int) -> bool:
        """Entries after the origin was logged carry every column (source, row times)."""
        return self.origin_at is not None and index > self.origin_at


def _replay(scan: LogScan) -> tuple[_Replayed, Fault | None]:
    log = _Replayed()
    loads, append = orjson.loads, log.consent.append
    for index, body in scan.entries:
        try:
            # The bulk of the state: consent entries are compared as bytes, unparsed.
            if body.endswith(_CONSENT_TAILS):
                append((index, body))
                continue
            if body.endswith(DECISION_TAIL):  # made again once the tables are checked
                continue
            entry = loads(body)
            _apply(log, index, entry["kind"], entry["at"], entry["data"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return log, (f"entry {index}: not a well-formed {_kind_of(body)} entry", index)
    return log, None


_CONSENT_TAILS = tuple(b',"kind":"' + k.encode() + b'"}' for k in (CONSENT_GRANT, CONSENT_WITHDRAW))


def _kind_of(body: bytes) -> str:
    at = body.rfind(b',"kind":')
    return body[at + 8 : -1].decode("utf-8", "replace") if at >= 0 else "log"


def _apply(log: _Replayed, index: int, kind: str, at: str, data: dict[str, Any]) -> None:
    if kind == POLICY_ADDED:
        # Adding a family never makes it the default: only a logged choice does.
        log.policies[str(data["hash"])] = (index, at, data)
    elif kind == DEFAULT_FAMILY:
        if data["family"] is None:  # the operator removed the default
            log.settings.pop("default_family", None)
        else:
            log.settings["default_family"] = (str(data["family"]), index)
    elif kind == TENANT_FAMILY:
        log.tenants[str(data["tenant"])] = (str(data["family"]), index)
    elif kind == TAXONOMY_EXTENDED:
        for key in data["keys"]:
            log.taxonomy[(key["key"], key["kind"])] = (key["description"], index)
    elif kind == MODEL_REGISTER:
        log.models[str(data["name"])] = (index, data)
    elif kind == LOG_ORIGIN:
        if log.origin_at is None:
            log.origin_at = index
        log.settings["audit_origin"] = (str(data["origin"]), index)
    elif kind == REDACTED:
        log.redactions[int(data["index"])] = (index, data)
    elif kind in SERVICE_KINDS:
        log.service.apply(index, kind, data)
    elif kind in (KEY_PINNED, KEY_ROTATED):
        log.settings["audit_key"] = (str(data["key"]), index)
        log.settings["audit_max_unsigned"] = (str(int(data["max_unsigned"])), index)


# --- the checks ----------------------------------------------------------------------


def check_state(scan: LogScan) -> Fault | None:
    """The first row of the log or of a state table that the log does not account for."""
    log, fault = _replay(scan)
    if fault is not None:
        return fault
    tables: StateTables = scan.tables
    try:
        return (
            check_objects(tables.objects)
            or check_shapes({name: getattr(tables, name) for name in SHAPES})
            or _check_erasures(log, scan)
            or _check_settings(log, tables)
            or _check_policies(log, tables)
            or _check_tenants(log, tables)
            or _check_taxonomy(log, tables)
            or _check_consent(log, scan, tables)
            or _check_models(log, tables)
            or check_api_keys(log.service, tables.api_keys)
            or check_notices(log.service, tables.notices)
            or check_notice_events(
                log.service, tables.notice_events, _erased_digests(log, scan, NOTICE_EVENT_KINDS)
            )
            or _check_decisions(log, scan)
        )
    except (KeyError, TypeError, ValueError) as exc:
        # Only an entry written around the store's code (body and leaf forged
        # together) lacks what the store always logs.
        return (
            f"a state-bearing entry lacks what it must carry ({type(exc).__name__}: {exc})",
            None,
        )


def _check_decisions(log: _Replayed, scan: LogScan) -> Fault | None:
    fault, counts = check_decisions(scan, log.redactions)
    scan.redecided, scan.not_redecided = counts.checked, counts.not_checked
    return fault


def _erased_digests(log: _Replayed, scan: LogScan, kinds: frozenset[str]) -> dict[str, int]:
    """The data digest each redaction of an erased entry of these kinds logged, to its index."""
    return {
        str(data["data_digest"]): target
        for target, (_, data) in log.redactions.items()
        if data.get("kind") in kinds and target in scan.erased
    }


def _check_erasures(log: _Replayed, scan: LogScan) -> Fault | None:
    for index in sorted(scan.erased):
        kind, leaf = scan.erased[index]
        found = log.redactions.get(index)
        if found is None:
            return (f"entry {index}: body is erased but no redaction is logged", index)
        by, data = found
        if by <= index:
            return (f"entry {index}: its redaction at entry {by} comes before it", index)
        if data.get("kind") != kind:
            return (
                f"entry {index}: kind column says {kind!r} but the redaction at entry {by} "
                f"logged {data.get('kind')!r}",
                index,
            )
        if data.get("leaf_hash") != leaf.hex():
            return (
                f"entry {index}: leaf hash is not the one the redaction at entry {by} logged",
                index,
            )
        refused = redaction_refused(kind)
        if refused is not None:
            return (f"entry {index}: body is erased, but {refused}", index)
    for index in sorted(set(log.redactions) - set(scan.erased)):
        by = log.redactions[index][0]
        return (f"entry {index}: logged as redacted at entry {by} but holds a body", index)
    return None


def _check_settings(log: _Replayed, tables: StateTables) -> Fault | None:
    table = SETTINGS
    stored = {str(r[0]): str(r[1]) for r in tables.settings}
    if "audit_origin" in stored and "audit_origin" not in log.settings:
        return (
            f"{table} row audit_origin: not recorded in the log "
            "(a store made before it was logged: run `trainguard init` to log it)",
            None,
        )
    for key in sorted(set(stored) | set(log.settings)):
        if key not in log.settings:
            return _inserted(table, key)
        value, index = log.settings[key]
        if key not in stored:
            return _deleted(table, key, index)
        if stored[key] != value:
            return _changed(table, key, "value", index)
    return None


def _check_policies(log: _Replayed, tables: StateTables) -> Fault | None:
    table = POLICY_VERSIONS
    rows = {str(r[0]): r for r in tables.policies}
    for h, (index, at, data) in sorted(log.policies.items(), key=lambda kv: kv[1][0]):
        name = h[:16]
        row = rows.pop(h, None)
        if row is None:
            return _deleted(table, name, index)
        _, family, version, effective_us, body, source, added_us = row
        expected: list[tuple[str, Any, Any]] = [
            ("family", family, data["family"]),
            ("version", version, data["version"]),
            ("effective_at_us", effective_us, _micros(str(data["effective_at"]))),
        ]
        if log.current(index):
            expected += [
                ("source", source, data.get("source")),
                ("added_at_us", added_us, _micros(at)),
            ]
        for column, got, want in expected:
            if got != want:
                return _changed(table, name, column, index)
        try:
            same = data_digest(json.loads(body)) == h
        except (ValueError, TypeError):
            same = False
        if not same:
            return (
                f"{table} row {name}: body does not hash to {h[:16]} (logged at entry {index})",
                None,
            )
    for h in sorted(rows):
        return _inserted(table, h[:16])
    return None


def _check_tenants(log: _Replayed, tables: StateTables) -> Fault | None:
    table = TENANT_FAMILIES
    stored = {str(r[0]): str(r[1]) for r in tables.tenants}
    for tenant in sorted(set(stored) | set(log.tenants)):
        if tenant not in log.tenants:
            return _inserted(table, tenant)
        family, index = log.tenants[tenant]
        if tenant not in stored:
            return _deleted(table, tenant, index)
        if stored[tenant] != family:
            return _changed(table, tenant, "family", index)
    return None


def _check_taxonomy(log: _Replayed, tables: StateTables) -> Fault | None:
    table = TAXONOMY_KEYS
    stored = {(str(r[0]), str(r[1])): str(r[2]) for r in tables.taxonomy}
    for key in sorted(set(stored) | set(log.taxonomy)):
        name = f"{key[0]} ({key[1]})"
        if key not in log.taxonomy:
            return _inserted(table, name)
        description, index = log.taxonomy[key]
        if key not in stored:
            return _deleted(table, name, index)
        if stored[key] != description:
            return _changed(table, name, "description", index)
    return None


def _check_consent(log: _Replayed, scan: LogScan, tables: StateTables) -> Fault | None:
    """Rows by id against the visible entries, the rest against erased entries' digests;
    then ``seq`` must list the rows in log order (it is the order they are read in).

    A hundred thousand rows and more, so the common case is bytes: a row's body
    with its id, serialized canonically, must be the very bytes of the entry's
    ``data``; times are compared as arrays. A row that differs is looked at again
    to name the column.
    """
    table = CONSENT_EVENTS
    rows = {r[1]: r for r in tables.consent}
    # (entry index, row, the event's time, the entry's time if the row must carry it)
    matched: list[tuple[int, Row, Any, str | None]] = []
    keep, pop, loads, dumps = matched.append, rows.pop, orjson.loads, orjson.dumps
    origin = log.origin_at if log.origin_at is not None else 2**63
    for index, body in log.consent:
        # {"at":"<time>","data":{…,"id":"<id>",…},"index":N,"kind":"consent.…"}
        at_end = body.find(b'","data":{', 7)
        id_at = body.find(b'"id":"', at_end)
        data_end = body.rfind(b',"index":')
        if min(at_end, id_at, data_end) < 0:
            return (f"entry {index}: not a well-formed consent entry", index)
        event_id = body[id_at + 6 : body.find(b'"', id_at + 6)].decode()
        row = pop(event_id, None)
        if row is None:
            return _deleted(table, event_id, index)
        try:
            stored = loads(row[7])
            stored["id"] = row[1]
            same = dumps(stored, option=orjson.OPT_SORT_KEYS) == body[at_end + 9 : data_end]
        except (orjson.JSONDecodeError, orjson.JSONEncodeError, TypeError):
            same = False
        if not same or (row[2], row[3], row[4], row[5]) != (
            stored.get("tenant"),
            stored.get("kind"),
            stored.get("subject"),
            stored.get("role"),
        ):
            data = loads(body)["data"]
            column = _consent_column_off(row, data) or "body"
            return _changed(table, event_id, column, index)
        keep((index, row, stored.get("at"), body[7:at_end].decode() if index > origin else None))
    erased = {
        str(data["data_digest"]): (target, str(data["at"]))
        for target, (_, data) in log.redactions.items()
        if data.get("kind") in CONSENT_KINDS and target in scan.erased
    }
    for event_id, row in sorted(rows.items(), key=lambda kv: int(kv[1][0])):
        try:
            data = {**json.loads(row[7]), "id": event_id}
            found = erased.pop(data_digest(data), None)
        except (ValueError, TypeError):
            found = None
        if found is None:
            return _inserted(table, str(event_id))
        target, at = found
        off = _consent_column_off(row, data)  # the body matched the digest
        if off is not None:
            return _changed(table, str(event_id), off, target)
        keep((target, row, data.get("at"), at if log.current(target) else None))
    for target, _ in sorted(erased.values()):
        return (
            f"{table} row of redacted entry {target}: deleted, or changed from the digest "
            f"its redaction logged",
            None,
        )
    matched.sort(key=lambda m: m[0])
    bad = _consent_times_off(matched)
    if bad >= 0:
        index, row, at, _ = matched[bad]
        column = "at_us" if row[6] != _micros_or_none(at) else "recorded_at_us"
        return _changed(table, str(row[1]), column, index)
    seqs = _integers([m[1][0] for m in matched])
    out_of_order = np.flatnonzero(np.diff(seqs) <= 0)
    if len(out_of_order):
        index, row, _, _ = matched[int(out_of_order[0]) + 1]
        return (f"{table} row {row[1]}: seq {row[0]} is out of log order (entry {index})", None)
    return None


_CONSENT_COLUMNS = ("tenant", "kind", "subject", "role")


def _consent_column_off(row: Row, data: dict[str, Any]) -> str | None:
    """The first of a consent row's tenant, kind, subject and role that differs from the
    logged event, or None."""
    for i, column in enumerate(_CONSENT_COLUMNS, 2):
        if row[i] != data.get(column):
            return column
    return None


def _consent_times_off(matched: list[tuple[int, Row, Any, str | None]]) -> int:
    """Position of the first row whose at_us or recorded_at_us is not the logged time (−1: none)."""
    if not matched:
        return -1
    got_at = _integers([m[1][6] for m in matched])
    want_at = _micros_many([m[2] for m in matched])
    carried = [i for i, m in enumerate(matched) if m[3] is not None]
    got_recorded = _integers([matched[i][1][8] for i in carried])
    want_recorded = _micros_many([matched[i][3] for i in carried])
    bad = np.flatnonzero(got_at != want_at)
    first = int(bad[0]) if len(bad) else len(matched)
    bad = np.flatnonzero(got_recorded != want_recorded)
    if len(bad):
        first = min(first, carried[int(bad[0])])
    return first if first < len(matched) else -1


def _integers(values: list[Any]) -> np.ndarray:
    """Stored integers as an array; a value that is not one (SQLite stores any type in any
    column) becomes one no logged time converts to, so its row is named."""
    try:
        return np.array(values, dtype=np.int64)
    except (ValueError, TypeError, OverflowError):
        return np.array([v if type(v) is int else _NOT_AN_INTEGER for v in values], np.int64)


_NOT_AN_INTEGER = -(2**63) + 1


def _micros_many(texts: list[Any]) -> np.ndarray:
    """Microseconds of many logged instants at once (numpy parses ISO 8601 in C).

    Logged instants are UTC with a ``Z`` (``format_instant``); numpy is given
    them without it. Any other form is converted one by one, exactly.
    """
    try:
        # "!" makes numpy refuse the batch when a text does not end with Z.
        bare = [x[:-1] if x[-1:] == "Z" else "!" for x in texts]
        return np.array(bare, dtype="datetime64[us]").astype(np.int64)
    except (ValueError, TypeError):
        return np.array([_micros_or_none(x) for x in texts], dtype=np.int64)


def _micros_or_none(text: Any) -> int:
    try:
        return _micros(text) if isinstance(text, str) else _NO_TIME
    except ValueError:
        return _NO_TIME


_NO_TIME = -(2**63)


def _check_models(log: _Replayed, tables: StateTables) -> Fault | None:
    models = {str(r[0]): r for r in tables.models}
    manifests: dict[str, list[Row]] = {}
    for part in tables.manifests:
        manifests.setdefault(str(part[0]), []).append(part)
    for name, (index, data) in sorted(log.models.items(), key=lambda kv: kv[1][0]):
        row = models.pop(name, None)
        if row is None:
            return _deleted(MODELS, name, index)
        trained = data.get("trained_at")
        if row[1] != (_micros(trained) if trained is not None else None):
            return _changed(MODELS, name, "trained_at_us", index)
        if row[2] != _micros(str(data["registered_at"])):
            return _changed(MODELS, name, "registered_at_us", index)
        parts = manifests.pop(name, [])
        logged = data["manifests"]
        for position, m in enumerate(logged):
            label = f"{name}#{position}"
            if position >= len(parts):
                return _deleted(MODEL_MANIFESTS, label, index)
            part = parts[position]
            want = (
                name,
                position,
                m["path"],
                m["root"],
                m["use"],
                _micros(str(m["at"])),
                m["records"],
                m["admitted"],
            )
            for column, got, expect in zip(_MANIFEST_COLUMNS, part, want, strict=True):
                if got != expect:
                    return _changed(MODEL_MANIFESTS, label, column, index)
        if len(parts) > len(logged):
            return _inserted(MODEL_MANIFESTS, f"{name}#{parts[len(logged)][1]}")
    for name in sorted(models):
        return _inserted(MODELS, name)
    for name in sorted(manifests):
        return _inserted(MODEL_MANIFESTS, f"{name}#{manifests[name][0][1]}")
    return None


_MANIFEST_COLUMNS = ("model", "position", "path", "root", "use", "at_us", "records", "admitted")
