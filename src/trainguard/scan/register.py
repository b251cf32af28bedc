"""Registering files: their records, with the ids a registry gives records without one.

An item's id is its record's id field when it has one (``--id-field``, else
``id``, ``doc_id`` or ``meeting_id``); otherwise a keyed digest of where it
came from — the file's path relative to the argument that named it, and the
record's line or row (:func:`.names.default_item_id`) — never the path
itself, which often names a person and may be absolute.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import fsspec

from ..sources import Format, Source, expand_sources
from .corpus import Fields, Malformed, Shard, ShardReport, read_documents
from .names import check_category, check_tenant
from .registry import AddResult, Registry

_GLOB_CHARS = set("*?[")


@dataclass
class RegisterResult:
    added: AddResult
    malformed: list[Malformed] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)


def relative_name(spec: str, source: Source) -> str:
    """``source``'s path relative to the argument ``spec`` that named it: the file's
    name for a file, its path below the folder for a folder, below the part
    before the first wildcard for a glob."""
    _, root = fsspec.core.url_to_fs(spec)
    root = root.rstrip("/")
    if _GLOB_CHARS & set(root):
        base = root[: min(root.index(c) for c in _GLOB_CHARS if c in root)].rsplit("/", 1)[0]
    elif source.path.rstrip("/") == root:
        base = posixpath.dirname(root)
    else:
        base = root
    rel = source.path[len(base) :] if source.path.startswith(base) else source.path
    return rel.lstrip("/") or posixpath.basename(source.path)


def register_sources(
    registry: Registry,
    tenant: str,
    specs: Sequence[str],
    fields: Fields,
    category: str | None = None,
    fmt: Format | None = None,
    *,
    progress: Callable[[int], None] | None = None,
    on_malformed: Callable[[Malformed], None] | None = None,
) -> RegisterResult:
    """Register every record of the files ``specs`` name as content of ``tenant``."""
    check_tenant(tenant)
    check_category(category, registry.store.taxonomy() if registry.store else None)
    named = [
        (spec, source)
        for spec in specs
        for source in expand_sources([spec], fmt, default_format="text")
    ]
    result = RegisterResult(AddResult(), sources=[s.url for _, s in named])

    def records() -> Iterator[tuple[str, str, str | None]]:
        for i, (spec, source) in enumerate(named):
            name = relative_name(spec, source)
            report = ShardReport()
            for doc in read_documents(Shard(i, source), fields, report):
                if source.format == "text":
                    item_id = registry.default_id(tenant, name)
                else:
                    item_id = doc.doc_id or registry.default_id(tenant, f"{name}:{doc.line}")
                yield item_id, doc.text, category
            for m in report.malformed:
                result.malformed.append(m)
                if on_malformed:
                    on_malformed(m)

    result.added = registry.add(tenant, records(), progress=progress)
    return result
