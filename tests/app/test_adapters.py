"""The CLI and the HTTP service call the same application operations, so the
same act leaves the same audit entry whichever adapter was asked: a decision,
a grant of consent, content registered and removed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.http.conftest import Service, chat, grant, service  # noqa: F401  (the fixture)
from trainguard.cli import app
from trainguard.store import Store

runner = CliRunner()
TEXT = " ".join(f"word{i}" for i in range(40))


@pytest.fixture
def cli_db(tmp_path: Path, policy_files: dict[str, Path]) -> Path:
    """A second store, made with the CLI, holding what the service's store holds."""
    db = tmp_path / "cli.db"
    for args in (
        ["init"],
        ["policy", "add", *(str(policy_files[v]) for v in ("v1", "v2", "v3"))],
        ["tenant", "assign", "acme", "meetco-terms"],
    ):
        cli(db, *args)
    return db


def cli(db: Path, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, ["--db", str(db), *args])
    assert result.exit_code == code, result.stderr
    return result.stdout


def last_entry(store: Store) -> tuple[str, dict[str, Any]]:
    entry = store.audit.entry(store.audit.size() - 1)["entry"]
    return entry["kind"], entry["data"]


def without(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in keys}


def test_a_grant_is_logged_alike(service: Service, cli_db: Path) -> None:  # noqa: F811
    event = grant()
    response = service.api("acme:admin").post("/v1/consent/events", json={"events": [event]})
    assert response.status_code == 200, response.text
    cli(
        cli_db,
        "consent",
        "grant",
        *("--tenant", event["tenant"], "--subject", event["subject"]),
        *("--role", event["role"], "--categories", ",".join(event["categories"])),
        *("--uses", ",".join(event["uses"]), "--mode", event["mode"]),
        *("--policy-version", event["policy_version"], "--at", event["at"]),
    )
    over_http = last_entry(service.store)
    assert over_http[0] == "consent.grant"
    assert last_entry(Store(str(cli_db))) == over_http


def test_a_decision_is_logged_alike(service: Service, cli_db: Path) -> None:  # noqa: F811
    asked = chat()
    decided = service.api("acme:service").post("/v1/decisions", json=asked).json()
    cli(
        cli_db,
        "decide",
        *("--tenant", "acme", "--category", asked["categories"][0], "--use", asked["use"]),
        *("--collected-at", asked["collected_at"], "--at", asked["at"], "--id", asked["id"]),
        code=1,  # denied, as over HTTP
    )
    kind, data = last_entry(service.store)
    assert (kind, data) == ("decision", without(decided, "audit_index"))
    assert last_entry(Store(str(cli_db))) == (kind, data)


def test_registered_and_removed_content_is_logged_alike(
    service: Service,  # noqa: F811
    cli_db: Path,
    tmp_path: Path,
) -> None:
    api = service.api("acme:admin")
    added = api.post("/v1/registry/items", json={"items": [{"id": "doc-1", "text": TEXT}]})
    assert added.status_code == 200, added.text
    assert added.json()["audit_index"] == service.store.audit.size() - 1
    http_add = last_entry(service.store)
    assert api.delete("/v1/registry/items/doc-1").status_code == 200
    http_remove = last_entry(service.store)

    source = tmp_path / "doc-1.jsonl"
    source.write_text(f'{{"id": "doc-1", "text": "{TEXT}"}}\n')
    folders = ["--registry", str(tmp_path / "cli-registry"), "--keys", str(tmp_path / "cli-keys")]
    cli(cli_db, "registry", "add", str(source), "--tenant", "acme", *folders)
    cli_add = last_entry(Store(str(cli_db)))
    cli(cli_db, "registry", "remove", "doc-1", "--tenant", "acme", *folders)
    cli_remove = last_entry(Store(str(cli_db)))

    # Each registry is its own (its id, folder and keyed files differ); what was
    # done, to which tenant's which items, is the same.
    state = ("registry_id", "registry", "state_sha256", "files", "segments")
    assert http_add[0] == cli_add[0] == "registry.add"
    assert without(http_add[1], *state) == without(cli_add[1], *state)
    assert http_add[1]["item_ids"] == ["doc-1"]
    assert http_remove[0] == cli_remove[0] == "registry.remove"
    assert without(http_remove[1], *state) == without(cli_remove[1], *state)


def test_a_notice_served_and_acknowledged_is_logged_alike(
    service: Service,  # noqa: F811
    cli_db: Path,
) -> None:
    terms = "meetco-terms@2023-08-07"
    notice = service.api("acme:admin").get(f"/v1/policies/{terms}/notices/participant").json()
    rendered = cli(cli_db, "notice", "render", terms, "--format", "json")
    assert '"id": "' + notice["id"] + '"' in rendered
    screen = service.api("acme:service")
    cli_store = Store(str(cli_db))
    for kind, command, at in (
        ("served", "serve", "2023-08-08T10:00:00Z"),
        ("acknowledged", "ack", "2023-08-08T10:01:00Z"),
    ):
        answer = screen.post(
            f"/v1/notices/{notice['id']}/{kind}", json={"subject": "alice", "at": at}
        )
        assert answer.status_code == 200, answer.text
        cli(
            cli_db,
            "notice",
            command,
            notice["id"],
            "--tenant",
            "acme",
            "--subject",
            "alice",
            "--at",
            at,
        )
        over_http, over_cli = last_entry(service.store), last_entry(cli_store)
        assert over_http[0] == over_cli[0] == f"notice.{kind}"
        # When each was written down differs; what was recorded does not.
        assert without(over_http[1], "recorded_at") == without(over_cli[1], "recorded_at")
