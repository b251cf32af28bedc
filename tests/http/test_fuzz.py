"""Nothing a client can send gets a 5xx, and every answer fits the service's own
OpenAPI schema: schemathesis generates valid and invalid requests for every
route from that schema, in process, with the keys of a tenant's admin and of
the operator."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode, checks

from trainguard.app import Application, create_key
from trainguard.audit.note import Signer
from trainguard.decision.policy import load_policy_file
from trainguard.demo.run import copy_policy_files
from trainguard.gateway import CallableAccess
from trainguard.http import create_app
from trainguard.http.gateway import configure
from trainguard.store import Store

EXAMPLES = int(os.environ.get("TRAINGUARD_FUZZ_EXAMPLES", "25"))  # per route, mode and key


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, dict[str, str]]]:
    base = tmp_path_factory.mktemp("fuzz")
    store = Store(str(base / "fuzz.db"))
    store.init()
    folder = base / "policies"
    folder.mkdir()
    files = sorted(copy_policy_files(folder))[:3]
    store.add_policies([(load_policy_file(f), str(f)) for f in files])
    store.assign_tenant("acme", "meetco-terms")
    store.audit.checkpoint(Signer.generate("trainguard.fuzz"))
    tokens = {
        "admin": create_key(store, "admin", "acme")[1],
        "service": create_key(store, "service", "acme")[1],
        "operator": create_key(store, "operator", None)[1],
    }
    application = Application(store, base / "registry", base / "keys", max_pending_scans=1_000)
    app = create_app(application=application)
    # Everything visible: generated records that the terms allow reach the features.
    configure(app, CallableAccess(lambda *_: True))
    yield app, tokens
    application.close()
    store.engine.dispose()


def test_no_generated_request_gets_a_5xx_or_an_answer_outside_the_schema(
    fuzzed: tuple[FastAPI, dict[str, str]],
) -> None:
    app, tokens = fuzzed
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    sent = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        takes_input = any(
            len(part) for part in (operation.path_parameters, operation.query, operation.body)
        )
        modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if takes_input else [])
        for mode in modes:
            for key in tokens.values():
                authorization = f"Bearer {key}"

                @given(case=operation.as_strategy(generation_mode=mode))
                @settings(
                    max_examples=EXAMPLES, suppress_health_check=list(HealthCheck), database=None
                )
                def check(case: Any) -> None:
                    nonlocal sent
                    sent += 1
                    # The generated key is swapped for a real one; a case that leaves
                    # the key out on purpose goes without (and must get its 401).
                    if "Authorization" in (case.headers or {}):
                        case.headers["Authorization"] = authorization  # noqa: B023 (run at once)
                    response = case.call()
                    wanted = [
                        checks.not_a_server_error,
                        checks.status_code_conformance,
                        checks.content_type_conformance,
                        checks.response_schema_conformance,
                    ]
                    # A body over the limit is refused by its size (413) before its
                    # content is looked at; schemathesis does not count 413 as a refusal.
                    if response.status_code != 413:
                        wanted.append(checks.negative_data_rejection)
                    case.validate_response(response, checks=wanted)

                check()
    # Over 2,000 generated requests with the default EXAMPLES (the error contract's bar).
    assert sent >= 2_000 if EXAMPLES >= 25 else sent > 0, sent
