"""What the state check requires of rows before comparing them with the log.

The comparisons in state.py index each table by its key, so a second row with
the same key would be folded into the first one's place and never looked at,
while a decision reading the table may take either (``WHERE key = ?`` returns
the first). The schema keeps those keys unique, but someone with the database
file can rebuild a table without its constraint: so every key must be stored
once. Likewise a column the store fills with text must hold text: SQLite keeps
any type in any column (and a rebuilt table may have no text affinity), and an
integer ``123`` where the log says ``'123'`` is another tenant to the code that
reads it, though the two print alike.

Views, triggers and rules are checked too: the store creates none, and a view
standing in for a state table can show decisions one thing and this check,
later, another.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter
from typing import Any

from . import names as n
from .rowfaults import Fault

Row = Sequence[Any]


# Per query of state.py: the table, its columns as read, the key's positions, the
# positions that hold text, and those that hold text or NULL.
Shape = tuple[str, tuple[str, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...]]
SHAPES: dict[str, Shape] = {
    "settings": (n.SETTINGS, ("key", "value"), (0,), (0, 1), ()),
    "policies": (
        n.POLICY_VERSIONS,
        ("hash", "family", "version", "effective_at_us", "body", "source", "added_at_us"),
        (0,),
        (0, 1, 2, 4, 5),
        (),
    ),
    "tenants": (n.TENANT_FAMILIES, ("tenant", "family"), (0,), (0, 1), ()),
    "taxonomy": (n.TAXONOMY_KEYS, ("key", "kind", "description"), (0, 1), (0, 1, 2), ()),
    "consent": (
        n.CONSENT_EVENTS,
        ("seq", "id", "tenant", "kind", "subject", "role", "at_us", "body", "recorded_at_us"),
        (1,),
        (1, 2, 3, 4, 5, 7),
        (),
    ),
    "models": (n.MODELS, ("name", "trained_at_us", "registered_at_us"), (0,), (0,), ()),
    "manifests": (
        n.MODEL_MANIFESTS,
        ("model", "position", "path", "root", "use", "at_us", "records", "admitted"),
        (0, 1),
        (0, 2, 3, 4),
        (),
    ),
    "api_keys": (
        n.API_KEYS,
        ("id", "secret_hash", "tenant", "role", "name", "created_at_us", "revoked_at_us"),
        (0,),
        (0, 1, 3, 4),
        (2,),  # an operator's key is bound to no tenant
    ),
    "notices": (
        n.NOTICES,
        ("id", "hash", "policy_version", "audience", "body", "stored_at_us"),
        (0,),
        (0, 1, 2, 3, 4),
        (),
    ),
    "notice_events": (
        n.NOTICE_EVENTS,
        ("seq", "id", "notice_id", "kind", "tenant", "subject", "at_us", "recorded_at_us"),
        (1,),
        (1, 2, 3, 4, 5),
        (),
    ),
}


def check_shapes(tables: dict[str, list[Row]]) -> Fault | None:
    """The first row whose text column holds something else, or whose key is stored twice.

    A million consent rows are checked in C loops (``map``, ``set``); a row is
    looked for one by one only once a table is known to hold one."""
    for name, (table, columns, key, text, text_or_null) in SHAPES.items():
        rows = tables[name]
        for i in (*text, *text_or_null):
            types = set(map(type, map(itemgetter(i), rows)))
            allowed = {str, type(None)} if i in text_or_null else {str}
            if types <= allowed:
                continue
            row = next(r for r in rows if type(r[i]) not in allowed)
            kind = "NULL" if row[i] is None else type(row[i]).__name__
            return (f"{table} row {_key_label(row, key)}: {columns[i]} is {kind}, not text", None)
        keys = list(map(itemgetter(*key), rows))
        if len(set(keys)) == len(keys):
            continue
        seen: set[Any] = set()
        for row, k in zip(rows, keys, strict=True):
            if k in seen:
                return (
                    f"{table} row {_key_label(row, key)}: stored twice "
                    "(the schema keeps its key unique)",
                    None,
                )
            seen.add(k)
    return None


def _key_label(row: Row, key: tuple[int, ...]) -> str:
    return "/".join(_label(row[i]) for i in key)


def check_objects(objects: Sequence[Row]) -> Fault | None:
    """A view, trigger or rule in the store's schema (the store creates none)."""
    for kind, name in objects:
        return (
            f"schema: {kind} {_label(name)} is not the store's (the store creates no "
            "views, triggers or rules; one can show decisions other rows than this check reads)",
            None,
        )
    return None


def _label(value: Any) -> str:
    # ascii(): a look-alike or an invisible character in a forged key is shown escaped.
    text = ascii(value)
    return text if len(text) <= 66 else text[:64] + "…"
