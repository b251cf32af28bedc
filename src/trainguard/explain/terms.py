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

from ..decision.policy import ConsentRequirement, Outcome, PolicyVersion, evaluate_rules
from ..decision.taxonomy import Taxonomy


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


# How permissive an effect is: an expansion moves up this order, a restriction down.
_PERMISSIVE = {"deny": 0, "require_consent": 1, "allow": 2}
_FROM = {"account_admin": 0, "every_subject": 1}
_MODE = {"any": 0, "explicit": 1}

EXPANSION, RESTRICTION, CONSENT_CHANGE = "expansion", "restriction", "consent_change"
KINDS = (EXPANSION, RESTRICTION, CONSENT_CHANGE)


def classify(before: Terms, after: Terms) -> str:
    """``expansion`` (more permissive), ``restriction`` (less) or ``consent_change``
    (consent needed before and after, from another party or in another mode)."""
    up = _PERMISSIVE[after.effect] - _PERMISSIVE[before.effect]
    if up > 0:
        return EXPANSION
    if up < 0:
        return RESTRICTION
    return CONSENT_CHANGE


def _consent_direction(before: Terms, after: Terms) -> str:
    """Whether a changed consent requirement asks for more, less, or something else."""
    steps = [
        _FROM[str(after.consent_from)] - _FROM[str(before.consent_from)],
        _MODE[str(after.consent_mode)] - _MODE[str(before.consent_mode)],
    ]
    if all(s >= 0 for s in steps):
        return "stricter"
    if all(s <= 0 for s in steps):
        return "looser"
    return "different"


def consequence(
    before: Terms, after: Terms, old: PolicyVersion, new: PolicyVersion, uses: Iterable[str]
) -> str:
    """What a change means for content already held, consents on record and people's
    rights, in words; it follows the decision semantics (no retroactive expansion,
    consent given under other terms for a changed rule is stale)."""
    since = new.effective_at.date().isoformat()
    stale = f"Consents given under {old.version} for this are stale: they no longer count."
    kind = classify(before, after)
    if kind == EXPANSION:
        text = (
            f"More permissive from {since}. It does not reach content collected before "
            f"{since}: that content keeps the stricter answer of the terms it was collected "
            f"under. Using content this way needs fresh, explicit consent from the people it "
            f"concerns; consent given under {old.version} does not carry over."
        )
        if after.effect == "allow":
            text += (
                f" Warning: {new.version} allows it without asking anyone, so nothing in "
                "these terms asks for that consent."
            )
        elif after.consent_mode != "explicit":
            text += (
                f" Warning: {new.version} accepts implied consent here, not only explicit consent."
            )
        return text
    if kind == RESTRICTION:
        now = "denied" if after.effect == "deny" else f"allowed {after.says()}"
        text = (
            f"Stricter from {since}, for all content, including content collected before: "
            f"uses after that date are {now}."
        )
        if before.effect == "require_consent":
            text += " " + stale
        if any(u.startswith("train.") for u in uses):
            text += (
                " Models already trained on such content are not changed by this: "
                "`trainguard impact` lists them."
            )
        return text
    direction = _consent_direction(before, after)
    text = f"The consent it needs is {direction} from {since}. " + stale
    text += f" From {since} only consent given under {new.version} counts."
    if direction != "stricter":
        text += (
            f" Content collected before {since} still needs the stricter of the two requirements."
        )
    return text


@dataclass(frozen=True)
class Change:
    """Pairs of (category, use) whose answer went from ``before`` to ``after``: the
    kind of change and what it means."""

    before: Terms
    after: Terms
    categories: tuple[str, ...]
    uses: tuple[str, ...]
    kind: str
    consequence: str

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "categories": list(self.categories),
            "uses": list(self.uses),
            "before": {**self.before.to_json(), "says": self.before.says()},
            "after": {**self.after.to_json(), "says": self.after.says()},
            "consequence": self.consequence,
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
    changes = [
        Change(a, b, cats, tuple(uses), classify(a, b), consequence(a, b, old, new, uses))
        for (a, b, cats), uses in merged.items()
    ]
    return sorted(changes, key=lambda c: (c.uses, c.categories))


def diff_lines(
    old: PolicyVersion, new: PolicyVersion, changes: Iterable[Change], taxonomy: Taxonomy
) -> list[str]:
    """:func:`diff` as text a person reads."""
    changes = list(changes)
    head = f"{old.family} {old.version} -> {new.family} {new.version}"
    if not changes:
        return [f"{head}: no answer changed"]
    counts = ", ".join(
        f"{n} {k.replace('_', ' ')}{'s' if n != 1 else ''}"
        for k in KINDS
        if (n := sum(c.kind == k for c in changes))
    )
    lines = [f"{head}: {len(changes)} change(s): {counts}"]
    for c in changes:
        uses = ", ".join(taxonomy.uses[u] for u in c.uses)
        lines.append(f"- [{c.kind}] to {uses}, with {_kinds(c.categories, taxonomy)}:")
        lines.append(f"    was {c.before.says()}; now {c.after.says()}")
        lines.append(f"    {c.consequence}")
    return lines


def _kinds(categories: Iterable[str], taxonomy: Taxonomy) -> str:
    return ", ".join(taxonomy.categories[c] for c in categories)
