"""Audio, images and video are registered, removed and scanned through the
application layer, which builds their audit entries: the CLI leaves the entry
the layer leaves when another adapter calls it with its own log."""

from __future__ import annotations

import pytest

pytest.importorskip("av", reason="needs the media extra (PyAV)")
pytest.importorskip("PIL", reason="needs the media extra (Pillow)")

from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from trainguard.app.access import Principal
from trainguard.app.registry import add_media, remove_media
from trainguard.app.scanning import scan_media_files
from trainguard.cli import app
from trainguard.scan.keys import KeyRing
from trainguard.scan.media import samples as S
from trainguard.scan.registry import Registry
from trainguard.store import Store

runner = CliRunner()


def last_entry(store: Store) -> tuple[str, dict[str, Any]]:
    entry = store.audit.entry(store.audit.size() - 1)["entry"]
    return entry["kind"], entry["data"]


def without_registry(entry: tuple[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """Each registry is its own folder; what was done, to what, is the same."""
    kind, data = entry
    return kind, {k: v for k, v in data.items() if k != "registry"}


def test_media_added_scanned_and_removed_is_logged_alike(tmp_path: Path, store: Store) -> None:
    customer = tmp_path / "customer"
    customer.mkdir()
    slide = customer / "slide.png"
    slide.write_bytes(S.image_bytes(S.slide(1, 5, size=(320, 180))))
    cli_db = tmp_path / "cli.db"
    folders = ["--registry", str(tmp_path / "cli-r"), "--keys", str(tmp_path / "cli-k")]

    def cli(*args: str, code: int = 0) -> None:
        result = runner.invoke(app, ["--db", str(cli_db), *args])
        assert result.exit_code == code, result.stderr

    def cli_entry() -> tuple[str, dict[str, Any]]:
        return without_registry(last_entry(Store(str(cli_db))))

    cli("init")
    reg = Registry(tmp_path / "app-r", KeyRing(tmp_path / "app-k"), store)
    local, append = Principal.local(), store.audit.record

    cli(
        "registry",
        "add",
        str(customer),
        "--tenant",
        "acme",
        "--category",
        "customer.recording",
        *folders,
    )
    added, index = add_media(
        local, reg, "acme", [str(customer)], None, "customer.recording", append=append
    )
    assert added.added == 1 and index == store.audit.size() - 1
    assert cli_entry() == without_registry(last_entry(store))
    assert cli_entry()[1]["added"] == 1 and cli_entry()[1]["kind"] == "media"

    cli("scan", str(slide), "--out", str(tmp_path / "cli.jsonl"), *folders)
    summary, index = scan_media_files(
        local, reg, [str(slide)], tmp_path / "app.jsonl", append=append
    )
    assert summary.findings == 1 and index == store.audit.size() - 1
    assert cli_entry() == without_registry(last_entry(store))
    assert cli_entry()[0] == "scan.run" and cli_entry()[1]["findings"] == 1

    cli("registry", "remove", str(slide), "--tenant", "acme", *folders)
    removed, index = remove_media(local, reg, "acme", str(slide), append=append)
    assert removed.kind == "image" and index == store.audit.size() - 1
    assert cli_entry() == without_registry(last_entry(store))
    assert cli_entry() == (
        "registry.remove",
        {"tenant": "acme", "item": str(slide), "kind": "image"},
    )


def test_without_a_log_nothing_is_recorded_and_the_work_is_done(tmp_path: Path) -> None:
    customer = tmp_path / "customer"
    customer.mkdir()
    (customer / "slide.png").write_bytes(S.image_bytes(S.slide(2, 5, size=(320, 180))))
    reg = Registry(tmp_path / "r", KeyRing(tmp_path / "k"))
    added, index = add_media(Principal.local(), reg, "acme", [str(customer)], "image")
    assert (added.added, index) == (1, None)
