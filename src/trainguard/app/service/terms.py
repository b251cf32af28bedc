"""The terms: versions listed, shown, explained and diffed (any key); added and
assigned to tenants (the operator)."""

from __future__ import annotations

from typing import Any

import yaml

from ...decision.identity import check_family
from ...decision.policy import parse_policy
from ...errors import PolicyFileError
from ...explain import diff, notice
from ...timeutil import format_instant
from ..access import OPERATOR, Principal
from .base import Base


class TermsOps(Base):
    def policies(self, who: Principal) -> list[dict[str, Any]]:
        ctx = self.context()
        out = []
        for family, versions in sorted(ctx.policies.families.items()):
            for p in versions:
                out.append(
                    {
                        "family": family,
                        "version": p.version.version,
                        "hash": p.hash,
                        "effective_at": format_instant(p.version.effective_at),
                    }
                )
        return out

    def policy(self, who: Principal, ref: str) -> dict[str, Any]:
        version = self.context().policies.resolve(ref).version
        return dict(version.canonical())

    def policy_notice(self, who: Principal, ref: str) -> dict[str, Any]:
        ctx = self.context()
        return notice(ctx.policies.resolve(ref).version, ctx.taxonomy)

    def policy_diff(self, who: Principal, old: str, new: str) -> list[dict[str, Any]]:
        ctx = self.context()
        before, after = ctx.policies.resolve(old).version, ctx.policies.resolve(new).version
        return [c.to_json() for c in diff(before, after, ctx.taxonomy)]

    def add_policy(self, who: Principal, text: str, source: str) -> dict[str, Any]:
        who.require(*OPERATOR)
        try:
            version = parse_policy(text, source, self.store.taxonomy())
        except yaml.YAMLError as exc:  # the reader's own refusals (control characters…)
            problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise PolicyFileError(f"yaml: {problem}") from None
        [(digest, added)] = self.store.add_policies([(version, source)])
        return {
            "hash": digest,
            "added": added,
            "family": version.family,
            "version": version.version,
        }

    def assign_tenant(self, who: Principal, tenant: str, family: str) -> dict[str, Any]:
        who.require(*OPERATOR)
        check_family(family, "family")
        self.store.assign_tenant(tenant, family)
        return {"tenant": tenant, "family": family}
