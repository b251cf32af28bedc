"""What a version of the terms says, and what changed between two, in plain language.

Both read a version the way a decision does (:func:`.policy.evaluate_rules`,
deny over consent over allow over the default) for every category and use
in the taxonomy, so a notice cannot promise what the decision core would not
hold to, and a diff lists exactly the (category, use) pairs whose answer
changed — nothing a rewording of the rules left as it was.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .policy import ConsentRequirement, Outcome, PolicyVersion, evaluate_rules
from .taxonomy import Taxonomy


@dataclass(frozen=True)
class Terms:
    """One answer a version gives: an effect and, for consent, whose and how."""

    effect: str
    consent_from: str | None = None
    consent_mode: str | None = None

    @staticmethod
    def of(outcome: Outcome) -> Terms:
        req: ConsentRequirement | None = outcome.requirement
        return Terms(outcome.effect, req.from_ if req else None, req.mode if req else None)

    def says(self) -> str:
        """The answer, in words."""
        if self.effect == "allow":
            return "allowed"
        if self.effect == "deny":
            return "never"
        who = (
            "the account admin"
            if self.consent_from == "account_admin"
            else "every person whose content it is"
        )
        how = "given explicitly" if self.consent_mode == "explicit" else "explicit or implied"
        return f"only with the consent of {who} ({how})"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"effect": self.effect}
        if self.consent_from:
            out["consent"] = {"from": self.consent_from, "mode": self.consent_mode}
        return out


_ORDER = {"deny": 0, "require_consent": 1, "allow": 2}


def answers(version: PolicyVersion, taxonomy: Taxonomy) -> dict[tuple[str, str], Outcome]:
    """The version's answer for every (category, use) of the taxonomy."""
    return {
        (c, u): evaluate_rules(version, c, u)
        for u in sorted(taxonomy.uses)
        for c in sorted(taxonomy.categories)
    }


def notice(version: PolicyVersion, taxonomy: Taxonomy) -> dict[str, Any]:
    """A plain-language notice: for each use, which kinds of data it may touch and on
    what terms, with the rules that say so and what they say."""
    table = answers(version, taxonomy)
    uses = []
    for use in sorted(taxonomy.uses):
        groups: dict[Terms, list[str]] = {}
        rules: set[str] = set()
        for category in sorted(taxonomy.categories):
            outcome = table[(category, use)]
            groups.setdefault(Terms.of(outcome), []).append(category)
            rules.update(r.split("#", 1)[1] for r in outcome.rule_ids)
        uses.append(
            {
                "use": use,
                "description": taxonomy.uses[use],
                "terms": [
                    {**terms.to_json(), "says": terms.says(), "categories": cats}
                    for terms, cats in sorted(
                        groups.items(), key=lambda g: (_ORDER[g[0].effect], g[1])
                    )
                ],
                "rules": sorted(rules),
            }
        )
    described = {r.id: r.description for r in version.rules if r.description}
    return {
        "family": version.family,
        "version": version.version,
        "title": version.title,
        "effective_at": version.effective_at.isoformat().replace("+00:00", "Z"),
        "default": version.default,
        "uses": uses,
        "rule_descriptions": described,
    }


def notice_lines(data: dict[str, Any], taxonomy: Taxonomy) -> list[str]:
    """:func:`notice` as text a person reads."""
    head = f"{data['family']} {data['version']}, in force from {data['effective_at']}"
    lines = [head + (f": {data['title']}" if data["title"] else ""), ""]
    for use in data["uses"]:
        lines.append(f"To {use['description']} ({use['use']}):")
        for t in use["terms"]:
            lines.append(f"  {t['says']}: {_kinds(t['categories'], taxonomy)}")
        why = [
            f"{r} — {data['rule_descriptions'][r]}"
            for r in use["rules"]
            if r in data["rule_descriptions"]
        ]
        for w in why:
            lines.append(f"    because {w}")
        if "default" in use["rules"]:
            default = "allowed" if data["default"] == "allow" else "denied"
            lines.append(f"    (what no rule names is {default} by default)")
        lines.append("")
    return lines[:-1]


@dataclass(frozen=True)
class Change:
    """Pairs of (category, use) whose answer went from ``before`` to ``after``."""

    before: Terms
    after: Terms
    categories: tuple[str, ...]
    uses: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "categories": list(self.categories),
            "uses": list(self.uses),
            "before": {**self.before.to_json(), "says": self.before.says()},
            "after": {**self.after.to_json(), "says": self.after.says()},
        }


def diff(old: PolicyVersion, new: PolicyVersion, taxonomy: Taxonomy) -> list[Change]:
    """Every (category, use) whose answer differs between two versions, grouped: pairs
    that changed the same way are one change, its categories and uses listed."""
    before, after = answers(old, taxonomy), answers(new, taxonomy)
    moved: dict[tuple[Terms, Terms, str], list[str]] = {}
    for (category, use), outcome in before.items():
        a, b = Terms.of(outcome), Terms.of(after[(category, use)])
        if a != b:
            moved.setdefault((a, b, use), []).append(category)
    # Uses that changed the same way for the same categories are one change.
    merged: dict[tuple[Terms, Terms, tuple[str, ...]], list[str]] = {}
    for (a, b, use), cats in moved.items():
        merged.setdefault((a, b, tuple(cats)), []).append(use)
    changes = [Change(a, b, cats, tuple(uses)) for (a, b, cats), uses in merged.items()]
    return sorted(changes, key=lambda c: (c.uses, c.categories))


def diff_lines(
    old: PolicyVersion, new: PolicyVersion, changes: Iterable[Change], taxonomy: Taxonomy
) -> list[str]:
    """:func:`diff` as text a person reads."""
    changes = list(changes)
    head = f"{old.family} {old.version} -> {new.family} {new.version}"
    if not changes:
        return [f"{head}: no answer changed"]
    lines = [f"{head}: {len(changes)} change(s)"]
    for c in changes:
        uses = ", ".join(taxonomy.uses[u] for u in c.uses)
        lines.append(f"- to {uses}, with {_kinds(c.categories, taxonomy)}:")
        lines.append(f"    was {c.before.says()}; now {c.after.says()}")
    return lines


def _kinds(categories: Iterable[str], taxonomy: Taxonomy) -> str:
    return ", ".join(taxonomy.categories[c] for c in categories)
