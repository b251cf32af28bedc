"""Notices: what a version of the terms means for each kind of content, for the
people it concerns, with an id and a hash.

A notice is built from the version's answers (:func:`.terms.answers`), so it
cannot promise what a decision would not hold to. Kinds of content that get
the same answer for every use are one section. Its content is plain JSON, the
same whatever format it is shown in: the **hash** is the SHA-256 of its
canonical JSON (RFC 8785), and the **id** is derived from the version's hash,
the audience and that content hash — the same terms shown to the same
audience have the same id, and any change of wording has another.
"""

from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass
from typing import Any

from ..canonical import canonical_json
from ..decision.policy import PolicyVersion
from ..decision.taxonomy import Taxonomy
from ..errors import InputError
from ..timeutil import format_instant
from .terms import Terms, answers

AUDIENCES = ("participant", "admin")
FORMATS = ("text", "html", "json")
NOTICE_FORMAT = "trainguard.notice/1"

# Which kinds of content each audience is told about: a participant hears about
# what is theirs (their communications, data about their use of the service),
# not about data that is nobody's.
_NOT_FOR_PARTICIPANTS = ("external",)
_PREFIX_ORDER = ("customer", "service", "external")
_HEADINGS = {
    "participant": {
        "customer": "Your communications",
        "service": "Data the service records about your use of it",
        "external": "Data that is not any customer's",
    },
    "admin": {
        "customer": "Customer content",
        "service": "Data the service generates",
        "external": "Data that is not any customer's",
    },
}


@dataclass(frozen=True)
class Notice:
    """A notice's content (format-independent), its hash and its id."""

    id: str
    hash: str
    content: dict[str, Any]

    @property
    def audience(self) -> str:
        return str(self.content["audience"])

    @property
    def policy_version(self) -> str:
        return str(self.content["policy"]["hash"])

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "hash": self.hash, **self.content}


def build_notice(version: PolicyVersion, taxonomy: Taxonomy, audience: str) -> Notice:
    """The notice of ``version`` for ``audience`` (participant or admin)."""
    if audience not in AUDIENCES:
        raise InputError(f"--audience {audience!r}: use participant or admin")
    table = answers(version, taxonomy)
    # The taxonomy's own order (audio, video, chat… before derived content), which
    # reads better than the alphabet; the content is the same on every run.
    uses = list(taxonomy.uses)
    declared = list(taxonomy.categories)
    rows: dict[tuple[str, tuple[Terms, ...]], list[str]] = {}
    for category in sorted(declared, key=lambda c: (_prefix_rank(c), declared.index(c))):
        prefix = category.split(".", 1)[0]
        if audience == "participant" and prefix in _NOT_FOR_PARTICIPANTS:
            continue
        row = tuple(Terms.of(table[(category, u)]) for u in uses)
        rows.setdefault((prefix, row), []).append(category)
    sections = [
        _section(prefix, cats, dict(zip(uses, row, strict=True)), taxonomy, audience)
        for (prefix, row), cats in rows.items()
    ]
    content: dict[str, Any] = {
        "format": NOTICE_FORMAT,
        "audience": audience,
        "policy": {
            "family": version.family,
            "version": version.version,
            "hash": version.content_hash,
            "title": version.title,
            "effective_at": format_instant(version.effective_at),
        },
        "sections": sections,
        "about_consent": _about_consent(audience),
    }
    digest = hashlib.sha256(canonical_json(content)).hexdigest()
    return Notice(notice_id(version.content_hash, audience, digest), digest, content)


def notice_id(policy_hash: str, audience: str, content_hash: str) -> str:
    """``ntc-`` and 24 hex digits of SHA-256 over the version hash, audience and content hash."""
    key = canonical_json({"audience": audience, "content": content_hash, "policy": policy_hash})
    return "ntc-" + hashlib.sha256(key).hexdigest()[:24]


def check_notice(content: dict[str, Any]) -> Notice:
    """A notice from stored content, its hash and id recomputed from it."""
    digest = hashlib.sha256(canonical_json(content)).hexdigest()
    return Notice(
        notice_id(str(content["policy"]["hash"]), str(content["audience"]), digest),
        digest,
        content,
    )


def _prefix_rank(category: str) -> int:
    prefix = category.split(".", 1)[0]
    return _PREFIX_ORDER.index(prefix) if prefix in _PREFIX_ORDER else len(_PREFIX_ORDER)


def _section(
    prefix: str,
    categories: list[str],
    terms: dict[str, Terms],
    taxonomy: Taxonomy,
    audience: str,
) -> dict[str, Any]:
    def use(u: str) -> dict[str, Any]:
        return {"use": u, "description": taxonomy.uses[u]}

    consent = [
        {**use(u), **(t.to_json()["consent"]), "needs": _whose(t, audience)}
        for u, t in terms.items()
        if t.effect == "require_consent"
    ]
    return {
        "heading": _HEADINGS[audience].get(prefix, prefix),
        "categories": [{"category": c, "description": taxonomy.categories[c]} for c in categories],
        "used_for": [use(u) for u, t in terms.items() if t.effect == "allow"],
        "with_consent": consent,
        "never": [use(u) for u, t in terms.items() if t.effect == "deny"],
        "withdraw": _withdraw(consent, audience),
    }


