"""Policy versions: one version of a set of terms, loaded strictly from YAML.

A version is immutable once added and is known by its content hash: the
SHA-256 of its canonical JSON form, so comments and formatting in the YAML do
not change it but any change of meaning does.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..canonical import canonical_json
from ..errors import PolicyFileError, TaxonomyError
from ..limits import MAX_POLICY_RULES, MAX_RULE_PATTERNS
from ..timeutil import format_instant, parse_instant
from .identity import FAMILY
from .taxonomy import DEFAULT_TAXONOMY, Taxonomy, pattern_matches

_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")

Effect = Literal["allow", "deny", "require_consent"]
ConsentFrom = Literal["account_admin", "every_subject"]
ConsentMode = Literal["explicit", "any"]

_FROM_STRICTNESS = {"account_admin": 0, "every_subject": 1}
_MODE_STRICTNESS = {"any": 0, "explicit": 1}


class ConsentRequirement(BaseModel):
    """Whose consent a use needs, and whether implied consent counts."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    from_: ConsentFrom = Field(alias="from")
    mode: ConsentMode

    def stricter(self, other: ConsentRequirement) -> ConsentRequirement:
        """The requirement that satisfies both: the stricter party and mode."""
        from_ = max(self.from_, other.from_, key=_FROM_STRICTNESS.__getitem__)
        mode = max(self.mode, other.mode, key=_MODE_STRICTNESS.__getitem__)
        return ConsentRequirement(**{"from": from_, "mode": mode})

    def as_json(self) -> dict[str, str]:
        return {"from": self.from_, "mode": self.mode}


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    categories: tuple[str, ...] = Field(min_length=1, max_length=MAX_RULE_PATTERNS)
    uses: tuple[str, ...] = Field(min_length=1, max_length=MAX_RULE_PATTERNS)
    effect: Effect
    consent: ConsentRequirement | None = None
    description: str | None = None

    @field_validator("id")
    @classmethod
    def _id_shape(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError("rule id must be lower-case letters, digits, '.', '_' or '-'")
        return v

    @model_validator(mode="after")
    def _consent_iff_required(self) -> Rule:
        if self.effect == "require_consent" and self.consent is None:
            raise ValueError("effect require_consent needs a consent: {from:, mode:}")
        if self.effect != "require_consent" and self.consent is not None:
            raise ValueError(
                f"consent is only allowed with effect require_consent, not {self.effect}"
            )
        return self


class PolicyVersion(BaseModel):
    """One version of one family of terms."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    family: str
    version: str = Field(min_length=1)
    effective_at: datetime
    default: Literal["allow", "deny"]
    title: str | None = None
    rules: tuple[Rule, ...] = Field(default=(), max_length=MAX_POLICY_RULES)

    @field_validator("family")
    @classmethod
    def _family_shape(cls, v: str) -> str:
        problem = FAMILY.problem(v)
        if problem is not None:
            raise ValueError(problem)
        return v

    @field_validator("effective_at", mode="before")
    @classmethod
    def _parse_time(cls, v: Any) -> datetime:
        if isinstance(v, datetime):
            if v.tzinfo is None:
                raise ValueError("effective_at needs a timezone")
            return v
        if not isinstance(v, str):
            raise ValueError("effective_at must be an ISO 8601 date-time with a timezone")
        try:
            return parse_instant(v, "effective_at")
        except Exception as exc:  # parse_instant's message is already the right one
            raise ValueError(str(exc).removeprefix("effective_at: ")) from exc

    @model_validator(mode="after")
    def _unique_rule_ids(self) -> PolicyVersion:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"duplicate rule id {rule.id!r}")
            seen.add(rule.id)
        return self

    def canonical(self) -> dict[str, Any]:
        """The JSON form the hash is taken over."""
        body = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        body["effective_at"] = format_instant(self.effective_at)
        return body

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(canonical_json(self.canonical())).hexdigest()

    @property
    def label(self) -> str:
        return f"{self.family}@{self.version}"

    def check_taxonomy(self, taxonomy: Taxonomy) -> None:
        for rule in self.rules:
            for c in rule.categories:
                taxonomy.check_category_pattern(c)
            for u in rule.uses:
                taxonomy.check_use_pattern(u)


@dataclass(frozen=True)
class Outcome:
    """What one version says about one (category, use)."""

    effect: Effect
    requirement: ConsentRequirement | None
    rule_ids: tuple[str, ...]

    def same_terms(self, other: Outcome) -> bool:
        """Same effect and consent requirement: a consent given under one holds under the other."""
        return self.effect == other.effect and self.requirement == other.requirement


class CompiledPolicy:
    """A policy version with a memo of its answers per (category, use)."""

    def __init__(self, version: PolicyVersion) -> None:
        self.version = version
        self.hash = version.content_hash
        self.effective_micros = _micros(version.effective_at)
        self._memo: dict[tuple[str, str], Outcome] = {}

    def evaluate(self, category: str, use: str) -> Outcome:
        key = (category, use)
        hit = self._memo.get(key)
        if hit is None:
            hit = self._memo[key] = evaluate_rules(self.version, category, use)
        return hit

    def ref(self) -> dict[str, str]:
        v = self.version
        return {
            "family": v.family,
            "version": v.version,
            "hash": self.hash,
            "effective_at": format_instant(v.effective_at),
        }


def evaluate_rules(version: PolicyVersion, category: str, use: str) -> Outcome:
    """Normative single-version evaluation: deny wins, then require_consent, then allow,
    then the version's stated default."""
    matching = [
        r
        for r in version.rules
        if any(pattern_matches(p, category) for p in r.categories)
        and any(pattern_matches(p, use) for p in r.uses)
    ]
    label = version.version
    for effect in ("deny", "require_consent", "allow"):
        fired = [r for r in matching if r.effect == effect]
        if not fired:
            continue
        requirement: ConsentRequirement | None = None
        for r in fired:
            if r.consent is not None:
                requirement = r.consent if requirement is None else requirement.stricter(r.consent)
        return Outcome(effect, requirement, tuple(f"{label}#{r.id}" for r in fired))
    return Outcome(version.default, None, (f"{label}#default",))


def _micros(value: datetime) -> int:
    from ..timeutil import to_micros

    return to_micros(value)


# --- loading -------------------------------------------------------------------------


def parse_policy(text: str, source: str, taxonomy: Taxonomy = DEFAULT_TAXONOMY) -> PolicyVersion:
    """Parse and validate one policy version. Errors name ``source`` and the line."""
    # Here rather than at the top: terms read back from the store are JSON, and
    # a process that only decides need not load the YAML reader.
    from ..yamlfile import line_for, parse_yaml, validation_message

    try:
        data, lines = parse_yaml(text, PolicyFileError)
    except PolicyFileError as exc:
        raise PolicyFileError(f"{source}: {exc}") from exc
    if not isinstance(data, dict):
        raise PolicyFileError(f"{source}: line 1: a policy file must be a mapping")
    try:
        policy = PolicyVersion.model_validate(data)
    except ValidationError as exc:
        raise PolicyFileError(f"{source}: {validation_message(exc, lines)}") from None
    for i, rule in enumerate(policy.rules):
        for kind, patterns in (("categories", rule.categories), ("uses", rule.uses)):
            for j, pattern in enumerate(patterns):
                try:
                    if kind == "categories":
                        taxonomy.check_category_pattern(pattern)
                    else:
                        taxonomy.check_use_pattern(pattern)
                except TaxonomyError as exc:
                    line = line_for(("rules", i, kind, j), lines)
                    where = f"line {line}: " if line is not None else ""
                    raise PolicyFileError(f"{source}: {where}rule {rule.id!r}: {exc}") from None
    return policy


def load_policy_file(path: str | Path, taxonomy: Taxonomy = DEFAULT_TAXONOMY) -> PolicyVersion:
    from ..yamlfile import read_text

    return parse_policy(read_text(path, PolicyFileError), str(Path(path)), taxonomy)
