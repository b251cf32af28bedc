"""The inference gateway: AI features get customer content only through here.

A request names the tenant, the requesting user, the feature, the purpose
(``infer.feature`` or ``infer.third_party``) and the provider. The gateway
refuses a provider the tenant does not allow (or a third party that keeps
inputs), decides every record with the decision core at request time,
retrieves only what the user may see at that moment (:mod:`.access`), runs the
extractive feature (:mod:`.features`) on that alone, treats the text as
untrusted (:mod:`.untrusted`), and returns an output tagged
``customer.ai_output`` derived from its sources. Inputs live in memory for
the request; the audit entry (written by :mod:`trainguard.app.gateway`) holds
ids, decisions and digests only.
"""

from __future__ import annotations

from .access import AccessCheck, CallableAccess, HttpAccessHook, InMemoryAcl, load_acl
from .core import OUTPUT_CATEGORY, Answered, Retrieval, retrieve, run_feature
from .providers import LOCAL, ProviderRefused, Providers, load_providers
from .request import FEATURES, PURPOSES, GatewayRequest
from .sources import Segment, Source, meeting_sources, parse_sources

__all__ = [
    "FEATURES",
    "LOCAL",
    "OUTPUT_CATEGORY",
    "PURPOSES",
    "AccessCheck",
    "Answered",
    "CallableAccess",
    "GatewayRequest",
    "HttpAccessHook",
    "InMemoryAcl",
    "ProviderRefused",
    "Providers",
    "Retrieval",
    "Segment",
    "Source",
    "load_acl",
    "load_providers",
    "meeting_sources",
    "parse_sources",
    "retrieve",
    "run_feature",
]
