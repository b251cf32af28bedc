"""What an AI feature asks the gateway for: who, for what, through which model."""

from __future__ import annotations

from dataclasses import dataclass

from ..decision.identity import check_record_id, check_subject, check_tenant
from ..errors import InputError

# The uses an AI feature may ask under (see the taxonomy): serving the customer
# in-house, or sending content to another company's model for inference.
PURPOSES = ("infer.feature", "infer.third_party")
FEATURES = ("summary", "question")


@dataclass(frozen=True)
class GatewayRequest:
    tenant: str
    user: str  # the person asking: what they may see bounds what is retrieved
    feature: str
    purpose: str
    provider: str

    def __post_init__(self) -> None:
        check_tenant(self.tenant, "tenant")
        check_subject(self.user, "user")
        if self.feature not in FEATURES:
            raise InputError(f"feature {self.feature!r}: one of {', '.join(FEATURES)}")
        if self.purpose not in PURPOSES:
            raise InputError(f"purpose {self.purpose!r}: one of {', '.join(PURPOSES)}")
        check_record_id(self.provider, "provider")
