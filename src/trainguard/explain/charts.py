"""Stacked bar charts as inline SVG: no script, no font or file to fetch, so a report
opens the same offline, in any browser, years later.

Each segment carries a ``<title>`` (the browser shows it on hover) and every bar
its total, so the numbers can be read without a tooltip too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

# Reasons have fixed colours, so the same reason looks the same in every chart.
REASON_COLOURS = {
    "ALLOWED": "#2e7d32",
    "admitted": "#2e7d32",
    "DENIED_AT_USE": "#c62828",
    "DENIED_AT_COLLECTION": "#ad1457",
    "CONSENT_MISSING": "#ef6c00",
    "CONSENT_WITHDRAWN": "#f9a825",
    "CONSENT_STALE": "#6d4c41",
    "CONSENT_IMPLIED_NOT_ACCEPTED": "#8e24aa",
    "CONSENT_WRONG_PARTY": "#5e35b1",
    "NO_POLICY_IN_FORCE": "#455a64",
    "REGISTERED_CUSTOMER_CONTENT": "#1565c0",
    "kept out": "#c62828",
    "now denied": "#c62828",
    "still allowed": "#2e7d32",
    "clean": "#2e7d32",
    "documents with findings": "#c62828",
}
_FALLBACK = ("#00838f", "#7cb342", "#d81b60", "#3949ab", "#8d6e63", "#546e7a", "#fdd835")

Row = tuple[str, Mapping[str, int]]


def colours(series: Sequence[str]) -> dict[str, str]:
    out, spare = {}, iter(_FALLBACK * (len(series) // len(_FALLBACK) + 1))
    for s in series:
        out[s] = REASON_COLOURS.get(s) or next(spare)
    return out


def series_of(rows: Sequence[Row]) -> list[str]:
    """Every series the rows use; the allowed ones first, then by size."""
    totals: dict[str, int] = {}
    for _, values in rows:
        for k, v in values.items():
            totals[k] = totals.get(k, 0) + v
    good = ("ALLOWED", "admitted", "still allowed", "clean")
    return sorted(totals, key=lambda s: (s not in good, -totals[s], s))


def hbars(rows: Sequence[Row], title: str, label_width: int = 260, width: int = 900) -> str:
    """One horizontal bar a row, stacked by series, with a legend."""
    if not rows:
        return ""
    series = series_of(rows)
    colour = colours(series)
    bar_h, gap, top = 20, 8, 30 + _legend_height(series, width)
    plot = width - label_width - 70
    biggest = max(sum(v.values()) for _, v in rows) or 1
    height = top + len(rows) * (bar_h + gap) + 10
    out = [_open(width, height, title), _legend(series, colour, width)]
    for i, (label, values) in enumerate(rows):
        y = top + i * (bar_h + gap)
        out.append(
            f'<text x="{label_width - 8}" y="{y + 14}" text-anchor="end" class="lbl">'
            f"{escape(_short(label, label_width // 7))}<title>{escape(label)}</title></text>"
        )
        x = float(label_width)
        for s in series:
            n = values.get(s, 0)
            if not n:
                continue
            w = plot * n / biggest
            out.append(
                f'<rect x="{x:.1f}" y="{y}" width="{max(w, 1):.1f}" height="{bar_h}" '
                f'fill="{colour[s]}"><title>{escape(label)}: {escape(s)} {n:,}</title></rect>'
            )
            x += w
        out.append(
            f'<text x="{x + 6:.1f}" y="{y + 14}" class="num">{sum(values.values()):,}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def columns(rows: Sequence[Row], title: str, width: int = 900, height: int = 300) -> str:
    """One vertical column a row (e.g. a period of time), stacked by series, with a legend."""
    if not rows:
        return ""
    series = series_of(rows)
    colour = colours(series)
    top = 30 + _legend_height(series, width)
    left, bottom = 60, 40
    plot_h = height - top - bottom
    slot = (width - left - 10) / len(rows)
    col_w = min(60.0, slot * 0.7)
    biggest = max(sum(v.values()) for _, v in rows) or 1
    base = top + plot_h
    out = [_open(width, height, title), _legend(series, colour, width)]
    out.append(f'<line x1="{left}" y1="{base}" x2="{width - 10}" y2="{base}" class="axis"/>')
    for tick in (0, biggest // 2, biggest):
        y = base - plot_h * tick / biggest
        out.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="num">{tick:,}</text>'
        )
    for i, (label, values) in enumerate(rows):
        x = left + i * slot + (slot - col_w) / 2
        y = float(base)
        for s in series:
            n = values.get(s, 0)
            if not n:
                continue
            h = plot_h * n / biggest
            y -= h
            out.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{col_w:.1f}" height="{max(h, 1):.1f}" '
                f'fill="{colour[s]}"><title>{escape(label)}: {escape(s)} {n:,}</title></rect>'
            )
        centre = x + col_w / 2
        out.append(
            f'<text x="{centre:.1f}" y="{y - 4:.1f}" text-anchor="middle" class="num">'
            f"{sum(values.values()):,}</text>"
            f'<text x="{centre:.1f}" y="{base + 16}" text-anchor="middle" class="lbl">'
            f"{escape(_short(label, max(int(slot // 7), 4)))}<title>{escape(label)}</title></text>"
        )
    out.append("</svg>")
    return "".join(out)


def _open(width: int, height: int, title: str) -> str:
    return (
        f'<svg viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{escape(title)}" class="chart">'
        f"<title>{escape(title)}</title>"
    )


_LEGEND_ITEM = 230


def _legend_height(series: Sequence[str], width: int) -> int:
    per_line = max(width // _LEGEND_ITEM, 1)
    return ((len(series) + per_line - 1) // per_line) * 18


def _legend(series: Sequence[str], colour: Mapping[str, str], width: int) -> str:
    per_line = max(width // _LEGEND_ITEM, 1)
    out = []
    for i, s in enumerate(series):
        x, y = (i % per_line) * _LEGEND_ITEM + 4, 10 + (i // per_line) * 18
        out.append(
            f'<rect x="{x}" y="{y}" width="12" height="12" fill="{colour[s]}"/>'
            f'<text x="{x + 18}" y="{y + 11}" class="lbl">{escape(s)}</text>'
        )
    return "".join(out)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 1)] + "…"
