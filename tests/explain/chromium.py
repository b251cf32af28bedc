"""Open a page in headless Chromium (Debian's `chromium`): a screenshot, and every
message the page wrote to its console (Chromium logs them to stderr as CONSOLE lines)."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
MISSING = "headless Chromium not installed (apt-get install chromium); .ci/run installs it"
WIDTH, HEIGHT = 1366, 900  # a laptop screen


def render(page: Path, work: Path) -> tuple[Path, list[str]]:
    """Screenshot ``page`` at laptop size; return the PNG and the console lines."""
    assert CHROMIUM is not None
    shot = work / f"{page.stem}.png"
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={work / 'chromium-profile'}",
            f"--screenshot={shot}",
            f"--window-size={WIDTH},{HEIGHT}",
            "--enable-logging=stderr",
            "--v=0",
            page.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        check=False,
        # Not a performance bound: only so that a wedged browser cannot hang the suite.
        timeout=600,
    )
    return shot, [line for line in done.stderr.splitlines() if ":CONSOLE" in line]


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's header (and proof that it is a PNG)."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", head[16:24])
    return width, height
