"""Explain: what the terms say and what changed, notices people are shown, a public
summary of a model's training data, and a report for an auditor.

- :mod:`.terms`: a version's answer for every (category, use), and diffs between two.
- :mod:`.notices`: plain-language notices with ids and hashes; served and acknowledged.
- :mod:`.summary`: the public summary of a model's training content, from its manifests.
- :mod:`.report`: one self-contained HTML file for an auditor.
"""

from __future__ import annotations

from .terms import Change, Terms, answers, diff, diff_lines, notice, notice_lines

__all__ = ["Change", "Terms", "answers", "diff", "diff_lines", "notice", "notice_lines"]
