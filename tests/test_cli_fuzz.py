"""Every command that takes input, fed thousands of generated arguments — valid values
mixed with hostile ones (any unicode, lone surrogates, NUL, huge numbers, odd dates,
missing files, folders where files belong, files with flipped bytes, YAML bombs) —
never exits 3 ("internal error") and never prints a traceback: a user's mistake is
one line on stderr and exit 2.

The commands run in process, against one store and one set of files per module.
Output options only ever name places under the module's folder, and the module runs
from that folder, so that a generated relative path lands there too.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer
import typer.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, event
from typer.testing import CliRunner

from trainguard.cli import app
from trainguard.demo.run import copy_policy_files
from trainguard.store import Store
from trainguard.store.store import _configure_sqlite

EXAMPLES = int(os.environ.get("TRAINGUARD_FUZZ_EXAMPLES", "2000"))  # per command
BATCH = 20

# --- hostile values -----------------------------------------------------------------------

ODD_TIMES = [
    "9999-12-31T23:00:00-05:00",
    "0001-01-01T00:00:00+05:00",
    "9999-12-31T23:59:59.999999Z",
    "0001-01-01T00:00:00Z",
    "2023-02-30",
    "2023-08-09T25:00:00Z",
    "2023-08-09T10:00:00",
    "2023-08-09T10:00:00+24:00",
    "10000-01-01",
    "2023-W32-3",
    "20230809T100000Z",
    "now",
    "2023-08-09T10:00:00.1234567890Z",
]
ODD_NUMBERS = [
    "-1",
    "0",
    str(2**63),
    str(2**63 - 1),
    str(10**30),
    "1e999",
    "nan",
    "inf",
    "0x10",
    "1_000",
    "٣",
]
ODD_TEXT = [
    "",
    " ",
    "-",
    "\x00",
    "a\x00b",
    "\udcff",
    "a\udc80b",
    "\ud800",
    "x" * 5000,
    "line\nbreak",
    "tab\there",
    "\u202e",
    "🙂",
    "[red]markup[/red]",
    "%s%n",
    "--",
    "-x",
]
ODD_JSON = [
    "[]",
    '"proof"',
    '{"row": null}',
    '{"row": {"id": 1}, "leaf_hash": "x"}',
    '{"row": [], "leaf_hash": "00", "index": 1e999, "tree_size": "9"}',
    "[" * 100_000,
    '{"a": ' + "9" * 5000 + "}",
    "NaN",
]
# Generated text never holds "/" or "~": a generated value that ends up naming an output
# must stay a relative path, inside this module's folder.
ANY_TEXT = st.text(st.characters(exclude_categories=(), exclude_characters="/~"), max_size=30)
HOSTILE = st.one_of(
    st.sampled_from(ODD_TEXT + ODD_NUMBERS + ODD_TIMES),
    ANY_TEXT,
    st.integers().map(str),
)


def value(*valid: str) -> st.SearchStrategy[str]:
    """A valid value about half of the time, else a hostile one."""
    return st.one_of(st.sampled_from(valid), HOSTILE) if valid else HOSTILE


def opt(flag: str, values: st.SearchStrategy[str]) -> st.SearchStrategy[list[str]]:
    """The option with a value, or the option left out."""
    return st.one_of(values.map(lambda v: [flag, v]), st.just([]))


def flag(name: str) -> st.SearchStrategy[list[str]]:
    return st.sampled_from([[name], []])


def pos(values: st.SearchStrategy[str]) -> st.SearchStrategy[list[str]]:
    return values.map(lambda v: [v])


def command(*parts: st.SearchStrategy[list[str]] | str) -> st.SearchStrategy[list[str]]:
    strategies = [st.just([p]) if isinstance(p, str) else p for p in parts]
    return st.tuples(*strategies).map(lambda lists: [t for part in lists for t in part])


# --- the world the commands run in --------------------------------------------------------


TEXT = (
    "the quarterly numbers look good to everyone in the room today, so we will ship "
    "the new release next week as planned"
)


def _records() -> pa.Table:
    return pa.table(
        {
            "id": ["chat-1", "tele-1"],
            "tenant": ["acme", "acme"],
            "category": ["customer.chat", "service.telemetry"],
            "collected_at": ["2023-05-01T09:00:00Z"] * 2,
            "subjects": [["bob"], []],
            "text": [TEXT, "cpu=3"],
        }
    )


def _flipped(data: bytes) -> bytes:
    out = bytearray(data)
    for i in range(len(out) // 3, len(out) // 3 + 4):
        out[i] ^= 0xFF
    return bytes(out)


BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{n}: &{n} [{','.join(['*' + p] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("fuzz")
    runner = CliRunner()
    command = typer.main.get_command(app)
    # Generated relative paths land in a folder of their own, kept small.
    (base / "cwd").mkdir()
    # Building the click command from the Typer app costs more than most commands take:
    # build it once. `serve` is fuzzed up to its option parsing: no application is built
    # (tests/http/test_fuzz.py fuzzes that one) and uvicorn is not started.
    with (
        pytest.MonkeyPatch.context() as patch,
        mock.patch("typer.testing._get_command", lambda _app: command),
        mock.patch("trainguard.http.create_app", lambda *a, **k: None),
        mock.patch("trainguard.http.gateway.configure", lambda *a, **k: None),
        mock.patch("uvicorn.run", lambda *a, **k: None),
    ):
        patch.chdir(base / "cwd")
        db = base / "fuzz.db"
        policies = base / "policies"
        policies.mkdir()
        files = sorted(copy_policy_files(policies))

        def ok(*args: str) -> str:
            result = runner.invoke(app, ["--db", str(db), *args])
            assert result.exit_code == 0, (args, result.stderr)
            return str(result.stdout)

        ok("init")
        ok("policy", "add", *map(str, files[:3]))
        pq.write_table(_records(), base / "records.parquet")
        (base / "records.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in _records().to_pylist())
        )
        (base / "flipped.parquet").write_bytes(_flipped((base / "records.parquet").read_bytes()))
        (base / "truncated.parquet").write_bytes((base / "records.parquet").read_bytes()[:200])
        (base / "empty").write_bytes(b"")
        (base / "overwritable.txt").write_bytes(b"")
        (base / "junk.bin").write_bytes(bytes(range(256)) * 4)
        (base / "latin1.txt").write_bytes("café: été\n".encode("latin-1"))
        (base / "bomb.yaml").write_text(BOMB)
        (base / "deep.yaml").write_text("a: " + "[" * 200 + "]" * 200 + "\n")
        (base / "huge.yaml").write_text("# " + "x" * (300 * 1024) + "\n")
        (base / "mapping.yaml").write_text("id: id\ntenant: tenant\ncategory: category\n")
        (base / "taxonomy.yaml").write_text("categories: {customer.fuzz: Fuzzed}\nuses: {}\n")
        (base / "consent.jsonl").write_text(
            json.dumps(
                {
                    "tenant": "acme",
                    "kind": "grant",
                    "subject": "alice",
                    "role": "account_admin",
                    "categories": ["customer.*"],
                    "uses": ["train.*"],
                    "mode": "implied",
                    "policy_version": "meetco-terms@2023-08-07",
                    "at": "2023-08-08T10:00:00Z",
                }
            )
            + "\n"
        )
        (base / "folder").mkdir()
        record = {
            "id": "m-1",
            "categories": ["customer.transcript"],
            "container": "meeting:m-1",
            "collected_at": "2023-08-20T09:00:00Z",
            "turns": [{"speaker": "A", "text": TEXT}],
        }
        (base / "gateway.json").write_text(json.dumps([record]))
        (base / "acl.yaml").write_text("acme:\n  'meeting:m-1': [alice]\n")
        (base / "providers.yaml").write_text(
            "providers:\n  local: {third_party: false, zero_retention: true}\ntenants:\n  acme: [local]\n"
        )
        (base / "texts.txt").write_text(
            "the quarterly numbers look good to everyone in the room today and tomorrow too\n"
        )
        registry, keys = base / "registry", base / "keys"
        reg = ["--registry", str(registry), "--keys", str(keys)]
        r = runner.invoke(
            app, ["registry", "add", str(base / "records.jsonl"), "--tenant", "acme", *reg]
        )
        assert r.exit_code == 0, r.stderr
        damaged = base / "damaged-registry"
        shutil.copytree(registry, damaged)
        segment = sorted(damaged.glob("seg-*.fp.npy"))[0]
        segment.write_bytes(segment.read_bytes()[:10])
        ok(
            "gate",
            str(base / "records.parquet"),
            "--use",
            "train.first_party",
            "--out",
            str(base / "gated"),
            "--at",
            "2023-08-09",
        )
        ok("manifest", "prove", str(base / "gated"), "chat-1", "-o", str(base / "proof.json"))
        (base / "flipped-proof.json").write_bytes(_flipped((base / "proof.json").read_bytes()))
        for i, text in enumerate(ODD_JSON):
            (base / f"odd-{i}.json").write_text(text)
        notice = base / "notice.json"
        ok("notice", "render", "meetco-terms@2023-08-11", "--format", "json", "--out", str(notice))
        notice_id = json.loads(notice.read_text())["id"]
        ok("notice", "serve", notice_id, "--tenant", "acme", "--subject", "alice")
        ok("model", "register", "m-1", "--manifest", str(base / "gated"))
        ok("audit", "keygen", "--key", str(base / "audit.key"))
        ok("audit", "checkpoint", "--key", str(base / "audit.key"))
        # One pooled connection rather than one per query, and commits that need not
        # wait for the disk: durability is not what is tested here, and both make a
        # command several times faster.
        engine = create_engine(f"sqlite:///{db}")
        _configure_sqlite(engine)
        event.listen(engine, "connect", _no_fsync)
        store = Store(str(db), engine=engine)
        yield {
            "base": base,
            "db": db,
            "store": store,
            "runner": runner,
            "policy_files": [str(f) for f in files],
            "registry": str(registry),
            "keys": str(keys),
            "notice_id": notice_id,
        }
        store.engine.dispose()


def _no_fsync(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.execute("PRAGMA synchronous=OFF")


def invoke(world: dict[str, Any], args: list[str], with_store: bool = True) -> Any:
    extra = {"obj": {"store": world["store"]}} if with_store else {}
    return world["runner"].invoke(app, args, **extra)


def check(result: Any, args: list[str]) -> None:
    where = f"trainguard {' '.join(map(ascii, args))}"
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        where,
        repr(result.exception),
    )
    assert result.exit_code in (0, 1, 2), (where, result.exit_code, result.stderr)
    assert "Traceback" not in result.stderr, (where, result.stderr)
    assert "internal error" not in result.stderr, (where, result.stderr)
    if result.exit_code == 2:
        # Warnings (a malformed record skipped) may come first; the error is one line.
        lines = result.stderr.splitlines()
        errors = [line for line in lines if not line.startswith("trainguard: warning: ")]
        assert len(errors) == 1 and errors[0].startswith("trainguard: error: "), (where, lines)


# --- the entry points ---------------------------------------------------------------------


def entry_points(w: dict[str, Any]) -> dict[str, st.SearchStrategy[list[str]]]:
    b: Path = w["base"]
    inputs = [str(b / n) for n in ("records.parquet", "records.jsonl", "texts.txt")]
    bad_inputs = [
        str(b / n)
        for n in (
            "flipped.parquet",
            "truncated.parquet",
            "empty",
            "junk.bin",
            "latin1.txt",
            "folder",
            "missing.parquet",
            "bomb.yaml",
            "records.parquet/inside",
        )
    ]
    odd_json = [str(b / f"odd-{i}.json") for i in range(len(ODD_JSON))]
    yaml_files = [
        str(b / n) for n in ("bomb.yaml", "deep.yaml", "huge.yaml", "mapping.yaml", "taxonomy.yaml")
    ]
    any_input = value(*inputs, *bad_inputs, *yaml_files, *w["policy_files"])
    # Outputs: new places, a file where a folder belongs, a missing parent, a folder.
    outs = st.sampled_from(
        [
            str(b / "out" / "new"),
            str(b / "overwritable.txt"),
            str(b / "missing-parent" / "x" / "y"),
            str(b / "folder"),
            str(b / "empty"),
            "relative-out",
        ]
    )
    out_file = st.one_of(outs, st.sampled_from([str(b / "out.json"), str(b / "folder" / "p.json")]))
    gated = value(
        str(b / "gated"), str(b / "folder"), str(b / "missing"), str(b / "records.parquet")
    )
    ref = value(
        "meetco-terms@2023-08-07", "meetco-terms@2023-08-11", "meetco-terms", *w["policy_files"]
    )
    tenant = value("acme", "globex")
    cats = value("customer.chat", "customer.*", "service.telemetry,customer.audio")
    uses = value("train.first_party", "train.*", "infer.feature")
    time = value("2023-08-09", "2023-08-09T10:00:00Z", "2023-08-09T10:00:00+02:00")
    index = value("0", "1", "3")
    reg = [
        opt(
            "--registry",
            value(
                w["registry"], str(b / "damaged-registry"), str(b / "folder"), str(b / "missing")
            ),
        ),
        opt("--keys", value(w["keys"], str(b / "folder"), str(b / "missing"))),
    ]
    fmt = opt("--format", value("parquet", "jsonl", "csv", "text"))
    consent = [
        opt("--tenant", tenant),
        opt("--subject", value("alice", "bob")),
        opt("--role", value("account_admin", "self")),
        opt("--categories", cats),
        opt("--uses", uses),
        opt("--policy-version", ref),
        opt("--at", time),
        opt("--notice-id", value("n-1")),
    ]
    return {
        "decide": command(
            "decide", opt("--tenant", tenant), opt("--category", cats), opt("--use", uses),
            opt("--collected-at", time), opt("--at", time), opt("--subjects", value("bob,carol")),
            opt("--id", value("chat-1")), flag("--json"),
        ),
        "policy add": command("policy", "add", pos(value(*w["policy_files"], *yaml_files, *bad_inputs))),
        "policy show": command("policy", "show", pos(ref)),
        "policy diff": command("policy", "diff", pos(ref), pos(ref), flag("--json")),
        "policy notice": command("policy", "notice", pos(ref), flag("--json")),
        "policy default": command("policy", "default", pos(value("meetco-terms"))),
        "tenant assign": command("tenant", "assign", pos(tenant), pos(value("meetco-terms"))),
        "taxonomy add": command("taxonomy", "add", pos(value(*yaml_files, *bad_inputs))),
        "consent grant": command("consent", "grant", *consent, opt("--mode", value("implied", "explicit"))),
        "consent withdraw": command("consent", "withdraw", *consent),
        "consent import": command("consent", "import", pos(value(str(b / "consent.jsonl"), *bad_inputs, *odd_json, *yaml_files))),
        "consent list": command("consent", "list", opt("--tenant", tenant), flag("--json")),
        "audit show": command("audit", "show", pos(index)),
        "audit prove": command("audit", "prove", pos(index), opt("--size", index), opt("--out", out_file)),
        "audit consistency": command(
            "audit", "consistency", opt("--from", index), opt("--to", index), opt("--out", out_file)
        ),
        "audit verify": command(
            "audit", "verify", opt("--pubkey", value(str(b / "audit.key.pub"), str(b / "junk.bin"), str(b / "folder"))),
            opt("--key", value(str(b / "audit.key"), str(b / "folder"))),
        ),
        "audit redact": command("audit", "redact", pos(index)),
        "gate": command(
            "gate", pos(any_input), opt("--use", uses), opt("--out", outs), opt("--at", time),
            opt("--mapping", value(str(b / "mapping.yaml"), *yaml_files, *bad_inputs)), fmt,
            opt("--lineage", gated), opt("--engine", value("local")), flag("--replace"),
            flag("--scan"), *reg,
        ),
        "manifest verify": command("manifest", "verify", pos(gated)),
        "manifest prove": command("manifest", "prove", pos(gated), pos(value("chat-1", "tele-1")), opt("--output", out_file)),
        "manifest check-proof": command(
            "manifest", "check-proof",
            pos(value(str(b / "proof.json"), str(b / "flipped-proof.json"), *odd_json, *bad_inputs)),
        ),
        "model register": command(
            "model", "register", pos(value("m-1", "m-2")), opt("--manifest", gated), opt("--trained-at", time)
        ),
        "model show": command("model", "show", pos(value("m-1"))),
        "impact": command(
            "impact", opt("--model", value("m-1")), opt("--at", time), flag("--json"), opt("--export", outs)
        ),
        "registry add": command(
            "registry", "add", pos(any_input), opt("--tenant", tenant), opt("--category", cats), fmt,
            opt("--id-field", value("id", "meeting_id")), opt("--text-field", value("text", "turns")), *reg,
        ),
        "registry remove": command("registry", "remove", pos(value("chat-1")), opt("--tenant", tenant), *reg),
        "registry reference": command("registry", "reference", pos(any_input), fmt, opt("--text-field", value("text")), *reg),
        "scan": command(
            "scan", pos(any_input), opt("--out", out_file), fmt, opt("--text-field", value("text")),
            opt("--id-field", value("id")), opt("--workers", value("1")), opt("--engine", value("local")),
            opt("--min-confidence", value("0.5", "0", "1")), flag("--fail-on-findings"),
            flag("--no-near-duplicates"), *reg,
        ),
        "summarize": command(
            "summarize", pos(value(str(b / "gateway.json"), *odd_json, str(b / "records.jsonl"))), opt("--tenant", tenant),
            opt("--user", value("alice", "bob")), opt("--acl", value(str(b / "acl.yaml"), *yaml_files)),
            opt("--providers", value(str(b / "providers.yaml"), *yaml_files)), opt("--provider", value("local")),
            opt("--purpose", value("infer.feature", "infer.third_party")), opt("--at", time), flag("--json"),
        ),
        "ask": command(
            "ask", pos(value(str(b / "gateway.json"), *odd_json)), opt("--question", value("when do we ship?")),
            opt("--tenant", tenant), opt("--user", value("alice")), opt("--acl", value(str(b / "acl.yaml"))),
            opt("--access-hook", value("http://127.0.0.1:9/")), opt("--at", time), flag("--json"),
        ),
        "notice render": command(
            "notice", "render", pos(ref), opt("--audience", value("participant", "admin")),
            opt("--format", value("text", "html", "json")), opt("--out", out_file),
        ),
        "notice serve": command(
            "notice", "serve", pos(value(w["notice_id"], "ntc-000000000000000000000000")),
            opt("--tenant", tenant), opt("--subject", value("alice", "bob")), opt("--at", time),
        ),
        "notice ack": command(
            "notice", "ack", pos(value(w["notice_id"])), opt("--tenant", tenant),
            opt("--subject", value("alice", "bob")), opt("--at", time),
        ),
        "notice list": command(
            "notice", "list", opt("--tenant", tenant), opt("--subject", value("alice")), flag("--json")
        ),
        "summary": command(
            "summary", opt("--model", value("m-1", "m-2")), opt("--format", value("json", "html")),
            opt("--provider", value("MeetCo")), opt("--contact", value("ai@example.com")),
            opt("--tenant", tenant), opt("--out", out_file),
        ),
        "report": command("report", opt("--out", out_file), opt("--tenant", tenant)),
        "serve": command(
            "serve", opt("--host", value("127.0.0.1")), opt("--port", value("8000", "65535", "65536")), *reg
        ),
    }  # fmt: skip


ENTRY_POINTS = [
    "decide", "policy add", "policy show", "policy diff", "policy notice", "policy default",
    "tenant assign", "taxonomy add", "consent grant", "consent withdraw", "consent import",
    "consent list", "audit show", "audit prove", "audit consistency", "audit verify",
    "audit redact", "gate", "manifest verify", "manifest prove", "manifest check-proof",
    "model register", "model show", "impact", "registry add", "registry remove",
    "registry reference", "scan", "summarize", "ask", "notice render", "notice serve",
    "notice ack", "notice list", "summary", "report", "serve",
]  # fmt: skip


def test_every_command_takes_input_and_is_fuzzed(world: dict[str, Any]) -> None:
    assert set(ENTRY_POINTS) == set(entry_points(world))


@pytest.mark.slow
@pytest.mark.parametrize("name", ENTRY_POINTS)
def test_no_generated_input_is_an_internal_error(world: dict[str, Any], name: str) -> None:
    # Inputs come in batches of BATCH per generated example: the engine's own cost per
    # example is then paid once a batch, and a failing batch still shrinks to the input
    # that fails.
    ran = 0

    @given(batch=st.lists(entry_points(world)[name], min_size=BATCH, max_size=BATCH))
    @settings(
        max_examples=-(-EXAMPLES // BATCH),
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def run(batch: list[list[str]]) -> None:
        nonlocal ran
        for args in batch:
            check(invoke(world, args), args)
            ran += 1

    run()
    assert ran >= EXAMPLES


@given(
    db=value(
        "fuzz.db",
        "folder",
        "records.parquet",
        "missing/x.db",
        "sqlite:///fuzz.db",
        "postgresql://nobody@127.0.0.1:1/x",
    )
)
@settings(max_examples=200, suppress_health_check=list(HealthCheck), database=None)
def test_any_db_option_is_an_answer_or_one_line(world: dict[str, Any], db: str) -> None:
    args = ["--db", db, "policy", "list"]
    check(invoke(world, args, with_store=False), args)


@pytest.mark.parametrize(
    "args",
    [
        [
            "decide",
            "--tenant",
            "acme",
            "--category",
            "customer.chat",
            "--use",
            "train.first_party",
            "--collected-at",
            "9999-12-31T23:00:00-05:00",
        ],
        [
            "decide",
            "--tenant",
            "acme",
            "--category",
            "customer.chat",
            "--use",
            "train.first_party",
            "--collected-at",
            "0001-01-01T00:00:00+05:00",
        ],
        [
            "decide",
            "--tenant",
            "acme",
            "--category",
            "customer.chat",
            "--use",
            "train.first_party",
            "--collected-at",
            "2023-05-01",
            "--id",
            "a\udcff",
        ],
        [
            "decide",
            "--tenant",
            "ac\udcffme",
            "--category",
            "customer.chat",
            "--use",
            "train.first_party",
            "--collected-at",
            "2023-05-01",
        ],
        [
            "decide",
            "--tenant",
            "acme",
            "--category",
            "customer.chat",
            "--use",
            "train.first_party",
            "--collected-at",
            "2023-05-01",
            "--id",
            "x" * 300,
        ],
        ["audit", "show", str(10**30)],
        ["audit", "redact", str(10**30)],
        ["audit", "prove", "0", "--out", "missing-folder/proof.json"],
        ["audit", "prove", "0", "--out", "@/folder"],
        ["manifest", "prove", "@/gated", "chat-1", "-o", "missing-folder/proof.json"],
        ["gate", "@/flipped.parquet", "--use", "train.first_party", "--out", "out/flipped"],
        ["consent", "import", "@/folder"],
        ["taxonomy", "add", "@/folder"],
        ["taxonomy", "add", "@/bomb.yaml"],
        ["policy", "add", "@/bomb.yaml"],
        ["policy", "add", "@/huge.yaml"],
        ["impact", "--export", "@/records.parquet"],
        ["scan", "--workers", str(10**30), "@/records.jsonl", "--out", "out/f.jsonl"],
        [
            "scan",
            "@/records.jsonl",
            "--out",
            "out/f.jsonl",
            "--registry",
            "@/damaged-registry",
            "--keys",
            "@/keys",
        ],
        [
            "registry",
            "remove",
            "chat-1",
            "--tenant",
            "acme",
            "--registry",
            "@/damaged-registry",
            "--keys",
            "@/keys",
        ],
    ],
    ids=lambda a: " ".join(a)[:60],
)
def test_the_inputs_that_used_to_be_internal_errors_are_one_line_exit_2(
    world: dict[str, Any], args: list[str]
) -> None:
    args = [a.replace("@/", f"{world['base']}/", 1) if a.startswith("@/") else a for a in args]
    result = invoke(world, args)
    check(result, args)
    assert result.exit_code == 2
