"""Finding and reading input files: local paths, folders, globs and fsspec URLs.

The gate and the scanner both take "SOURCE..." arguments. A source is a file,
a folder (every data file below it, in sorted order), a glob, or an fsspec URL
(``s3://…``, ``memory://…``) of any of those. ``.gz`` and ``.zst`` files are
decompressed on the fly. Parquet, JSONL and CSV are read as Arrow record
batches of bounded size, so memory stays flat whatever the corpus size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any, Literal

import fsspec
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from .errors import InputError

Format = Literal["parquet", "jsonl", "csv", "text"]
FORMATS: tuple[str, ...] = ("parquet", "jsonl", "csv", "text")

_COMPRESSION = {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd"}
_SUFFIX_FORMAT: dict[str, Format] = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".txt": "text",
    ".text": "text",
    ".md": "text",
}
_GLOB_CHARS = set("*?[")
BATCH_ROWS = 65_536
_JSON_BLOCK = 16 << 20


@dataclass(frozen=True)
class Source:
    """One input file: where it is, how it is compressed, what it holds."""

    url: str
    path: str
    fs: Any
    format: Format
    compression: str | None

    def open(self) -> IO[bytes]:
        try:
            f: IO[bytes] = self.fs.open(self.path, "rb", compression=self.compression)
        except (OSError, ValueError) as exc:
            raise InputError(f"{self.url}: cannot open: {exc}") from None
        return f

    @property
    def is_local(self) -> bool:
        protocol = self.fs.protocol if isinstance(self.fs.protocol, str) else self.fs.protocol[0]
        return protocol in ("file", "local")

    def open_arrow(self) -> Any:
        """A stream for Arrow's readers: native (Arrow-allocated buffers) for local
        files, so long runs do not fragment the Python heap; fsspec otherwise."""
        if not self.is_local:
            return self.open()
        try:
            if self.format == "parquet" and self.compression is None:
                return pa.OSFile(self.path, "r")
            return pa.input_stream(self.path, compression=self.compression)
        except (OSError, pa.ArrowInvalid) as exc:
            raise InputError(f"{self.url}: cannot open: {exc}") from None

    def size(self) -> int:
        try:
            return int(self.fs.size(self.path) or 0)
        except (OSError, ValueError):
            return 0

    def sha256(self) -> str:
        """SHA-256 of the stored bytes (compressed, as they are at rest)."""
        h = hashlib.sha256()
        with self.fs.open(self.path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        return h.hexdigest()


def _split_suffixes(path: str) -> tuple[str | None, str]:
    """(compression, the suffix that names the format) of a path."""
    name = path.rsplit("/", 1)[-1].lower()
    compression = None
    for suffix, codec in _COMPRESSION.items():
        if name.endswith(suffix):
            compression, name = codec, name[: -len(suffix)]
            break
    dot = name.rfind(".")
    return compression, name[dot:] if dot >= 0 else ""


def _format_of(path: str, forced: Format | None) -> Format | None:
    if forced is not None:
        return forced
    _, suffix = _split_suffixes(path)
    return _SUFFIX_FORMAT.get(suffix)


def expand_sources(
    specs: Sequence[str], fmt: Format | None = None, *, default_format: Format | None = None
) -> list[Source]:
    """Every file the source arguments name, in a stable order; bad names fail early."""
    if fmt is not None and fmt not in FORMATS:
        raise InputError(f"--format {fmt!r} is not one of {', '.join(FORMATS)}")
    out: list[Source] = []
    seen: set[str] = set()
    for spec in specs:
        try:
            fs, root = fsspec.core.url_to_fs(spec)
        except (ImportError, ValueError) as exc:
            raise InputError(f"{spec}: cannot open this location: {exc}") from None
        protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
        if _GLOB_CHARS & set(root):
            paths = sorted(p for p in fs.glob(root) if not fs.isdir(p))
            named = False
        elif fs.isdir(root):
            # Hidden files and folders (".git", a run's ".out.partial-…") are not data.
            paths = sorted(
                p
                for p in fs.find(root)
                if not any(part.startswith(".") for part in p[len(root) :].split("/") if part)
            )
            named = False
        elif fs.exists(root):
            paths, named = [root], True
        else:
            raise InputError(f"{spec}: no such file or folder")
        found = 0
        for path in paths:
            f = _format_of(path, fmt)
            if f is None:
                f = default_format if named else None
            if f is None:
                if named:
                    raise InputError(
                        f"{spec}: cannot tell the format from the name; pass --format "
                        f"({', '.join(FORMATS)})"
                    )
                continue  # a folder or glob may hold other files: skip them
            url = path if protocol in ("file", "local") else f"{protocol}://{path}"
            if url in seen:
                continue
            seen.add(url)
            compression, _ = _split_suffixes(path)
            out.append(Source(url, path, fs, f, compression))
            found += 1
        if not found:
            raise InputError(f"{spec}: holds no data files (parquet, jsonl, csv or text)")
    return out


def read_batches(
    source: Source, batch_rows: int = BATCH_ROWS, as_text: Sequence[str] = ()
) -> Iterator[pa.RecordBatch]:
    """Stream a tabular source as record batches; a corrupt file is one clear error.

    ``as_text`` columns are read from JSONL and CSV as text, untouched: Arrow
    would otherwise turn ISO 8601 strings into timestamps and drop their
    offsets, and a time without a zone must be refused, not guessed at.
    """
    text_schema = pa.schema([(c, pa.string()) for c in as_text])
    if source.format == "text":
        raise InputError(f"{source.url}: plain text has no columns; use parquet, jsonl or csv")
    f = source.open_arrow()
    try:
        if source.format == "parquet":
            try:
                reader = pq.ParquetFile(f, pre_buffer=False)
            except (pa.ArrowInvalid, OSError) as exc:
                raise InputError(f"{source.url}: not a readable Parquet file: {exc}") from None
            batches: Iterator[pa.RecordBatch] = reader.iter_batches(batch_size=batch_rows)
        elif source.format == "jsonl":
            batches = iter(
                pajson.open_json(
                    f,
                    read_options=pajson.ReadOptions(block_size=_JSON_BLOCK),
                    parse_options=pajson.ParseOptions(
                        explicit_schema=text_schema, unexpected_field_behavior="infer"
                    ),
                )
            )
        else:
            batches = iter(
                pacsv.open_csv(
                    f,
                    read_options=pacsv.ReadOptions(block_size=_JSON_BLOCK),
                    convert_options=pacsv.ConvertOptions(
                        column_types={c: pa.string() for c in as_text}
                    ),
                )
            )
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                return
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError, EOFError) as exc:
                raise InputError(f"{source.url}: {_first_line(exc)}") from None
            for start in range(0, batch.num_rows, batch_rows):
                yield batch.slice(start, batch_rows)
    except (pa.ArrowInvalid, OSError, EOFError) as exc:
        raise InputError(f"{source.url}: {_first_line(exc)}") from None
    finally:
        f.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
