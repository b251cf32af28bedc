"""The content an AI feature may be given: records with their text, in memory only.

A :class:`Source` is one record of the decision core (its metadata) plus the
text it holds, as segments (a transcript's turns, a channel's messages). The
text lives in these objects for the length of one request; nothing here
writes it anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..decision.decide import Record
from ..decision.identity import check_record_id, check_subject
from ..errors import InputError
from ..timeutil import parse_instant

MAX_SOURCES = 1_000
MAX_SEGMENTS = 20_000
MAX_SEGMENT_CHARS = 20_000


@dataclass(frozen=True)
class Segment:
    text: str
    speaker: str = ""


@dataclass(frozen=True)
class Source:
    record: Record
    segments: tuple[Segment, ...]
    container: str = ""  # where the platform shows it: a meeting, a channel

    @property
    def id(self) -> str:
        return self.record.id


def parse_sources(data: Any, tenant: str, field: str = "sources") -> list[Source]:
    """Sources from JSON: ``[{"id", "categories", "collected_at", "subjects"?,
    "container"?, "text" | "turns": [{"speaker"?, "text"}]}]``, all of ``tenant``."""
    if not isinstance(data, list):
        raise InputError(f"{field}: a list of records")
    if len(data) > MAX_SOURCES:
        raise InputError(f"{field}: {len(data):,} records; at most {MAX_SOURCES:,}")
    out: list[Source] = []
    seen: set[str] = set()
    segments = 0
    for i, item in enumerate(data):
        where = f"{field}.{i}"
        source = _parse_source(item, tenant, where)
        if source.id in seen:
            raise InputError(f"{where}.id: {source.id!r} appears twice")
        seen.add(source.id)
        segments += len(source.segments)
        if segments > MAX_SEGMENTS:
            raise InputError(f"{field}: more than {MAX_SEGMENTS:,} segments in all")
        out.append(source)
    return out


def _parse_source(item: Any, tenant: str, where: str) -> Source:
    if not isinstance(item, Mapping):
        raise InputError(f"{where}: an object")
    unknown = set(item) - {
        "id",
        "categories",
        "collected_at",
        "subjects",
        "container",
        "text",
        "turns",
    }
    if unknown:
        raise InputError(f"{where}.{sorted(unknown)[0]}: not a field of a record")
    record_id = check_record_id(item.get("id"), f"{where}.id")
    categories = _strings(item.get("categories"), f"{where}.categories")
    if not categories:
        raise InputError(f"{where}.categories: at least one category")
    collected = item.get("collected_at")
    if not isinstance(collected, str):
        raise InputError(f"{where}.collected_at: a time with a timezone, as text")
    subjects = tuple(
        check_subject(s, f"{where}.subjects.{j}")
        for j, s in enumerate(_strings(item.get("subjects", []), f"{where}.subjects"))
    )
    container = item.get("container", "")
    if not isinstance(container, str):
        raise InputError(f"{where}.container: text")
    record = Record(
        record_id, tenant, categories, parse_instant(collected, f"{where}.collected_at"), subjects
    )
    return Source(record, _segments(item, where), container)


def _segments(item: Mapping[str, Any], where: str) -> tuple[Segment, ...]:
    if ("text" in item) == ("turns" in item):
        raise InputError(f"{where}: give either text or turns")
    if "text" in item:
        return (Segment(_text(item["text"], f"{where}.text")),)
    turns = item["turns"]
    if not isinstance(turns, list):
        raise InputError(f"{where}.turns: a list of {{speaker, text}}")
    out = []
    for j, turn in enumerate(turns):
        if not isinstance(turn, Mapping) or set(turn) - {"speaker", "text"}:
            raise InputError(f"{where}.turns.{j}: an object with text and optionally speaker")
        speaker = turn.get("speaker", "")
        if not isinstance(speaker, str) or len(speaker) > 200:
            raise InputError(f"{where}.turns.{j}.speaker: text of at most 200 characters")
        out.append(Segment(_text(turn.get("text"), f"{where}.turns.{j}.text"), speaker))
    return tuple(out)


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise InputError(f"{where}: text")
    if len(value) > MAX_SEGMENT_CHARS:
        raise InputError(f"{where}: over {MAX_SEGMENT_CHARS:,} characters")
    if "\x00" in value:
        raise InputError(f"{where}: holds a NUL character")
    return value


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"{where}: a list of text values")
    return tuple(value)


def meeting_sources(
    meeting: Mapping[str, Any], tenant: str, collected_at: datetime, subjects: Sequence[str] = ()
) -> list[Source]:
    """A meeting as the tests' and the benchmarks' transcripts hold it
    (``{"meeting_id", "turns": [{"speaker", "content"}]}``): one transcript record."""
    mid = str(meeting["meeting_id"])
    turns = tuple(Segment(t["content"], t.get("speaker", "")) for t in meeting["turns"])
    record = Record(mid, tenant, ("customer.transcript",), collected_at, tuple(subjects))
    return [Source(record, turns, f"meeting:{mid}")]
