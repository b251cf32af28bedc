"""Nothing a client can send gets a 5xx, and every answer fits the service's own
OpenAPI schema: schemathesis generates valid and invalid requests for every route
from that schema, in process; the hostile inputs found by hand are pinned below."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode, checks
from typer.testing import CliRunner

from trainguard.cli import app as cli
from trainguard.demo import copy_policy_files
from trainguard.limits import MAX_BODY_BYTES, MAX_NAME_CHARS
from trainguard.server import create_app
from trainguard.store import Store

EXAMPLES_PER_ROUTE = 150  # x 2 modes x 7 routes with inputs: over 2,000 requests


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, Path]]:
    """A store with the design's v1-v3 and a signed checkpoint, shared by the module."""
    base = tmp_path_factory.mktemp("fuzz")
    db = base / "fuzz.db"
    policies = base / "policies"
    policies.mkdir()
    files = sorted(copy_policy_files(policies))[:3]
    key = base / "audit.key"
    for args in (
        ["init"],
        ["policy", "add", *map(str, files)],
        ["audit", "keygen", "--key", str(key)],
        ["audit", "checkpoint", "--key", str(key)],
    ):
        result = CliRunner().invoke(cli, ["--db", str(db), *args])
        assert result.exit_code == 0, result.stderr
    yield create_app(str(db), base / "registry", base / "keys"), db
    Store(str(db)).engine.dispose()


@pytest.fixture(scope="module")
def client(service: tuple[FastAPI, Path]) -> TestClient:
    return TestClient(service[0], raise_server_exceptions=False)


def test_no_generated_request_gets_a_5xx_or_an_answer_outside_the_schema(
    service: tuple[FastAPI, Path],
) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", service[0])
    sent = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        takes_input = any(
            len(part) for part in (operation.path_parameters, operation.query, operation.body)
        )
        modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if takes_input else [])
        for mode in modes:

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES_PER_ROUTE,
                suppress_health_check=list(HealthCheck),
                database=None,
            )
            def check(case: Any) -> None:
                nonlocal sent
                sent += 1
                response = case.call()
                case.validate_response(
                    response,
                    checks=[
                        checks.not_a_server_error,
                        checks.status_code_conformance,
                        checks.content_type_conformance,
                        checks.response_schema_conformance,
                        checks.negative_data_rejection,
                    ],
                )

            check()
    assert sent >= 2_000


def decision(**fields: Any) -> dict[str, Any]:
    body = {
        "tenant": "acme",
        "categories": ["customer.chat"],
        "use": "train.first_party",
        "collected_at": "2023-05-01",
        "at": "2023-08-09",
        "id": "chat-1",
    }
    return {**body, **fields}


def post_raw(client: TestClient, path: str, raw: str | bytes) -> Any:
    return client.post(path, content=raw, headers={"content-type": "application/json"})


def error_of(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "field"}
    assert "\n" not in body["error"]["message"]
    return dict(body["error"])


@pytest.mark.parametrize(
    ("raw_id", "field"),
    [
        ("NaN", "id"),  # Python's JSON reader takes these; JSON does not have them
        ("Infinity", "id"),
        ("1e999", "id"),
        ('"\\ud800"', "id"),  # a lone surrogate
        ('"a\\u0000b"', "id"),  # NUL, which PostgreSQL text cannot hold
        ('"a\\nb"', "id"),
        ("1" + "0" * 5000, None),  # more digits than Python converts to an int
        ('"' + "a" * (MAX_NAME_CHARS + 1) + '"', "id"),
        ("[]", "id"),
        ("{}", "id"),
        ("true", "id"),
    ],
)
def test_hostile_values_are_4xx_naming_the_field(
    client: TestClient, raw_id: str, field: str | None
) -> None:
    raw = json.dumps(decision()).replace('"chat-1"', raw_id)
    response = post_raw(client, "/v1/decisions", raw)
    assert 400 <= response.status_code < 500, response.text
    assert error_of(response)["field"] == field


@pytest.mark.parametrize(
    ("collected_at", "at"),
    [
        ("0001-01-01T00:00:00+05:00", "2023-08-09"),  # before year 1 in UTC
        ("2023-05-01", "9999-12-31T23:00:00-05:00"),  # after year 9999 in UTC
        ("2023-05-01T10:00:00", "2023-08-09"),  # no timezone
        ("2023-02-30", "2023-08-09"),
    ],
)
def test_times_out_of_range_or_without_a_zone_are_400_naming_the_field(
    client: TestClient, collected_at: str, at: str
) -> None:
    response = client.post("/v1/decisions", json=decision(collected_at=collected_at, at=at))
    assert response.status_code == 400
    err = error_of(response)
    assert err["code"] == "invalid_input"
    assert err["field"] == ("collected_at" if collected_at != "2023-05-01" else "at")


def test_an_oversized_body_is_413_and_leaves_nothing_in_the_log(
    client: TestClient, service: tuple[FastAPI, Path]
) -> None:
    log = Store(str(service[1])).audit
    before = log.size()
    response = client.post("/v1/decisions", json=decision(id="x" * (MAX_BODY_BYTES + 1)))
    assert response.status_code == 413
    assert error_of(response)["code"] == "too_large"
    # Without a Content-Length (a chunked upload) the body is counted as it arrives.
    chunks = iter([b'{"id": "', b"x" * MAX_BODY_BYTES, b'"}'])
    response = client.post(
        "/v1/decisions", content=chunks, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    # An id over the field limit, in a body under the body limit, is a 422.
    response = client.post("/v1/decisions", json=decision(id="x" * 10_000))
    assert response.status_code == 422 and error_of(response)["field"] == "id"
    assert log.size() == before


def test_a_valid_decision_is_still_recorded(
    client: TestClient, service: tuple[FastAPI, Path]
) -> None:
    log = Store(str(service[1])).audit
    before = log.size()
    response = client.post("/v1/decisions", json=decision())
    assert response.status_code == 200 and response.json()["allowed"] is False
    assert log.size() == before + 1


@pytest.mark.parametrize(
    "path",
    [
        "/v1/audit/entries/" + str(10**30),
        "/v1/audit/entries/-1",
        "/v1/audit/proofs/inclusion/0?size=" + str(10**30),
        "/v1/audit/proofs/consistency?from=1&to=" + str(10**30),
        "/v1/audit/proofs/consistency?from=x&to=1",
        "/v1/policies/diff?from=%00&to=x",
        "/v1/policies/" + "a" * 300 + "/notice",
    ],
)
def test_out_of_range_numbers_and_bad_references_are_4xx(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert 400 <= response.status_code < 500, response.text
    error_of(response)


def test_scan_refuses_nan_confidence_and_surrogate_text(client: TestClient) -> None:
    for raw in (
        '{"documents": [], "min_confidence": NaN}',
        '{"documents": [], "min_confidence": 1e999}',
        '{"documents": [{"id": "a", "text": "\\udc00"}]}',
    ):
        response = post_raw(client, "/v1/scan", raw)
        assert response.status_code == 422, response.text
        error_of(response)


def test_unknown_routes_and_methods_answer_in_the_same_shape(client: TestClient) -> None:
    assert error_of(client.get("/nope"))["code"] == "not_found"
    assert error_of(client.delete("/v1/decisions"))["code"] == "method_not_allowed"
