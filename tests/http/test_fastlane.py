"""The decision lane: well-formed decision requests answered without the
framework's per-request machinery, each logged exactly once even in a burst;
every other request to the decision routes answered by the framework's route
exactly as before."""

from __future__ import annotations

import asyncio

import httpx
from typer.testing import CliRunner

from trainguard.cli import app as cli

from .conftest import Service, chat, error_of


def burst(service: Service, bodies: list[tuple[str, dict]]) -> list[httpx.Response]:  # type: ignore[type-arg]
    """Every request at once, on one event loop, as concurrent clients would send them."""
    headers = {"Authorization": f"Bearer {service.tokens['acme:service']}"}

    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=service.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tg") as client:
            return list(
                await asyncio.gather(
                    *(client.post(url, json=body, headers=headers) for url, body in bodies)
                )
            )

    return asyncio.run(go())


def test_a_burst_of_decisions_is_logged_once_each_and_audit_verify_passes(
    service: Service,
) -> None:
    batch = {
        "use": "train.first_party",
        "at": "2023-08-09",
        "records": {
            "id": ["a", "b"],
            "categories": [["customer.chat"], ["service.telemetry"]],
            "collected_at": ["2023-05-01", "2023-05-01"],
        },
    }
    before = service.store.audit.size()
    bodies = [("/v1/decisions", chat(id=f"chat-{i}")) for i in range(150)]
    bodies += [("/v1/decisions/batch", batch)] * 10
    answers = burst(service, bodies)
    assert [a.status_code for a in answers] == [200] * 160
    indexes = sorted(a.json()["audit_index"] for a in answers)
    assert indexes == list(range(before, before + 160))
    for answer in answers[:150:30]:
        logged = service.store.audit.entry(answer.json()["audit_index"])["entry"]
        assert logged["data"]["record"]["id"] == answer.json()["record"]["id"]
    assert service.store.audit.verify().ok
    if service.store.is_sqlite:  # and as an auditor would check it, from the command line
        result = CliRunner().invoke(cli, ["--db", service.store.url, "audit", "verify"])
        assert result.exit_code == 0, result.output
        assert f"OK: {before + 160} entries" in result.output


def test_requests_the_lane_declines_are_answered_by_the_route_as_before(
    service: Service,
) -> None:
    api = service.api("acme:service")
    size = service.store.audit.size()
    unknown = error_of(api.post("/v1/decisions", json=chat(colour="red")))
    assert unknown["code"] == "invalid_request" and unknown["field"] == "colour"
    query = error_of(api.post("/v1/decisions?dry=1", json=chat()))
    assert query["code"] == "invalid_input" and query["field"] == "dry"
    no_key = service.api(None).post("/v1/decisions", json=chat())
    assert no_key.status_code == 401 and no_key.headers["WWW-Authenticate"] == "Bearer"
    auditor = service.api("acme:auditor").post("/v1/decisions", json=chat())
    assert error_of(auditor)["code"] == "forbidden"
    bad_time = error_of(api.post("/v1/decisions", json=chat(at="2023-08-09T10:00")))
    assert bad_time["code"] == "invalid_input" and "timezone" in bad_time["message"]
    as_text = api.post(
        "/v1/decisions", content=b"categories", headers={"content-type": "text/plain"}
    )
    assert as_text.status_code == 422
    assert service.store.audit.size() == size  # none of them was logged
