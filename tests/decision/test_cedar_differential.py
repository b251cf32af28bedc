"""Single-version rule evaluation checked against Cedar, an independent oracle.

Each random rule set is translated to Cedar: deny → forbid; require_consent →
forbid unless context.consent, plus permit; allow → permit; a default of
allow → permit everything. Then "allow" is Cedar allowing without consent,
"require_consent" is Cedar denying without and allowing with it, and "deny"
is Cedar denying both ways.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainguard.decision.policy import PolicyVersion, evaluate_rules

from .test_decide_properties import BASE, CATS, USES, rules

cedarpy = pytest.importorskip("cedarpy")


def _groups(keys: list[str]) -> dict[str, list[str]]:
    return {k: [k.split(".")[0] + ".*", "*"] for k in keys}


def _entities() -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for etype, keys in (("Category", CATS), ("Action", USES)):
        groups = sorted({g for parents in _groups(keys).values() for g in parents})
        for g in groups:
            parents = [] if g == "*" else [{"type": etype, "id": "*"}]
            out.append({"uid": {"type": etype, "id": g}, "attrs": {}, "parents": parents})
        for k, parents in _groups(keys).items():
            out.append(
                {
                    "uid": {"type": etype, "id": k},
                    "attrs": {},
                    "parents": [{"type": etype, "id": p} for p in parents],
                }
            )
    return out


def _to_cedar(version: PolicyVersion) -> str:
    parts = []
    for r in version.rules:
        actions = ", ".join(f'Action::"{u}"' for u in r.uses)
        cats = " || ".join(f'resource in Category::"{c}"' for c in r.categories)
        head = f"(principal, action in [{actions}], resource) when {{ {cats} }}"
        if r.effect == "deny":
            parts.append(f"forbid{head};")
        elif r.effect == "allow":
            parts.append(f"permit{head};")
        else:
            parts.append(f"forbid{head} unless {{ context.consent }};")
            parts.append(f"permit{head};")
    if version.default == "allow":
        parts.append("permit(principal, action, resource);")
    return "\n".join(parts)


ENTITIES = _entities()


@settings(max_examples=60, deadline=None)
@given(rule_list=rules(), default=st.sampled_from(["allow", "deny"]))
def test_rule_evaluation_agrees_with_cedar(rule_list: list, default: str) -> None:  # type: ignore[type-arg]
    version = PolicyVersion(
        family="f", version="v", effective_at=BASE, default=default, rules=tuple(rule_list)
    )  # type: ignore[arg-type]
    policies = _to_cedar(version)
    pairs = [(c, u) for c in CATS for u in USES]
    requests = [
        {
            "principal": 'User::"u"',
            "action": f'Action::"{u}"',
            "resource": f'Category::"{c}"',
            "context": {"consent": consent},
        }
        for c, u in pairs
        for consent in (False, True)
    ]
    results = cedarpy.is_authorized_batch(requests, policies, ENTITIES)
    for i, (c, u) in enumerate(pairs):
        without, with_consent = (results[2 * i].allowed, results[2 * i + 1].allowed)
        expected = {
            (True, True): "allow",
            (False, True): "require_consent",
            (False, False): "deny",
        }[(without, with_consent)]
        assert evaluate_rules(version, c, u).effect == expected, (c, u, policies)
