"""Transcripts re-rendered the way a viewer shows them or a person pastes them."""

from __future__ import annotations

import re
import textwrap

CLITIC = re.compile(r" (n't|'s|'re|'ve|'ll|'d|'m)(?=\W|$)", re.IGNORECASE)
PUNCTUATION = re.compile(r" ([,.?!;])")
LAYOUTS = ("same_line", "label_line", "one_paragraph")


def join_clitics(text: str, apostrophe: str = "'") -> str:
    """``do n't`` -> ``don't``, ``it 's`` -> ``it's``, ``fine .`` -> ``fine.``."""
    joined = PUNCTUATION.sub(r"\1", CLITIC.sub(r"\1", text))
    return joined.replace("'", apostrophe)


def stamp(seconds: int) -> str:
    return f"[{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}]"


def render(turns: list[tuple[str, str]], layout: str, width: int, stamps: bool = True) -> str:
    """(speaker, text) turns behind upper-case labels (and timestamps), in one of the
    ``LAYOUTS``, wrapped at ``width`` columns.

    ``one_paragraph`` runs the turns together, so labels stand inside lines and
    wrap anywhere: it needs ``stamps`` (a label is only known as one at a line's
    start or after a timestamp).
    """
    lines = []
    for k, (speaker, text) in enumerate(turns):
        label = f"{stamp(754 + 17 * k)} " * stamps + f"{speaker.upper()}:"
        if layout == "label_line":
            lines += [label, text]
        else:
            lines.append(f"{label} {text}")
    if layout == "one_paragraph":
        return textwrap.fill(" ".join(lines), width, break_on_hyphens=False)
    return "\n".join(textwrap.fill(line, width, break_on_hyphens=False) for line in lines)
