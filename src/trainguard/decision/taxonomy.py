"""Categories of data and uses of data, as hierarchical dotted keys.

A *key* names one leaf (``customer.chat``). A *pattern* is a key, a subtree
(``customer.*``, ``train.*``) or everything (``*``). Patterns are checked
against the taxonomy when they are loaded, so a typo in a policy or a consent
event is an error then, not a silent no-match later.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from ..errors import TaxonomyError

_KEY = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")

BUILTIN_CATEGORIES: dict[str, str] = {
    "customer.audio": "meeting or call audio",
    "customer.video": "meeting or call video",
    "customer.chat": "chat messages",
    "customer.screen_share": "screen-share content",
    "customer.attachment": "files shared in meetings or chat",
    "customer.poll_result": "answers to polls",
    "customer.whiteboard": "whiteboard content",
    "customer.reaction": "reactions and emoji",
    "customer.transcript": "transcripts derived from audio",
    "customer.recording": "recordings of meetings",
    "customer.ai_output": "AI outputs computed from customer content (summaries, embeddings)",
    "service.telemetry": "service-generated telemetry",
    "service.usage": "usage data about the service",
    "service.diagnostics": "diagnostic data (crash reports, logs)",
    "external.public_web": "public web text",
    "external.licensed": "licensed third-party data",
    "external.synthetic": "synthetic data",
}

BUILTIN_USES: dict[str, str] = {
    "train.first_party": "train or fine-tune the platform's own AI models",
    "train.third_party": "train or fine-tune another company's AI models",
    "infer.feature": "an AI feature serving the customer (e.g. a meeting summary)",
    "infer.third_party": "send content to another company's model for inference",
    "analytics.product": "product analytics",
    "biometric.emotion_recognition": "infer emotions from faces or voices",
    "human_review": "review by a person",
}

# Neighbouring vocabularies, for interoperability and audits. A value of None
# means the other vocabulary has no close equivalent.
FIDESLANG_CATEGORIES: dict[str, str] = {
    "customer.audio": "user.content.private",
    "customer.video": "user.content.private",
    "customer.chat": "user.content.private",
    "customer.screen_share": "user.content.private",
    "customer.attachment": "user.content.private",
    "customer.poll_result": "user.content.private",
    "customer.whiteboard": "user.content.private",
    "customer.reaction": "user.content.private",
    "customer.transcript": "user.content.private",
    "customer.recording": "user.content.private",
    "customer.ai_output": "user.content.private",
    "service.telemetry": "user.telemetry",
    "service.usage": "user.behavior",
    "service.diagnostics": "system.operations",
    "external.public_web": "user.content.public",
    "external.licensed": "system",
    "external.synthetic": "system",
}

FIDESLANG_USES: dict[str, str] = {
    "train.first_party": "train_ai_system",
    "train.third_party": "third_party_sharing",
    "infer.feature": "essential.service",
    "infer.third_party": "third_party_sharing",
    "analytics.product": "analytics",
    "biometric.emotion_recognition": "personalize",
    "human_review": "essential.service.operations",
}

CAWG_USES: dict[str, str | None] = {
    "train.first_party": "cawg.ai_training",
    "train.third_party": "cawg.ai_training",
    "infer.feature": "cawg.ai_inference",
    "infer.third_party": "cawg.ai_inference",
    "analytics.product": "cawg.data_mining",
    "biometric.emotion_recognition": "cawg.ai_inference",
    "human_review": None,
}


@dataclass(frozen=True)
class Taxonomy:
    """The known categories and uses, builtin plus extensions."""

    categories: Mapping[str, str] = field(default_factory=lambda: dict(BUILTIN_CATEGORIES))
    uses: Mapping[str, str] = field(default_factory=lambda: dict(BUILTIN_USES))

    def extended(self, categories: Mapping[str, str], uses: Mapping[str, str]) -> Taxonomy:
        """A taxonomy with more keys. Existing keys cannot be redefined."""
        for kind, new, old in (("category", categories, self.categories), ("use", uses, self.uses)):
            for key in new:
                check_key(key, kind)
                if key in old:
                    raise TaxonomyError(f"{kind} {key!r} is already defined")
        return Taxonomy({**self.categories, **categories}, {**self.uses, **uses})

    def check_category(self, key: str) -> str:
        if key not in self.categories:
            raise TaxonomyError(f"unknown category {key!r}")
        return key

    def check_use(self, key: str) -> str:
        if key not in self.uses:
            raise TaxonomyError(f"unknown use {key!r}")
        return key

    def check_category_pattern(self, pattern: str) -> str:
        return _check_pattern(pattern, self.categories, "category")

    def check_use_pattern(self, pattern: str) -> str:
        return _check_pattern(pattern, self.uses, "use")


def check_key(key: str, kind: str) -> str:
    if not _KEY.match(key):
        raise TaxonomyError(
            f"{kind} key {key!r} is malformed (lower-case dotted words, at least two, e.g. acme.notes)"
        )
    return key


def _check_pattern(pattern: str, known: Mapping[str, str], kind: str) -> str:
    if pattern == "*":
        return pattern
    if pattern.endswith(".*"):
        prefix = pattern[:-2]
        if not any(k.startswith(prefix + ".") for k in known):
            raise TaxonomyError(f"{kind} pattern {pattern!r} matches no known {kind}")
        return pattern
    if "*" in pattern:
        raise TaxonomyError(f"{kind} pattern {pattern!r}: '*' may only end a pattern, as in a.*")
    if pattern not in known:
        hint = ""
        if any(k.startswith(pattern + ".") for k in known):
            hint = f" (did you mean {pattern}.*?)"
        raise TaxonomyError(f"unknown {kind} {pattern!r}{hint}")
    return pattern


@lru_cache(maxsize=65536)
def pattern_matches(pattern: str, key: str) -> bool:
    """True when ``pattern`` (a key, ``prefix.*`` or ``*``) covers ``key``."""
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return key.startswith(pattern[:-1])
    return pattern == key


def any_matches(patterns: Iterable[str], key: str) -> bool:
    return any(pattern_matches(p, key) for p in patterns)


DEFAULT_TAXONOMY = Taxonomy()
