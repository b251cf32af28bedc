"""The platform's access checks: the reference ACL, its file, a callable, an HTTP hook;
each fails closed."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from trainguard.errors import InputError
from trainguard.gateway import CallableAccess, HttpAccessHook, InMemoryAcl, load_acl

ITEMS = [("m1/t", "meeting:m1"), ("c/1", "channel:general"), ("m2/t", "meeting:m2")]


def test_the_reference_acl_grants_by_container_or_record_and_nothing_else() -> None:
    acl = InMemoryAcl()
    acl.allow("acme", "meeting:m1", ["alice"])
    acl.allow("acme", "channel:general", ["*"])
    acl.allow("acme", "m2/t", ["bob"])
    assert acl.visible("acme", "alice", ITEMS) == {"m1/t", "c/1"}
    assert acl.visible("acme", "bob", ITEMS) == {"c/1", "m2/t"}
    assert (
        acl.visible("globex", "alice", ITEMS) == set()
    )  # another tenant's grants are not this one's


def test_an_acl_file_is_read_strictly(tmp_path: Path) -> None:
    good = tmp_path / "acl.yaml"
    good.write_text("acme:\n  'meeting:m1': [alice]\n  'channel:general': '*'\n")
    assert load_acl(good).visible("acme", "alice", ITEMS) == {"m1/t", "c/1"}
    bad = tmp_path / "bad.yaml"
    bad.write_text("acme:\n  'meeting:m1': alice\n")
    with pytest.raises(InputError, match=r"bad.yaml: acme.meeting:m1: a list of users"):
        load_acl(bad)
    bad.write_text("acme:\n  'meeting:m1': ['Alice ']\n")
    with pytest.raises(InputError, match="bad.yaml"):
        load_acl(bad)


def test_a_callable_that_fails_or_answers_anything_but_true_shows_nothing() -> None:
    def check(tenant: str, user: str, record_id: str, container: str) -> bool:
        if record_id == "m2/t":
            raise RuntimeError("the platform's bug")
        return "yes" if record_id == "c/1" else True  # type: ignore[return-value]

    assert CallableAccess(check).visible("acme", "alice", ITEMS) == {"m1/t"}


class _Hook(BaseHTTPRequestHandler):
    answer: Any = None
    received: ClassVar[list[Any]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).received.append(body)
        data = (
            json.dumps(type(self).answer).encode() if type(self).answer is not None else b"not json"
        )
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[tuple[str, type[_Hook]]]:
    handler = type("Hook", (_Hook,), {"answer": None, "received": []})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/visible", handler
    server.shutdown()
    server.server_close()


def test_the_http_hook_is_sent_ids_only_and_its_answer_is_bounded_to_what_was_asked(
    hook: tuple[str, type[_Hook]],
) -> None:
    url, handler = hook
    handler.answer = {"visible": ["m1/t", "someone-elses/record"]}
    assert HttpAccessHook(url).visible("acme", "alice", ITEMS) == {"m1/t"}
    assert handler.received == [
        {
            "tenant": "acme",
            "user": "alice",
            "records": [{"id": i, "container": c} for i, c in ITEMS],
        }
    ]


@pytest.mark.parametrize("answer", [None, {"visible": "m1/t"}, ["m1/t"], {}])
def test_the_http_hook_fails_closed(hook: tuple[str, type[_Hook]], answer: Any) -> None:
    url, handler = hook
    handler.answer = answer
    assert HttpAccessHook(url).visible("acme", "alice", ITEMS) == set()


def test_an_unreachable_hook_shows_nothing_and_a_hook_must_be_http() -> None:
    assert (
        HttpAccessHook("http://127.0.0.1:9/", timeout=0.5).visible("acme", "alice", ITEMS) == set()
    )
    with pytest.raises(InputError, match="http:// or https://"):
        HttpAccessHook("file:///etc/passwd")
