"""Reading corpora for the scanner: shards, documents, malformed records.

A corpus is split into shards that workers scan independently: byte ranges
of uncompressed JSONL files (about ``SHARD_BYTES`` each, cut at line starts),
row-group ranges of Parquet files, and whole files otherwise. Every shard is
read as a stream, so memory stays bounded whatever the corpus size. A line
or record that cannot be read is reported with its file and line (or row)
and counted by reason; the scan goes on, and what it means for the result
(a record no one could check) is the caller's to decide (:mod:`.engine`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from .._native.arrowbuffers import valid_mask, value_buffers
from .._native.compiled import copy_bytes
from ..errors import InputError
from ..sources import Format, Source, expand_sources
from .jsonline import field_names, read_texts
from .normalize import join_utf8, transcript_text

SHARD_BYTES = 32 << 20
BATCH_BYTES = 1 << 22  # text per batch: enough to amortize the per-batch work (measured)
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


# Why a record could not be scanned (Malformed.reason).
NOT_JSON = "not_json"
NOT_UTF8 = "not_utf8"
NOT_OBJECT = "not_object"
NO_TEXT = "no_text"
NOT_TEXT = "not_text"


@dataclass
class Malformed:
    source: str
    line: int  # within the shard until the driver makes it absolute
    problem: str
    reason: str = NOT_JSON

    def location(self) -> str:
        return f"{self.source}:{self.line}"


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
    if shard.source.format == "jsonl":
        for batch in _jsonl(shard, fields, report):
            for k in np.argsort(batch.lines, kind="stable").tolist():  # in line order
                yield batch.document(k)
    else:
        yield from _documents(shard, fields, report)


def read_batches(
    shard: Shard, fields: Fields, report: ShardReport, batch_bytes: int = BATCH_BYTES
) -> Iterator[DocBatch]:
    """The documents of one shard in batches of about ``batch_bytes`` of text, ready
    for the batch scanner; malformed records go into ``report``.

    A batch's ``data`` is only valid until the next batch is read: the reader
    writes every batch into the same buffer (fresh megabytes per batch would
    page-fault their way through every one). Use each batch before asking for
    the next; ``document(k)`` stays valid."""
    if shard.source.format == "jsonl":
        yield from _jsonl(shard, fields, report, batch_bytes)
        return
    if shard.source.format == "parquet":
        yield from _parquet_batches(shard, fields, report, batch_bytes)
        return
    yield from _batched(_documents(shard, fields, report), batch_bytes)


def _batched(docs: Iterable[Document], batch_bytes: int) -> Iterator[DocBatch]:
    batch: list[Document] = []
    size = 0
    for doc in docs:
        batch.append(doc)
        size += len(doc.text)
        if size >= batch_bytes:
            yield DocBatch.of(batch)
            batch, size = [], 0
    if batch:
        yield DocBatch.of(batch)


def _documents(shard: Shard, fields: Fields, report: ShardReport) -> Iterator[Document]:
    source = shard.source
    if source.format == "text":
        with source.open() as f:
            data = f.read()
        report.bytes += len(data)
        report.lines = 1
        report.documents += 1
        yield Document(source.url, data.decode("utf-8", errors="replace"), 1)
    elif source.format == "parquet":
        yield from _parquet(shard, fields, report)


class DocBatch:
    """Documents read together: their texts as UTF-8, joined by newlines (what the batch
    scanner tokenizes), where each one starts, its line, and — on demand, for the
    few documents a scan reports — its id and text.

    ``data`` may live in a buffer the reader reuses: it is valid until the next
    batch is read (``document`` stays valid).
    """

    def __init__(
        self,
        data: np.ndarray,
        starts: np.ndarray,
        lines: np.ndarray,
        document: Callable[[int], Document],
    ) -> None:
        self.data = data
        self.starts = starts
        self.lines = lines
        self._document = document

    @classmethod
    def of(cls, docs: list[Document]) -> DocBatch:
        data, starts = join_utf8([d.text for d in docs])
        lines = np.array([d.line for d in docs], dtype=np.int64)
        return cls(data, starts, lines, docs.__getitem__)

    def __len__(self) -> int:
        return int(self.starts.shape[0])

    def document(self, k: int) -> Document:
        return self._document(k)


def _jsonl(
    shard: Shard, fields: Fields, report: ShardReport, batch_bytes: int = BATCH_BYTES
) -> Iterator[DocBatch]:
    """A shard of a JSONL file, a block of lines at a time.

    Compiled code finds each line's text (:mod:`.jsonline`) and copies it into
    the batch; only the lines it is not sure of are parsed with orjson here —
    one parse per line: parsing a block as one array would be faster, but a
    broken line could then pair up with its neighbour into values that parse,
    and be neither reported nor read at the right line.
    """
    source = shard.source
    field = field_names((fields.text,) if fields.text else TEXT_FIELDS)
    with source.open() as f:
        if shard.start > 0:
            f.seek(shard.start - 1)
            if f.read(1) != b"\n":
                f.readline()  # the line that straddles the boundary belongs to the shard before
        pos = f.tell() if shard.start > 0 else 0
        line_no = 0
        for block in _line_blocks(f, batch_bytes):
            # Lines that start at or after the shard's end belong to the next shard.
            limit = len(block) if shard.end < 0 else shard.end - pos
            batch, ends = _jsonl_batch(block, limit, line_no, fields, source, report, field)
            # Bytes the lines take in the file: their newlines too (the last line of
            # the file may have none).
            used = min(int(ends[-1]) + 1, len(block)) if len(ends) else 0
            pos += used
            report.bytes += used
            line_no += len(ends)
            report.lines = line_no
            if len(batch):
                yield batch
            if used < len(block):
                return


def _jsonl_batch(
    block: memoryview,
    limit: int,
    first_line: int,
    fields: Fields,
    source: Source,
    report: ShardReport,
    field: tuple[np.ndarray, np.ndarray],
) -> tuple[DocBatch, np.ndarray]:
    """The documents of the lines of ``block`` that start before ``limit``: texts found
    by compiled code, the lines it was not sure of parsed one by one (after the
    others in the batch). Also returns where each line ends."""
    buf = np.frombuffer(block, dtype=np.uint8)
    # A text is shorter than its line by more than the newline that follows it here.
    out = _scratch(buf.shape[0] + 1)
    ends, docs, slow, used = read_texts(buf, limit, field[0], field[1], out)
    line_of = docs[:, 0].tolist()
    starts = docs[:, 1]
    data = out[: max(used - 1, 0)]

    def line(k: int) -> memoryview:
        return block[int(ends[k - 1]) + 1 if k > 0 else 0 : int(ends[k])]

    parsed: list[Document] = []
    for k in slow.tolist():
        doc = _parse_line(bytes(line(k)), first_line + k + 1, fields, source, report)
        if doc is not None:
            parsed.append(doc)
    if parsed:  # rare: a copy of the batch
        more, more_starts = join_utf8([d.text for d in parsed])
        gap = 1 if len(starts) else 0
        starts = np.concatenate([starts, more_starts + len(data) + gap])
        data = np.concatenate([data, np.array([10] * gap, dtype=np.uint8), more])
    report.documents += len(starts)

    def document(j: int) -> Document:
        if j >= len(line_of):
            return parsed[j - len(line_of)]
        k = line_of[j]
        record = orjson.loads(line(k))
        text = _text_of(record, fields) or ""
        return Document(_id_of(record, fields) or "", text, first_line + k + 1)

    lines = np.array(line_of + [d.line - first_line - 1 for d in parsed], dtype=np.int64)
    return DocBatch(data, starts, lines + first_line + 1, document), ends


def warm_up() -> None:
    """Load the JSONL reader's compiled code in this process, so that workers forked
    from it inherit the code instead of each loading it."""
    buf = np.frombuffer(b'{"text": "warm up"}', dtype=np.uint8)
    read_texts(buf, len(buf), *field_names(TEXT_FIELDS), np.empty(len(buf) + 1, np.uint8))


_SCRATCH = threading.local()


def _scratch(size: int) -> np.ndarray:
    """A byte buffer reused from block to block (per thread): a fresh one of megabytes
    would page-fault its way through every block."""
    buf: np.ndarray | None = getattr(_SCRATCH, "buf", None)
    if buf is None or buf.shape[0] < size:
        buf = np.empty(size, dtype=np.uint8)
        _SCRATCH.buf = buf
    return buf[:size]


def _parse_line(
    raw: bytes, line: int, fields: Fields, source: Source, report: ShardReport
) -> Document | None:
    """One line by orjson: its document, or None (reported if malformed; blank lines
    are not)."""
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if raw.strip():
            reason = NOT_UTF8 if "UTF-8" in str(exc) or not _utf8(raw) else NOT_JSON
            report.malformed.append(Malformed(source.url, line, f"not JSON ({exc})", reason))
        return None
    if not isinstance(record, dict):
        report.malformed.append(Malformed(source.url, line, "not a JSON object", NOT_OBJECT))
        return None
    text = _text_of(record, fields)
    if text is None:
        want = fields.text or " or ".join(TEXT_FIELDS)
        report.malformed.append(Malformed(source.url, line, f"no text field ({want})", NO_TEXT))
        return None
    return Document(_id_of(record, fields) or "", text, line)


def _line_blocks(f: Any, block: int = 1 << 20) -> Iterator[memoryview]:
    """Whole lines of any readable binary stream, about ``block`` bytes at a time (only
    the stream's last line may lack its newline).

    Decompressing readers do not all support iteration or readline."""
    rest = b""
    while chunk := f.read(block):
        data = rest + chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            rest = data
            continue
        rest = data[cut + 1 :]
        yield memoryview(data)[: cut + 1]  # a view: the block is not copied again
    if rest:
        yield memoryview(rest)


def _parquet(shard: Shard, fields: Fields, report: ShardReport) -> Iterator[Document]:
    row = 0
    for table, text_col, id_col in _row_groups(shard, fields, report):
        yield from _group_documents(table, text_col, id_col, row, shard.source, report)
        row += table.num_rows
        report.lines = row


def _parquet_batches(
    shard: Shard, fields: Fields, report: ShardReport, batch_bytes: int
) -> Iterator[DocBatch]:
    """A Parquet shard's documents in batches. A text column of strings goes from
    Arrow's buffers to the batch in one compiled copy (no Python strings); any
    other (transcript turns) is read row by row."""
    row = 0
    for table, text_col, id_col in _row_groups(shard, fields, report):
        text = table.column(text_col).combine_chunks()
        if pa.types.is_string(text.type) or pa.types.is_large_string(text.type):
            yield from _string_batches(
                table, text, text_col, id_col, row, shard, report, batch_bytes
            )
        else:
            docs = _group_documents(table, text_col, id_col, row, shard.source, report)
            yield from _batched(docs, batch_bytes)
        row += table.num_rows
        report.lines = row


def _string_batches(
    table: pa.Table,
    text: pa.Array,
    text_col: str,
    id_col: str | None,
    first_row: int,
    shard: Shard,
    report: ShardReport,
    batch_bytes: int,
) -> Iterator[DocBatch]:
    valid = valid_mask(text)
    problems = {k: (f"{text_col} is not text", NOT_TEXT) for k in np.flatnonzero(~valid).tolist()}
    # Parquet readers do not check that text is UTF-8; the tokenizer relies on it.
    problems.update(
        (k, (f"{text_col} is not valid UTF-8", NOT_UTF8)) for k in _not_utf8(text).tolist()
    )
    for k, (problem, reason) in sorted(problems.items()):  # reported, skipped
        valid[k] = False
        report.malformed.append(Malformed(shard.source.url, first_row + k + 1, problem, reason))
    offsets = value_buffers(text)[0]
    rows = np.flatnonzero(valid)
    report.documents += len(rows)
    if not len(rows):
        return
    # A batch ends with the document that takes the text past a multiple of batch_bytes.
    ends = offsets[rows + 1] - offsets[0]
    marks = np.arange(batch_bytes, max(int(ends[-1]), 1) + batch_bytes, batch_bytes)
    lo = 0
    for hi in np.unique(np.minimum(np.searchsorted(ends, marks) + 1, len(rows))).tolist():
        chosen = rows[lo:hi]
        out, starts = join_strings(text, chosen, reuse=True)

        def document(j: int, chosen: np.ndarray = chosen) -> Document:
            k = int(chosen[j])
            doc_id = table.column(id_col)[k].as_py() if id_col else None
            return Document(
                "" if doc_id is None else str(doc_id), text[k].as_py(), first_row + k + 1
            )

        yield DocBatch(out, starts, chosen + first_row + 1, document)
        lo = hi


def join_strings(
    text: pa.Array, rows: np.ndarray, *, reuse: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Values ``rows`` of a string array as UTF-8 joined by newlines — what the batch
    scanner reads — and where each one starts; straight from Arrow's buffers.
    ``reuse``: into this thread's reusable buffer (valid until its next use)."""
    offsets, data = value_buffers(text)
    size = int((offsets[rows + 1] - offsets[rows]).sum()) + max(len(rows) - 1, 0)
    out = _scratch(size + 1)[:size] if reuse else np.empty(size, dtype=np.uint8)
    starts = np.empty(len(rows), dtype=np.int64)
    _join_lines(data, offsets, rows, out, starts)
    return out, starts


@numba.njit(cache=True)
def _join_lines(
    data: Any, offsets: Any, rows: Any, out: Any, starts: Any
) -> None:  # pragma: no cover - compiled
    """Values ``rows`` of a string array into ``out``, newline-separated (each document
    starts a line, as the tokenizer expects); ``starts`` receives where each begins."""
    o = 0
    for j in range(rows.shape[0]):
        if j > 0:
            out[o] = 10
            o += 1
        a, b = offsets[rows[j]], offsets[rows[j] + 1]
        starts[j] = o
        copy_bytes(out, o, data, a, b - a)
        o += b - a


def join_lines_reference(values: Sequence[bytes], rows: Sequence[int]) -> tuple[bytes, list[int]]:
    """What :func:`_join_lines` computes: the chosen values joined by newlines, and
    where each starts."""
    joined, starts = b"", []
    for j, row in enumerate(rows):
        joined += b"\n" if j else b""
        starts.append(len(joined))
        joined += values[row]
    return joined, starts


def _not_utf8(text: pa.Array) -> np.ndarray:
    """Rows of a string array that are not valid UTF-8 (checked one by one only when
    Arrow's check of the whole array fails)."""
    try:
        text.validate(full=True)
        return np.zeros(0, dtype=np.int64)
    except pa.ArrowInvalid:
        values = text.cast(pa.binary()).to_pylist()
        return np.array([k for k, v in enumerate(values) if v is not None and not _utf8(v)])


def _utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _row_groups(
    shard: Shard, fields: Fields, report: ShardReport
) -> Iterator[tuple[pa.Table, str, str | None]]:
    """Each row group of a Parquet shard (its text and id columns), counted in bytes."""
    source = shard.source
    with source.open() as f:
        try:
            pf = pq.ParquetFile(f, pre_buffer=False)
        except (pa.ArrowException, OSError) as exc:
            raise InputError(f"{source.url}: not a readable Parquet file ({exc})") from None
        names = pf.schema_arrow.names
        text_col = fields.text or next((n for n in TEXT_FIELDS if n in names), None)
        if text_col is None or text_col not in names:
            raise InputError(
                f"{source.url}: no text column ({fields.text or ' or '.join(TEXT_FIELDS)})"
            )
        id_col = fields.id or next((n for n in ID_FIELDS if n in names), None)
        id_col = id_col if id_col and id_col in names else None
        cols = [text_col] + ([id_col] if id_col else [])
        end = pf.num_row_groups if shard.end < 0 else shard.end
        for g in range(shard.start, end):
            try:
                table = pf.read_row_group(g, columns=cols)
            except (pa.ArrowException, OSError) as exc:  # a damaged page, a truncated file
                raise InputError(f"{source.url}: row group {g} is not readable ({exc})") from None
            report.bytes += table.nbytes
            yield table, text_col, id_col


def _group_documents(
    table: pa.Table,
    text_col: str,
    id_col: str | None,
    first_row: int,
    source: Source,
    report: ShardReport,
) -> list[Document]:
    """The documents of a row group, row by row (text, or transcript turns)."""
    column = table.column(text_col)
    ids = table.column(id_col).to_pylist() if id_col else [None] * table.num_rows
    docs = []
    for k, doc_id in enumerate(ids):
        try:
            value = column[k].as_py()
        except UnicodeDecodeError:
            report.malformed.append(
                Malformed(source.url, first_row + k + 1, f"{text_col} is not valid UTF-8", NOT_UTF8)
            )
            continue
        text = (
            value
            if isinstance(value, str)
            else (transcript_text(value) if isinstance(value, list) else None)
        )
        if text is None:
            report.malformed.append(
                Malformed(source.url, first_row + k + 1, f"{text_col} is not text", NOT_TEXT)
            )
            continue
        report.documents += 1
        docs.append(Document("" if doc_id is None else str(doc_id), text, first_row + k + 1))
    return docs
