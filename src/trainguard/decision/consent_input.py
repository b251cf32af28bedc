"""Consent events from JSON, read strictly: what a file or a request says is what
is recorded, or nothing is.

Refused, naming the line (or the event's place in a request) and the problem:
duplicate keys at any depth (JSON parsers silently keep the last one), NaN and
Infinity, anything but an object per event, control and format characters in
any string (NUL, zero-width spaces, bidi overrides), lines over
:data:`~trainguard.decision.consent.MAX_LINE_BYTES`, text that is not UTF-8, more than
:data:`~trainguard.decision.consent.MAX_EVENTS` events, and every check of
:func:`~trainguard.decision.consent.parse_event`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import ConsentError, InputError
from .consent import MAX_EVENTS, MAX_LINE_BYTES, ConsentEvent, check_strings, parse_event
from .taxonomy import Taxonomy

# Turns a policy_version as written (hash, prefix, family@version, version) into a hash.
Resolve = Callable[[str], str]

# A request body holds at most this many bytes (the events of one import).
MAX_BODY_BYTES = 16 * 1024 * 1024


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def strict_json(text: str, where: str) -> Any:
    """``json.loads`` that refuses duplicate keys and NaN/Infinity, with one-line errors."""
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except _DuplicateKey as exc:
        raise ConsentError(f"{where}: duplicate key {exc.key!r}") from None
    except json.JSONDecodeError as exc:
        raise ConsentError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    except (ValueError, RecursionError) as exc:
        raise ConsentError(f"{where}: not valid JSON ({exc})") from None


def event_from_json(data: Any, where: str, resolve: Resolve, taxonomy: Taxonomy) -> ConsentEvent:
    """One event from a decoded JSON value (a line of a file, an item of a request)."""
    if not isinstance(data, dict):
        raise ConsentError(f"{where}: an event must be a JSON object, not {_json_kind(data)}")
    check_strings(data, where)
    data.pop("id", None)  # an exported event's id: recomputed from its content
    if isinstance(data.get("policy_version"), str):
        try:
            data["policy_version"] = resolve(data["policy_version"])
        except InputError as exc:
            raise ConsentError(f"{where}: {exc}") from None
    return parse_event(data, where, taxonomy)


def read_events_file(path: str | Path, resolve: Resolve, taxonomy: Taxonomy) -> list[ConsentEvent]:
    """Every event of a JSONL file, all checked; the first problem stops the import."""
    try:
        with Path(path).open("rb") as handle:
            return read_events_lines(_lines(handle, str(path)), str(path), resolve, taxonomy)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not a file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None


def read_events_lines(
    lines: Iterable[tuple[int, bytes]], source: str, resolve: Resolve, taxonomy: Taxonomy
) -> list[ConsentEvent]:
    """Events from numbered raw lines (blank lines are skipped)."""
    events: list[ConsentEvent] = []
    for n, raw in lines:
        where = f"{source}:{n}"
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConsentError(f"{where}: not UTF-8 (byte {exc.start + 1})") from None
        if not text.strip():
            continue
        if len(events) >= MAX_EVENTS:
            raise ConsentError(
                f"{where}: more than {MAX_EVENTS:,} events in one import; split the file"
            )
        events.append(event_from_json(strict_json(text, where), where, resolve, taxonomy))
    return events


def read_events_body(
    body: bytes, source: str, resolve: Resolve, taxonomy: Taxonomy
) -> list[ConsentEvent]:
    """Events from a request body: ``{"events": [EVENT, ...]}``, checked as a file's lines."""
    if len(body) > MAX_BODY_BYTES:
        raise ConsentError(
            f"{source}: the body is over {MAX_BODY_BYTES:,} bytes; send fewer events"
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConsentError(f"{source}: not UTF-8 (byte {exc.start + 1})") from None
    data = strict_json(text, source)
    if not isinstance(data, dict) or set(data) != {"events"}:
        raise ConsentError(f'{source}: the body must be {{"events": [...]}} and nothing else')
    items = data["events"]
    if not isinstance(items, list):
        raise ConsentError(f"{source}: events must be a list, not {_json_kind(items)}")
    if len(items) > MAX_EVENTS:
        raise ConsentError(f"{source}: more than {MAX_EVENTS:,} events in one request")
    return [
        event_from_json(item, f"{source}: events[{i}]", resolve, taxonomy)
        for i, item in enumerate(items)
    ]


def _lines(handle: BinaryIO, source: str) -> Iterator[tuple[int, bytes]]:
    """Numbered lines, each read with a bound: a 20 MB line is refused, not loaded."""
    n = 0
    while True:
        raw = handle.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        n += 1
        body = raw.rstrip(b"\r\n")
        if len(body) > MAX_LINE_BYTES:
            raise ConsentError(f"{source}:{n}: line is over {MAX_LINE_BYTES:,} bytes")
        yield n, body


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "an object"
