"""A service over a fresh store (SQLite, and PostgreSQL when configured) holding
the design's v1-v3, with API keys for two tenants and the operator, called in
process through httpx's ASGI transport."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from trainguard.app import Application, create_key
from trainguard.decision.policy import load_policy_file
from trainguard.http import create_app
from trainguard.store import Store


class Api:
    """Calls the application in process, one request at a time, as a client would."""

    def __init__(self, app: FastAPI, token: str | None) -> None:
        self.app = app
        self.token = token

    def as_(self, token: str | None) -> Api:
        return Api(self.app, token)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if self.token is not None:
            headers.setdefault("Authorization", f"Bearer {self.token}")

        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://tg") as client:
                return await client.request(method, url, headers=headers, **kwargs)

        return asyncio.run(go())

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)


@dataclass
class Service:
    store: Store
    application: Application
    app: FastAPI
    tokens: dict[str, str]

    def api(self, who: str | None) -> Api:
        """A client with the key of ``who`` (e.g. "acme:service", "operator"), or none."""
        return Api(self.app, self.tokens[who] if who else None)


@pytest.fixture
def service(any_store: Store, policy_files: dict[str, Path], tmp_path: Path) -> Iterator[Service]:
    any_store.add_policies(
        [(load_policy_file(policy_files[v]), str(policy_files[v])) for v in ("v1", "v2", "v3")]
    )
    any_store.assign_tenant("acme", "meetco-terms")
    any_store.assign_tenant("globex", "meetco-terms")
    tokens = {}
    for tenant in ("acme", "globex"):
        for role in ("admin", "service", "auditor"):
            tokens[f"{tenant}:{role}"] = create_key(any_store, role, tenant)[1]
    tokens["operator"] = create_key(any_store, "operator", None)[1]
    application = Application(any_store, tmp_path / "registry", tmp_path / "keys")
    yield Service(any_store, application, create_app(application=application), tokens)
    application.close()


def grant(tenant: str = "acme", subject: str = "alice", **fields: Any) -> dict[str, Any]:
    """An admin's implied consent to training on customer content, under v2."""
    return {
        "tenant": tenant,
        "kind": "grant",
        "subject": subject,
        "role": "account_admin",
        "categories": ["customer.*"],
        "uses": ["train.*"],
        "mode": "implied",
        "policy_version": "meetco-terms@2023-08-07",
        "at": "2023-08-08T10:00:00Z",
        **fields,
    }


def chat(**fields: Any) -> dict[str, Any]:
    return {
        "categories": ["customer.chat"],
        "use": "train.first_party",
        "collected_at": "2023-05-01",
        "at": "2023-08-09",
        "id": "chat-1",
        **fields,
    }


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "field"}
    assert "\n" not in body["error"]["message"]
    return dict(body["error"])
