"""A gate run's working folder: built beside the output, locked while its run lives,
published by one rename, and cleaned up by the next run when its own run died.

The folder is ``.OUT.partial-PID-TOKEN`` next to ``OUT``. Its ``.run.lock`` file
is held with ``flock`` for the whole run; the kernel lets go of it when the
process ends, however it ends (SIGKILL included). A later run removes a working
folder only when it is recognizably one (the name, and the lock file or the
process id in the name) and its owner is gone: the lock can be taken and had
been taken before (the owner writes its pid after locking), or there is no
lock file and no process with that id. A folder whose owner may be alive is
left alone.

Nothing unfinished is ever at ``OUT``: the finished folder is renamed into
place. Replacing an earlier output swaps the two folders in one step where the
system can (``renameat2`` with ``RENAME_EXCHANGE``); elsewhere the earlier one
is first moved aside to ``.OUT.old-PID-TOKEN``, and a later run puts it back if
the run died before the new one was in place.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import os
import re
import secrets
import shutil
from pathlib import Path

LOCK = ".run.lock"
_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?P<kind>partial|old)-(?P<pid>\d+)-[0-9a-f]{8}$")


class WorkDir:
    """The working folder of one run into ``out``."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.path = out.parent / f".{out.name}.partial-{os.getpid()}-{secrets.token_hex(4)}"
        self.path.mkdir()
        self._fd: int | None = os.open(self.path / LOCK, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o644)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        # Written once the lock is held: a cleaner that can take the lock of a file
        # with a pid in it knows the owner had it and is gone.
        os.write(self._fd, f"{os.getpid()}\n".encode())

    def publish(self) -> None:
        """Move the finished folder to ``out`` (replacing an earlier output there)."""
        # From here the folder is recognizable by the pid in its name alone.
        (self.path / LOCK).unlink()
        if not self.out.exists():
            os.rename(self.path, self.out)
        elif _exchange(self.path, self.out):
            shutil.rmtree(self.path, ignore_errors=True)  # the earlier output, now here
        else:
            aside = self.out.parent / f".{self.out.name}.old-{os.getpid()}-{secrets.token_hex(4)}"
            os.rename(self.out, aside)
            os.rename(self.path, self.out)
            shutil.rmtree(aside, ignore_errors=True)
        self._release()

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        self._release()

    def _release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def clean_leftovers(parent: Path) -> list[Path]:
    """Remove the working folders in ``parent`` of runs that died; put back an earlier
    output a dead run had moved aside. Returns the folders removed or restored."""
    done: list[Path] = []
    try:
        entries = list(parent.iterdir())
    except OSError:
        return done
    for entry in sorted(entries):
        match = _LEFTOVER.match(entry.name)
        if match is None or not entry.is_dir() or entry.is_symlink():
            continue
        if not _owner_gone(entry, int(match["pid"])):
            continue
        target = parent / match["name"]
        if match["kind"] == "old" and not target.exists():
            with contextlib.suppress(OSError):
                os.rename(entry, target)
                done.append(entry)
            continue
        shutil.rmtree(entry, ignore_errors=True)
        done.append(entry)
    return done


def _owner_gone(folder: Path, pid: int) -> bool:
    try:
        fd = os.open(folder / LOCK, os.O_RDWR)
    except FileNotFoundError:
        return not _alive(pid)
    except OSError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # held: its run is alive
        if os.fstat(fd).st_size == 0:
            return not _alive(pid)  # made but not locked yet, or its owner died right then
        return True
    finally:
        os.close(fd)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders in one step (Linux renameat2); False where that is not possible."""
    name = ctypes.util.find_library("c")
    try:
        renameat2 = ctypes.CDLL(name, use_errno=True).renameat2
    except (OSError, AttributeError, TypeError):
        return False
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    renameat2.restype = ctypes.c_int
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EPERM):
        return False
    raise OSError(code, os.strerror(code), str(b))
