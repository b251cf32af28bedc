"""Retrieved content is data, never instructions, and never a way out.

Two rules, for every output a feature returns:

- **No link the user was not shown.** An output carries no link, image or
  URL unless it appears verbatim in a source the user may see; the extractive
  features allow none at all (:func:`strip_urls` replaces each with a marker,
  so an attacker's link in a message is never rendered by the assistant).
  Markdown from any generative step goes through :func:`safe_html`:
  markdown-it-py renders it, nh3 (the ammonia sanitizer) keeps a small set of
  tags and drops every ``href``/``src`` not in the allowed set.
- **Instructions are quoted, not obeyed.** Nothing in a source steers a
  feature: the features only select and cite text. Text that reads like an
  instruction to an assistant is flagged (:func:`looks_like_instruction`) so
  it is not chosen as a summary sentence and the citation says so; the flag is
  a heuristic for display, the guarantee is that nothing is executed.
"""

from __future__ import annotations

import re
from collections.abc import Collection

LINK_REMOVED = "[link removed]"

# Anything a renderer (or a linkifier) could turn into a link: URLs with a
# scheme, schemes that need no slashes, protocol-relative and www. hosts, and
# bare host names with a path or a common top-level domain.
_URL = re.compile(
    r"(?:\b[a-z][a-z0-9+.-]{1,20}://|\b(?:mailto|javascript|data|vbscript|file|tel|sms):|(?<![\w/])//"
    r"|\bwww\.)[^\s<>\"'()\[\]{}]+"
    r"|\b(?:[a-z0-9-]+\.)+(?:[a-z]{2,24}/[^\s<>\"'()\[\]{}]*"
    r"|(?:com|net|org|io|co|info|biz|ru|cn|xyz|app|dev|ly|me|link|click|top)\b)",
    re.IGNORECASE,
)
_MD_LINK = re.compile(r"!?\[([^\]\n]{0,500})\]\([^)\n]{0,2000}\)")
_TAG = re.compile(r"<[^>\n]{0,2000}>")

_INSTRUCTION = re.compile(
    r"\b(?:ignore (?:all |any )?(?:the )?(?:previous|prior|above)|disregard (?:the )?(?:previous|above|prior)"
    r"|you are (?:now )?(?:an?|the) (?:ai|assistant|model)|system prompt|new instructions?"
    r"|(?:include|add|render|insert|show|append) (?:this|the following) (?:link|image|url)"
    r"|when (?:you )?summari[sz]\w*|in your (?:summary|answer))"
    r"|(?:^|[.!?]\s+)(?:(?:hey|dear|note to the) )?(?:ai(?: assistant)?|assistant|bot|summari[sz]er)\s*[:,]"
    r"|\b(?:ai|assistant|bot|summari[sz]er)\s*:",
    re.IGNORECASE,
)


def urls_in(text: str) -> list[str]:
    return [m.group(0) for m in _URL.finditer(text)]


def strip_urls(text: str, allowed: Collection[str] = ()) -> str:
    """``text`` without Markdown links, HTML tags and URLs (each a marker),
    except URLs in ``allowed`` (verbatim in a source the user may see)."""
    text = _MD_LINK.sub(lambda m: f"{m.group(1)} {LINK_REMOVED}".strip(), text)
    text = _TAG.sub("", text)
    return _URL.sub(lambda m: m.group(0) if m.group(0) in allowed else LINK_REMOVED, text)


def looks_like_instruction(text: str) -> bool:
    return _INSTRUCTION.search(text) is not None


def safe_html(markdown: str, allowed_urls: Collection[str] = ()) -> str:
    """Markdown rendered to HTML that carries only links and images whose URL is in
    ``allowed_urls``; scripts, styles, event handlers and other tags are removed."""
    import nh3
    from markdown_it import MarkdownIt

    html = MarkdownIt("commonmark", {"html": False, "linkify": False}).render(markdown)
    allowed = set(allowed_urls)

    def keep(tag: str, attribute: str, value: str) -> str | None:
        if attribute in ("href", "src"):
            return value if value in allowed else None
        return value

    return nh3.clean(
        html,
        tags={"p", "ul", "ol", "li", "em", "strong", "code", "pre", "blockquote", "a", "img", "br"},
        attributes={"a": {"href"}, "img": {"src", "alt"}},
        attribute_filter=keep,
        url_schemes={"https", "http"},
        link_rel="noopener noreferrer nofollow",
    )
