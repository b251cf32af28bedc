"""Who may act for which tenant: a key for its own only, the operator's key for
none, the local operator (the CLI) for whichever tenant it names."""

from __future__ import annotations

import pytest

from trainguard.app.access import (
    DECIDE,
    OPERATOR,
    REPORT_READ,
    FieldNotFound,
    Forbidden,
    Principal,
)
from trainguard.errors import InputError

ACME_SERVICE = Principal("k1", "service", "acme")
OPERATOR_KEY = Principal("k2", "operator", None)


def test_a_key_acts_for_its_own_tenant_whether_named_or_not() -> None:
    assert ACME_SERVICE.acting_for(None, *DECIDE) == "acme"
    assert ACME_SERVICE.acting_for("acme", *DECIDE) == "acme"


def test_another_tenant_named_by_a_key_is_answered_as_missing() -> None:
    with pytest.raises(FieldNotFound, match="no such tenant for this key"):
        ACME_SERVICE.acting_for("globex", *DECIDE)


def test_the_operators_key_acts_for_no_tenant() -> None:
    with pytest.raises(Forbidden):
        OPERATOR_KEY.acting_for("acme", *DECIDE)


def test_the_local_operator_acts_for_the_tenant_it_names_and_may_do_everything() -> None:
    local = Principal.local()
    assert local.acting_for("globex", *DECIDE) == "globex"
    local.require(*OPERATOR)
    assert local.sees_everything()
    with pytest.raises(InputError, match="name the tenant"):
        local.acting_for(None, *DECIDE)
    with pytest.raises(InputError, match="name the tenant"):
        local.own_tenant(*DECIDE)


def test_a_platform_wide_artefact_is_read_whole_by_the_operator_and_in_part_by_a_tenant() -> None:
    auditor = Principal("k3", "auditor", "acme")
    assert auditor.part_of(None, *REPORT_READ) == auditor.part_of("acme", *REPORT_READ) == "acme"
    with pytest.raises(FieldNotFound, match="no such tenant for this key"):
        auditor.part_of("globex", *REPORT_READ)
    with pytest.raises(Forbidden):
        ACME_SERVICE.part_of(None, *REPORT_READ)
    assert OPERATOR_KEY.part_of(None, *REPORT_READ) is None  # every tenant's
    assert OPERATOR_KEY.part_of("globex", *REPORT_READ) == "globex"
    assert Principal.local().part_of(None, *REPORT_READ) is None
