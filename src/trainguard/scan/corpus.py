"""Reading corpora for the scanner: shards, documents, malformed records.

A corpus is split into shards that workers scan independently: byte ranges
of uncompressed JSONL files (about ``SHARD_BYTES`` each, cut at line starts),
row-group ranges of Parquet files, and whole files otherwise. Every shard is
read as a stream, so memory stays bounded whatever the corpus size. A line
or record that cannot be read is reported with its file and line (or row)
and counted; the scan goes on.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow.parquet as pq

from ..errors import InputError
from ..sources import Format, Source, expand_sources
from .normalize import transcript_text

SHARD_BYTES = 32 << 20
TEXT_FIELDS = ("text", "content", "turns", "transcript")
ID_FIELDS = ("id", "doc_id", "meeting_id")


@dataclass(frozen=True)
class Shard:
    number: int
    source: Source
    start: int = 0  # byte offset (JSONL) or first row group (Parquet)
    end: int = -1  # exclusive; -1: to the end


@dataclass
class Fields:
    text: str | None = None
    id: str | None = None


@dataclass
class Document:
    doc_id: str
    text: str
    line: int  # 1-based line (JSONL) or row (Parquet) within the shard


@dataclass
class Malformed:
    source: str
    line: int  # within the shard until the driver makes it absolute
    problem: str


@dataclass
class ShardReport:
    documents: int = 0
    bytes: int = 0
    lines: int = 0
    malformed: list[Malformed] = field(default_factory=list)


def plan_shards(
    paths: Sequence[str], fmt: Format | None = None, shard_bytes: int = SHARD_BYTES
) -> list[Shard]:
    sources = expand_sources(paths, fmt, default_format="text")
    shards: list[Shard] = []
    for source in sources:
        if source.format == "jsonl" and source.compression is None:
            size = source.size()
            for start in range(0, max(size, 1), shard_bytes):
                shards.append(Shard(len(shards), source, start, min(start + shard_bytes, size)))
        elif source.format == "parquet":
            with source.open() as f:
                try:
                    groups = pq.ParquetFile(f).num_row_groups
                except Exception as exc:  # pyarrow raises several types for a bad file
                    raise InputError(f"{source.url}: not a readable Parquet file ({exc})") from None
            step = 8
            for g in range(0, max(groups, 1), step):
                shards.append(Shard(len(shards), source, g, min(g + step, groups)))
        elif source.format == "csv":
            raise InputError(f"{source.url}: scan reads jsonl, parquet or text, not csv")
        else:
            shards.append(Shard(len(shards), source))
    return shards


def _text_of(record: dict[str, Any], fields: Fields) -> str | None:
    names = (fields.text,) if fields.text else TEXT_FIELDS
    for name in names:
        value = record.get(name)
        if isinstance(value, str):
            return value
        if isinstance(value, list):  # transcript turns
            return transcript_text(value)
    return None


def _id_of(record: dict[str, Any], fields: Fields) -> str | None:
    names = (fields.id,) if fields.id else ID_FIELDS
    for name in names:
        value = record.get(name)
        if value is not None:
            return str(value)
    return None


def read_documents(shard: Shard, fields: Fields, report: ShardReport) -> Iterator[Document]:
    """Documents of one shard, streamed; malformed records go into ``report``."""
    source = shard.source
    if source.format == "text":
        with source.open() as f:
            data = f.read()
        report.bytes += len(data)
        report.lines = 1
        report.documents += 1
        yield Document(source.url, data.decode("utf-8", errors="replace"), 1)
    elif source.format == "jsonl":
        yield from _jsonl(shard, fields, report)
    elif source.format == "parquet":
        yield from _parquet(shard, fields, report)


def _jsonl(shard: Shard, fields: Fields, report: ShardReport) -> Iterator[Document]:
    source = shard.source
    with source.open() as f:
        if shard.start > 0:
            f.seek(shard.start - 1)
            if f.read(1) != b"\n":
                f.readline()  # the line that straddles the boundary belongs to the shard before
        pos = f.tell() if shard.start > 0 else 0
        line_no = 0
        for lines, last in _line_blocks(f):
            for k, raw in enumerate(lines):
                if shard.end >= 0 and pos >= shard.end:
                    report.lines = line_no
                    return
                size = len(raw) + (0 if last and k == len(lines) - 1 else 1)
                pos += size
                line_no += 1
                report.bytes += size
                # One parse per line: parsing a block as one array would be faster,
                # but a broken line can then pair up with its neighbour into values
                # that parse, and be neither reported nor read at the right line.
                try:
                    record = orjson.loads(raw)
                except orjson.JSONDecodeError as exc:
                    if raw.strip():
                        problem = f"not JSON ({exc})"
                        report.malformed.append(Malformed(source.url, line_no, problem))
                    continue
                if not isinstance(record, dict):
                    report.malformed.append(Malformed(source.url, line_no, "not a JSON object"))
                    continue
                text = _text_of(record, fields)
                if text is None:
                    want = fields.text or " or ".join(TEXT_FIELDS)
                    problem = f"no text field ({want})"
                    report.malformed.append(Malformed(source.url, line_no, problem))
                    continue
                report.documents += 1
                yield Document(_id_of(record, fields) or "", text, line_no)
        report.lines = line_no


def _line_blocks(f: Any, block: int = 1 << 20) -> Iterator[tuple[list[bytes], bool]]:
    """Lines (without their newline) of any readable binary stream, a block at a time,
    and whether the block ends the stream (its last line then has no newline).

    Decompressing readers do not all support iteration or readline."""
    rest = b""
    while chunk := f.read(block):
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        yield lines, False
    if rest:
        yield [rest], True


def _parquet(shard: Shard, fields: Fields, report: ShardReport) -> Iterator[Document]:
    source = shard.source
    with source.open() as f:
        pf = pq.ParquetFile(f, pre_buffer=False)
        names = pf.schema_arrow.names
        text_col = fields.text or next((n for n in TEXT_FIELDS if n in names), None)
        if text_col is None or text_col not in names:
            raise InputError(
                f"{source.url}: no text column ({fields.text or ' or '.join(TEXT_FIELDS)})"
            )
        id_col = fields.id or next((n for n in ID_FIELDS if n in names), None)
        cols = [text_col] + ([id_col] if id_col and id_col in names else [])
        row = 0
        end = pf.num_row_groups if shard.end < 0 else shard.end
        for g in range(shard.start, end):
            table = pf.read_row_group(g, columns=cols)
            report.bytes += table.nbytes
            texts = table.column(text_col).to_pylist()
            ids = table.column(id_col).to_pylist() if len(cols) > 1 else [None] * len(texts)
            for doc_id, value in zip(ids, texts, strict=True):
                row += 1
                text = (
                    value
                    if isinstance(value, str)
                    else (transcript_text(value) if isinstance(value, list) else None)
                )
                if text is None:
                    report.malformed.append(Malformed(source.url, row, f"{text_col} is not text"))
                    continue
                report.documents += 1
                yield Document("" if doc_id is None else str(doc_id), text, row)
        report.lines = row
