"""Media records of a corpus: files in folders, WebDataset-style tar shards, and the
binary columns of Parquet files and of the Arrow files of Hugging Face ``datasets``
folders written by ``save_to_disk`` (plain, or ``datasets`` Audio and Image
features: structs of ``bytes`` and ``path``), local or at fsspec URLs
(``s3://``, ``gs://``, ``memory://``, ``file://``, … with the filesystem's package).

A record is one piece of media: a file, a tar member, or one binary value of a
Parquet row. Its kind is taken from its content, not its name. A record that
cannot be read is a :class:`~trainguard.scan.corpus.Malformed` the scan counts
and goes on from; a path that does not exist, or holds no media at all, is an
input error.
"""

from __future__ import annotations

import glob
import tarfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ...errors import InputError
from ..corpus import Malformed
from .decode import MEDIA_SUFFIXES

# .arrow: the Arrow IPC files of a `datasets` folder (save_to_disk writes the stream
# format; the file format is read too).
CONTAINERS = (".tar", ".parquet", ".arrow")
ID_COLUMNS = ("id", "key", "__key__", "doc_id")
MAX_RECORD_BYTES = 4 << 30  # a single record larger than this is refused, not read


@dataclass(frozen=True)
class MediaRecord:
    source: str  # the file (or tar/Parquet file) it came from
    id: str  # file path, tar member name, or Parquet id (else row:column)
    data: bytes


def is_url(raw: str | Path) -> bool:
    return isinstance(raw, str) and "://" in raw


def _expand_url(raw: str) -> list[str]:
    import fsspec

    try:
        fs, root = fsspec.core.url_to_fs(raw)
        protocol = raw.split("://", 1)[0]
        if fs.isdir(root):
            found = sorted(f for f in fs.find(root) if _wanted(Path(f)))
            return [f"{protocol}://{f.removeprefix(protocol + '://')}" for f in found]
        if fs.isfile(root):
            return [raw]
    except (OSError, ValueError, ImportError) as exc:
        raise InputError(f"{raw}: cannot be read ({exc})") from None
    raise InputError(f"{raw}: no such file or folder")


def expand_media(paths: Sequence[str]) -> list[Path | str]:
    """The media files, tar shards and Parquet files under ``paths`` (sorted); local
    ones as paths, the rest as fsspec URLs."""
    out: list[Path | str] = []
    for raw in paths:
        if is_url(raw):
            out += _expand_url(raw)
            continue
        matches = sorted(glob.glob(raw)) if any(c in raw for c in "*?[") else [raw]
        if not matches:
            raise InputError(f"{raw}: matches no file")
        for m in matches:
            p = Path(m)
            if p.is_dir():
                out += sorted(f for f in p.rglob("*") if f.is_file() and _wanted(f))
            elif p.is_file():
                out.append(p)
            else:
                raise InputError(f"{raw}: no such file or folder")
    if not out:
        raise InputError(f"{', '.join(paths)}: no audio, video, image, tar or Parquet files")
    return out


def _wanted(f: Path) -> bool:
    suffix = f.suffix.lower()
    return suffix in MEDIA_SUFFIXES or suffix in CONTAINERS


def read_records(path: Path | str) -> Iterator[MediaRecord | Malformed]:
    """Every record of one file (a path, or an fsspec URL)."""
    if is_url(path):
        yield from _url_records(str(path))
        return
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".tar":
        yield from _tar_records(path)
    elif suffix == ".parquet":
        yield from _parquet_records(path)
    elif suffix == ".arrow":
        yield from _arrow_records(path)
    else:
        try:
            size = path.stat().st_size
            if size > MAX_RECORD_BYTES:
                yield Malformed(str(path), 1, f"{size:,} bytes: larger than one record may be")
                return
            yield MediaRecord(str(path), str(path), path.read_bytes())
        except OSError as exc:
            yield Malformed(str(path), 1, f"unreadable ({exc.strerror or exc})")


def _url_records(url: str) -> Iterator[MediaRecord | Malformed]:
    import fsspec

    suffix = PurePosixPath(url).suffix.lower()
    try:
        with fsspec.open(url, "rb") as f:
            if suffix == ".tar":
                yield from _tar_records(url, f)
            elif suffix == ".parquet":
                yield from _parquet_records(url, f)
            elif suffix == ".arrow":
                yield from _arrow_records(url, f)
            else:
                size = f.size if isinstance(getattr(f, "size", None), int) else 0
                if size > MAX_RECORD_BYTES:
                    yield Malformed(url, 1, f"{size:,} bytes: larger than one record may be")
                    return
                yield MediaRecord(url, url, f.read())
    except (OSError, ValueError) as exc:
        yield Malformed(url, 1, f"unreadable ({exc})")


