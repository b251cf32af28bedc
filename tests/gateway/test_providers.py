"""Provider allowlists: who may be asked, and for what purpose."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainguard.errors import InputError
from trainguard.gateway import GatewayRequest, ProviderRefused, Providers, load_providers


def req(provider: str, purpose: str = "infer.feature", tenant: str = "acme") -> GatewayRequest:
    return GatewayRequest(tenant, "alice", "summary", purpose, provider)


def test_without_a_file_only_the_local_provider_is_allowed() -> None:
    assert Providers().check(req("local")).zero_retention
    with pytest.raises(ProviderRefused, match="'elsewhere' is not on tenant acme's allowlist"):
        Providers().check(req("elsewhere"))


def test_each_tenant_has_its_own_allowlist(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "providers:\n  local: {third_party: false, zero_retention: true}\n"
        "  zdr: {third_party: true, zero_retention: true}\ntenants:\n  acme: [local, zdr]\n  globex: [local]\n"
    )
    providers = load_providers(path)
    assert providers.check(req("zdr", "infer.third_party")).third_party
    with pytest.raises(ProviderRefused, match="globex"):
        providers.check(req("zdr", "infer.third_party", tenant="globex"))
    with pytest.raises(ProviderRefused, match="not on tenant initech's allowlist"):
        providers.check(req("local", tenant="initech"))
    assert providers.digest() != Providers().digest()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("providers:\n  x: {third_party: true}\ntenants: {}\n", "zero_retention"),
        (
            "providers:\n  x: {third_party: 'no', zero_retention: true}\ntenants: {}\n",
            "third_party",
        ),
        ("providers: {}\ntenants:\n  acme: [ghost]\n", "provider 'ghost' is not defined"),
        ("providers: {}\n", "tenants"),
    ],
)
def test_a_bad_provider_file_is_one_line_naming_the_problem(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match=problem):
        load_providers(path)


def test_a_request_names_a_known_feature_and_purpose() -> None:
    with pytest.raises(InputError, match="purpose 'train.first_party'"):
        GatewayRequest("acme", "alice", "summary", "train.first_party", "local")
    with pytest.raises(InputError, match="feature 'poem'"):
        GatewayRequest("acme", "alice", "poem", "infer.feature", "local")
    with pytest.raises(InputError, match="user"):
        GatewayRequest("acme", "Alice ", "summary", "infer.feature", "local")
