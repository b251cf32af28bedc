"""Which model providers each tenant allows, and which of them keep nothing.

The platform passes this as configuration (a YAML file, ``--providers``), not
as stored state: it describes contracts with providers, and its digest is in
each gateway request's audit entry, so what a request was held to is on record.

    providers:
      local: {third_party: false, zero_retention: true}
      acme-llm: {third_party: true, zero_retention: true}
    tenants:
      acme: [local, acme-llm]

Without a file only the built-in ``local`` provider (in process, first party,
nothing retained) is allowed, for every tenant.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from ..canonical import canonical_json
from ..errors import InputError
from ..yamlfile import load_model, read_text
from .request import GatewayRequest

LOCAL = "local"


class ProviderRefused(InputError):
    """The request names a provider its tenant or its purpose does not allow."""

    field = "provider"


class ProviderTerms(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    third_party: bool
    zero_retention: bool


class ProviderFile(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    providers: dict[str, ProviderTerms]
    tenants: dict[str, list[str]]


@dataclass(frozen=True)
class Providers:
    providers: Mapping[str, ProviderTerms] = field(
        default_factory=lambda: {LOCAL: ProviderTerms(third_party=False, zero_retention=True)}
    )
    tenants: Mapping[str, tuple[str, ...]] | None = None  # None: every tenant, every provider

    def digest(self) -> str:
        body = {
            "providers": {k: v.model_dump() for k, v in self.providers.items()},
            "tenants": None
            if self.tenants is None
            else {k: list(v) for k, v in self.tenants.items()},
        }
        return hashlib.sha256(canonical_json(body)).hexdigest()

    def check(self, request: GatewayRequest) -> ProviderTerms:
        """The provider's terms, or :class:`ProviderRefused` saying why not."""
        name = request.provider
        terms = self.providers.get(name)
        allowed = self.tenants is None or name in self.tenants.get(request.tenant, ())
        if terms is None or not allowed:
            raise ProviderRefused(
                f"provider {name!r} is not on tenant {request.tenant}'s allowlist"
            )
        if terms.third_party and request.purpose != "infer.third_party":
            raise ProviderRefused(
                f"provider {name!r} is a third party: ask with purpose infer.third_party"
            )
        if request.purpose == "infer.third_party" and not terms.zero_retention:
            raise ProviderRefused(
                f"provider {name!r} does not promise zero retention: refused for infer.third_party"
            )
        return terms


def load_providers(path: str | Path) -> Providers:
    parsed = load_model(read_text(path), str(path), ProviderFile)
    for tenant, names in parsed.tenants.items():
        for name in names:
            if name not in parsed.providers:
                raise InputError(f"{path}: tenants.{tenant}: provider {name!r} is not defined")
    return Providers(
        dict(parsed.providers), {t: tuple(names) for t, names in parsed.tenants.items()}
    )
