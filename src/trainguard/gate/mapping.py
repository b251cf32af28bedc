"""Which source columns hold a record's metadata, and which hold its content.

A mapping file (YAML) names the columns::

    id: message_id
    tenant: account_id
    category: kind                 # a column of category keys (or lists of them)
    # category_value: customer.chat  (instead: one category for the whole source)
    collected_at: sent_at
    subjects: participants         # optional
    derived_from: parent_ids       # optional
    content: [body, attachments]   # optional; default: every column not named above

Without a mapping file the columns named ``id``, ``tenant``, ``category`` (or
``categories``), ``collected_at``, ``subjects`` and ``derived_from`` are used.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, model_validator

from ..decision.taxonomy import Taxonomy
from ..errors import InputError
from ..yamlfile import load_model, read_text


class MappingFileError(InputError):
    """A mapping file is not valid."""


class ColumnMapping(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    id: str = "id"
    tenant: str = "tenant"
    category: str | None = None
    category_value: str | None = None
    collected_at: str = "collected_at"
    subjects: str | None = None
    derived_from: str | None = None
    content: list[str] | None = None

    @model_validator(mode="after")
    def _one_category(self) -> ColumnMapping:
        if self.category is not None and self.category_value is not None:
            raise ValueError("give either category (a column) or category_value, not both")
        return self

    @classmethod
    def load(cls, path: str | Path) -> ColumnMapping:
        text = read_text(path, MappingFileError)
        return load_model(text, str(Path(path)), cls, MappingFileError)

    # --- applying to a schema ---------------------------------------------------------

    def resolve(self, schema: pa.Schema, source: str, taxonomy: Taxonomy) -> ResolvedMapping:
        """Check the mapping against one input's columns; fail with the missing name."""
        names = schema.names

        def need(column: str, role: str) -> str:
            if column not in names:
                raise InputError(
                    f"{source}: no column {column!r} for the record {role} "
                    f"(columns: {', '.join(names)})"
                )
            return column

        def optional(column: str | None, default: str) -> str | None:
            if column is not None:
                return need(column, default.replace("_", " "))
            return default if default in names else None

        category = self.category
        if self.category_value is not None:
            taxonomy.check_category(self.category_value)
        elif category is None:
            category = next((c for c in ("category", "categories") if c in names), None)
            if category is None:
                raise InputError(
                    f"{source}: no column 'category' or 'categories' and no category_value "
                    f"in a mapping (columns: {', '.join(names)})"
                )
        else:
            need(category, "category")
        meta = {
            "id": need(self.id, "id"),
            "tenant": need(self.tenant, "tenant"),
            "collected_at": need(self.collected_at, "collection time"),
        }
        subjects = optional(self.subjects, "subjects")
        derived = optional(self.derived_from, "derived_from")
        taken = {*meta.values(), category, subjects, derived} - {None}
        if self.content is not None:
            content = tuple(need(c, "content") for c in self.content)
        else:
            content = tuple(n for n in names if n not in taken)
        return ResolvedMapping(
            id=meta["id"],
            tenant=meta["tenant"],
            category=category,
            category_value=self.category_value,
            collected_at=meta["collected_at"],
            subjects=subjects,
            derived_from=derived,
            content=content,
        )


class ResolvedMapping(BaseModel):
    """A mapping checked against one schema: every name here is a real column."""

    model_config = ConfigDict(frozen=True)

    id: str
    tenant: str
    category: str | None
    category_value: str | None
    collected_at: str
    subjects: str | None
    derived_from: str | None
    content: tuple[str, ...]