def _whose(terms: Terms, audience: str) -> str:
    how = (
        "given explicitly"
        if terms.consent_mode == "explicit"
        else "given explicitly, or implied by turning on a feature"
    )
    if terms.consent_from == "account_admin":
        who = (
            "your account admin's consent"
            if audience == "participant"
            else "your consent as account admin"
        )
    else:
        who = (
            "your own consent"
            if audience == "participant"
            else "the consent of each person whose content it is (an admin's does not stand in)"
        )
    return f"{who}, {how}"


def _withdraw(consent: list[dict[str, Any]], audience: str) -> str:
    if not consent:
        return "Nothing here rests on consent, so there is no consent to withdraw."
    parties = {c["from"] for c in consent}
    parts = []
    if "every_subject" in parties:
        parts.append(
            "You can withdraw your consent at any time."
            if audience == "participant"
            else "Each person can withdraw their own consent at any time."
        )
    if "account_admin" in parties:
        parts.append(
            "Your account admin gives this consent for the whole account; ask them to withdraw it."
            if audience == "participant"
            else "You can withdraw the account's consent at any time "
            "(trainguard consent withdraw --role account_admin)."
        )
    parts.append("A withdrawal counts for every use after it is recorded.")
    return " ".join(parts)


def _about_consent(audience: str) -> list[str]:
    you = "you" if audience == "participant" else "a person"
    return [
        f"Being shown this notice, or acknowledging it, is not consent: {you} give consent "
        "only by granting it.",
        "Consent given under earlier terms no longer counts for a rule these terms changed.",
        "Terms that allow more later never reach content collected before them.",
    ]


# --- rendering ---------------------------------------------------------------------------


def notice_text(notice: Notice) -> str:
    """The notice as plain text."""
    c = notice.content
    p = c["policy"]
    lines = [
        f"{p['family']} {p['version']}" + (f": {p['title']}" if p["title"] else ""),
        f"In force from {p['effective_at'][:10]}. Notice {notice.id} (for {_audience_words(c)}), "
        f"hash {notice.hash}.",
    ]
    for s in c["sections"]:
        kinds = ", ".join(k["description"] for k in s["categories"])
        lines += ["", f"{s['heading']}: {kinds}"]
        if s["used_for"]:
            lines.append("  Used for: " + "; ".join(u["description"] for u in s["used_for"]))
        for u in s["with_consent"]:
            lines.append(f"  Only with consent: {u['description']}: needs {u['needs']}")
        if s["never"]:
            lines.append("  Never used for: " + "; ".join(u["description"] for u in s["never"]))
        lines.append(f"  To withdraw: {s['withdraw']}")
    lines += ["", *c["about_consent"]]
    return "\n".join(lines) + "\n"


def notice_html(notice: Notice) -> str:
    """The notice as one self-contained HTML page."""
    c = notice.content
    p = c["policy"]
    e = html.escape
    title = f"{p['family']} {p['version']}" + (f": {p['title']}" if p["title"] else "")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(title)}</title><style>{_NOTICE_CSS}</style></head><body><main>",
        f"<h1>{e(title)}</h1>",
        f'<p class="meta">In force from {e(p["effective_at"][:10])}. Notice <code>{e(notice.id)}</code>'
        f" (for {e(_audience_words(c))}).</p>",
    ]
    for s in c["sections"]:
        kinds = ", ".join(k["description"] for k in s["categories"])
        parts.append(f"<section><h2>{e(s['heading'])}</h2><p class='kinds'>{e(kinds)}</p><dl>")
        if s["used_for"]:
            parts.append("<dt>Used for</dt>")
            parts += [f"<dd>{e(u['description'])}</dd>" for u in s["used_for"]]
        if s["with_consent"]:
            parts.append("<dt>Only with consent</dt>")
            parts += [
                f"<dd>{e(u['description'])}: needs {e(u['needs'])}</dd>" for u in s["with_consent"]
            ]
        if s["never"]:
            parts.append('<dt class="never">Never used for</dt>')
            parts += [f"<dd>{e(u['description'])}</dd>" for u in s["never"]]
        parts.append(f"<dt>To withdraw</dt><dd>{e(s['withdraw'])}</dd></dl></section>")
    parts += [f"<p>{e(line)}</p>" for line in c["about_consent"]]
    parts.append(f'<p class="meta">Content hash <code>{e(notice.hash)}</code>.</p>')
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"


def _audience_words(content: dict[str, Any]) -> str:
    return "meeting participants" if content["audience"] == "participant" else "account admins"


_NOTICE_CSS = (
    "body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}"
    "main{max-width:46rem;margin:2rem auto;padding:0 1rem}"
    "section{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:.5rem 1.2rem;"
    "margin:1rem 0}h2{font-size:1.15rem;margin:.6rem 0 0}.kinds{color:#4a5263;margin:.2rem 0}"
    "dt{font-weight:600;margin-top:.5rem}dd{margin-left:1.2rem}dt.never{color:#a3261b}"
    ".meta{color:#4a5263;font-size:.9rem}code{font-size:.85rem}"
)
