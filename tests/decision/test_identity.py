"""Identities are exact: a look-alike of a tenant or a subject is refused where it
enters, or denied with UNKNOWN_TENANT inside a batch — never given someone's terms."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trainguard.decision.batch import decide_batch
from trainguard.decision.decide import DecisionContext, PolicySet, Record, decide
from trainguard.decision.identity import (
    FAMILY,
    MODEL_NAME,
    RECORD_ID,
    SUBJECT,
    TENANT,
    IdentityError,
    IdentityKind,
    check_subject,
    check_tenant,
    show,
)
from trainguard.decision.policy import PolicyVersion, Rule

# Spellings of the tenant "acme-ent" that a person reads as the same name.
ACME_LOOKALIKES = [
    "Acme-Ent",  # case
    "ACME-ENT",
    " acme-ent",  # surrounding spaces
    "acme-ent ",
    "acme-ent\t",
    "acme\u2010ent",  # U+2010 HYPHEN
    "acme\u2011ent",  # U+2011 NON-BREAKING HYPHEN
    "acme-\u200bent",  # U+200B ZERO WIDTH SPACE
    "\ufeffacme-ent",  # U+FEFF byte-order mark
    "ａｃｍｅ-ent",  # fullwidth letters
    "acme\uff0dent",  # U+FF0D FULLWIDTH HYPHEN-MINUS
    "acme-ent\x00",  # NUL
    "аcme-ent",  # Cyrillic а
]
# "café" in NFC and in NFD: neither is a tenant, so neither can stand for the other.
CAFE_NFC = unicodedata.normalize("NFC", "caf\u00e9")
CAFE_NFD = unicodedata.normalize("NFD", "caf\u00e9")


# Spellings that differ from a tenant's name by a separator at the end or a doubled one:
# "acme." is the domain "acme" to a person, "acme..eu" a slip for "acme.eu".
SEPARATOR_LOOKALIKES = ["acme-ent.", "acme-ent-", "acme-ent_", "acme--ent", "acme._ent", "acme..eu"]


@pytest.mark.parametrize(
    "name", [*ACME_LOOKALIKES, *SEPARATOR_LOOKALIKES, CAFE_NFC, CAFE_NFD, "", "-acme", "a" * 65]
)
def test_a_lookalike_tenant_name_is_refused_with_one_line_naming_the_field(name: str) -> None:
    with pytest.raises(IdentityError) as err:
        check_tenant(name, "--tenant")
    message = str(err.value)
    assert message.startswith("--tenant ")
    assert "\n" not in message and "\x00" not in message and "\u200b" not in message


@pytest.mark.parametrize("name", ["acme-ent", "acme", "a", "t1.eu_west-2", "0day", "a" * 64])
def test_well_formed_tenants_pass_unchanged(name: str) -> None:
    assert check_tenant(name) == name


def test_a_separator_at_the_end_or_doubled_is_named() -> None:
    with pytest.raises(IdentityError, match="^--tenant 'acme.': a tenant must end with a letter"):
        check_tenant("acme.", "--tenant")
    with pytest.raises(IdentityError, match="characters 5-6 are two of '.', '_' and '-' in a row"):
        check_tenant("acme..eu")


def test_messages_show_the_invisible_character_by_its_code_point() -> None:
    with pytest.raises(IdentityError, match=r"'acme-\\u200bent': character 6 is U\+200B"):
        check_tenant("acme-\u200bent")
    with pytest.raises(IdentityError, match="character 1 is U\\+FF41 FULLWIDTH LATIN SMALL"):
        check_tenant("ａｃｍｅ")
    with pytest.raises(IdentityError, match="must not begin or end with a space"):
        check_subject("bob ")
    with pytest.raises(IdentityError, match="at most 256 characters, this has 300"):
        check_subject("b" * 300)


def test_show_escapes_and_cuts() -> None:
    assert show("a\u200bb") == "'a\\u200bb'"
    assert show("x" * 60).endswith("… (60 characters)")
    assert show("it's") == "'it\\'s'"


@pytest.mark.parametrize(
    ("kind", "good", "bad"),
    [
        (SUBJECT, ["bob", "Bob", "alice@example.com", "u+1:x_y-z.w"], ["bob ", "b\u200bob", "b/o"]),
        (FAMILY, ["meetco-terms"], ["Meetco", "meetco terms"]),
        (MODEL_NAME, ["assistant-2023-08", "org/model@v1"], [" m", "m\x00", "mödel"]),
        (RECORD_ID, ["chat-1", "s3://b/k#3", "café"], [" x", "x\u200b", CAFE_NFD, "x" * 257]),
    ],
)
def test_each_kind_states_its_set(kind: object, good: list[str], bad: list[str]) -> None:
    from trainguard.decision.identity import IdentityKind

    assert isinstance(kind, IdentityKind)
    assert all(kind.is_valid(g) for g in good), [g for g in good if not kind.is_valid(g)]
    assert not any(kind.is_valid(b) for b in bad), [b for b in bad if kind.is_valid(b)]


# --- decisions: no look-alike reaches a tenant's terms --------------------------------------

T0 = datetime(2023, 1, 1, tzinfo=UTC)
STRICT_DENIAL = ("DENIED_AT_COLLECTION", "DENIED_AT_USE")


def _version(family: str, effect: str) -> PolicyVersion:
    return PolicyVersion(
        family=family,
        version="1",
        effective_at=T0,
        default="deny",
        rules=(Rule(id="r", categories=("*",), uses=("*",), effect=effect),),  # type: ignore[arg-type]
    )


def _ctx(default: str | None) -> DecisionContext:
    """acme-ent is under strict terms that deny everything; the default (when set)
    allows everything — the terms a look-alike would hope to fall into."""
    ps = PolicySet(
        [_version("strict", "deny"), _version("lenient", "allow")],
        default_family=default,
        tenant_families={"acme-ent": "strict"},
    )
    return DecisionContext(ps)


def _decide(ctx: DecisionContext, tenant: str) -> tuple[bool, tuple[str, ...], str | None]:
    rec = Record("r", tenant, ("customer.chat",), T0)
    d = decide(ctx, rec, "train.first_party", datetime(2023, 2, 1, tzinfo=UTC))
    family = d.core.policy_at_use.version.family if d.core.policy_at_use else None
    return d.allowed, d.reasons, family


@pytest.mark.parametrize("name", [*ACME_LOOKALIKES, *SEPARATOR_LOOKALIKES, CAFE_NFC, CAFE_NFD])
def test_a_lookalike_tenant_is_denied_unknown_tenant_even_with_a_permissive_default(
    name: str,
) -> None:
    assert _decide(_ctx("lenient"), name) == (False, ("UNKNOWN_TENANT",), None)
    assert _decide(_ctx("lenient"), "acme-ent") == (False, STRICT_DENIAL, "strict")


def test_without_a_default_every_unassigned_tenant_is_unknown() -> None:
    assert _decide(_ctx(None), "globex") == (False, ("UNKNOWN_TENANT",), None)
    # With one, a well-formed unassigned tenant is under it: the operator said so.
    assert _decide(_ctx("lenient"), "globex") == (True, ("ALLOWED",), "lenient")


def test_batch_rows_with_lookalike_tenants_are_denied_row_by_row() -> None:
    ctx = _ctx("lenient")
    lookalikes = [*ACME_LOOKALIKES, *SEPARATOR_LOOKALIKES]
    names = ["acme-ent", "globex", *lookalikes]
    table = pa.table(
        {
            "id": [f"r{i}" for i in range(len(names))],
            "tenant": names,
            "category": ["customer.chat"] * len(names),
            "collected_at": pa.array([T0] * len(names), pa.timestamp("us", tz="UTC")),
        }
    )
    rows = decide_batch(ctx, table, "train.first_party", datetime(2023, 2, 1, tzinfo=UTC))
    reasons = rows.column("reasons").to_pylist()
    assert reasons[0] == list(STRICT_DENIAL) and reasons[1] == ["ALLOWED"]
    assert reasons[2:] == [["UNKNOWN_TENANT"]] * len(lookalikes)
    assert rows.column("allowed").to_pylist()[2:] == [False] * len(lookalikes)


@given(name=st.text(max_size=12) | st.sampled_from(ACME_LOOKALIKES))
def test_no_string_but_the_assigned_name_reaches_the_assigned_terms(name: str) -> None:
    for default in ("lenient", None):
        ctx = _ctx(default)
        allowed, reasons, family = _decide(ctx, name)
        if name == "acme-ent":
            assert family == "strict"
            continue
        assert family != "strict"
        assert ctx.policies.family_for(name) != "strict"
        if not TENANT.is_valid(name) or default is None:
            assert (allowed, reasons, family) == (False, ("UNKNOWN_TENANT",), None)


def test_a_model_name_is_checked_before_anything_is_read(tmp_path: object) -> None:
    from trainguard.lineage import register_model
    from trainguard.store import Store

    with pytest.raises(IdentityError, match=r"model name 'm1 ': a model name must not begin"):
        register_model(Store("sqlite://"), "m1 ", [])


@given(subject=st.text(max_size=8) | st.sampled_from(["Bob", "bob ", "b\u200bob", "ｂｏｂ"]))
def test_no_string_but_the_consenting_subject_has_that_subjects_consent(subject: str) -> None:
    from trainguard.decision.consent import ConsentEvent, Ledger
    from trainguard.decision.policy import ConsentRequirement

    every_subject = ConsentRequirement.model_validate({"from": "every_subject", "mode": "explicit"})
    version = PolicyVersion(
        family="strict",
        version="1",
        effective_at=T0,
        default="deny",
        rules=(
            Rule(id="r", categories=("*",), uses=("*",), effect="require_consent",
                 consent=every_subject),
        ),
    )  # fmt: skip
    grant = ConsentEvent(
        tenant="acme-ent",
        kind="grant",
        subject="bob",
        role="self",
        categories=("*",),
        uses=("*",),
        mode="explicit",
        policy_version=version.content_hash,
        at=T0,
    )
    ctx = DecisionContext(
        PolicySet([version], tenant_families={"acme-ent": "strict"}), Ledger([grant])
    )
    rec = Record("r", "acme-ent", ("customer.chat",), T0, (subject,))
    d = decide(ctx, rec, "train.first_party", datetime(2023, 2, 1, tzinfo=UTC))
    assert d.allowed == (subject == "bob")


@given(
    kind=st.sampled_from([TENANT, FAMILY, SUBJECT, MODEL_NAME, RECORD_ID]),
    value=st.text(alphabet="aZ09._-+@:/ \u200b", max_size=8) | st.text(max_size=8),
)
def test_every_name_is_accepted_or_refused_in_one_line(kind: IdentityKind, value: str) -> None:
    """Whatever the text, a kind either takes it or names one problem (a subject of
    only '+' once ended in an internal error, not a message)."""
    problem = kind.problem(value)
    assert problem is None or (problem and "\n" not in problem)
    if problem is None:
        assert kind.check(value, "f") == value
    else:
        with pytest.raises(IdentityError):
            kind.check(value, "f")