def _tar_records(path: Path | str, fileobj: Any = None) -> Iterator[MediaRecord | Malformed]:
    """Members of a tar shard whose names end in a media suffix (WebDataset keeps a
    sample's parts as key.ext members; captions and JSON are skipped)."""
    number = 0
    try:
        with tarfile.open(None if fileobj else path, "r:*", fileobj=fileobj) as tar:
            for member in tar:
                if not member.isfile():
                    continue
                if PurePosixPath(member.name).suffix.lower() not in MEDIA_SUFFIXES:
                    continue
                number += 1
                if member.size > MAX_RECORD_BYTES:
                    yield Malformed(str(path), number, f"{member.name}: too large")
                    continue
                f = tar.extractfile(member)
                if f is None:
                    continue
                yield MediaRecord(str(path), member.name, f.read())
    except (tarfile.TarError, OSError, EOFError) as exc:
        yield Malformed(str(path), number + 1, f"tar shard unreadable ({exc})")


def _is_binary(t: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_binary(t) or pa.types.is_large_binary(t))


def _is_feature(t: Any) -> bool:
    """A Hugging Face Audio or Image feature as stored: a struct with binary ``bytes``."""
    import pyarrow as pa

    if not pa.types.is_struct(t):
        return False
    index = t.get_field_index("bytes")
    return bool(index >= 0 and _is_binary(t.field(index).type))


def _parquet_records(path: Path | str, fileobj: Any = None) -> Iterator[MediaRecord | Malformed]:
    """Each non-null value of every binary column (or Audio/Image feature's bytes); its id
    from an id column if any."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(fileobj if fileobj is not None else path)
    except (OSError, pa.ArrowException) as exc:
        yield Malformed(str(path), 1, f"Parquet file unreadable ({exc})")
        return
    binary, id_column = _media_columns(path, pf.schema_arrow)
    columns = binary + ([id_column] if id_column and id_column not in binary else [])
    yield from _table_records(path, pf.iter_batches(columns=columns), binary, id_column, "Parquet")


def _arrow_records(path: Path | str, fileobj: Any = None) -> Iterator[MediaRecord | Malformed]:
    """The same from an Arrow IPC file: ``datasets``' ``save_to_disk`` writes its shards
    (``data-00000-of-00001.arrow``) in the stream format; the file format is read too."""
    import pyarrow as pa

    try:
        source = fileobj if fileobj is not None else pa.memory_map(str(path))
        try:
            reader: Any = pa.ipc.open_stream(source)
        except pa.ArrowInvalid:
            source.seek(0)
            file_reader = pa.ipc.open_file(source)
            batches: Iterator[Any] = (
                file_reader.get_batch(i) for i in range(file_reader.num_record_batches)
            )
            schema = file_reader.schema
        else:
            batches, schema = iter(reader), reader.schema
    except (OSError, pa.ArrowException) as exc:
        yield Malformed(str(path), 1, f"Arrow file unreadable ({exc})")
        return
    binary, id_column = _media_columns(path, schema)
    yield from _table_records(path, batches, binary, id_column, "Arrow")


def _media_columns(path: Path | str, schema: Any) -> tuple[list[str], str | None]:
    """The binary columns and Audio/Image features to read, and the id column if any."""
    binary = [f.name for f in schema if _is_binary(f.type) or _is_feature(f.type)]
    if not binary:
        raise InputError(f"{path}: no binary column (or Audio/Image feature) to read media from")
    return binary, next((c for c in ID_COLUMNS if c in schema.names), None)


def _table_records(
    path: Path | str, batches: Iterator[Any], binary: list[str], id_column: str | None, what: str
) -> Iterator[MediaRecord | Malformed]:
    """Each non-null value of the ``binary`` columns of record batches, named by the id
    column if any, else by row (then ``:column`` when there are several)."""
    import pyarrow as pa

    row = 0
    try:
        for batch in batches:
            ids = batch.column(id_column).to_pylist() if id_column else None
            columns = {
                c: batch.column(c).field("bytes") if _is_feature(batch.column(c).type)
                else batch.column(c)
                for c in binary
            }  # fmt: skip
            for i in range(batch.num_rows):
                row += 1
                for c in binary:
                    value = columns[c][i].as_py()
                    if value is None:
                        continue
                    name = f"{ids[i]}" if ids is not None else f"row {row}"
                    if len(binary) > 1:
                        name += f":{c}"
                    yield MediaRecord(str(path), name, value)
    except (OSError, pa.ArrowException) as exc:
        yield Malformed(str(path), row + 1, f"{what} file unreadable ({exc})")
