"""Writing outputs: whole files or nothing, untouched when already up to date, modes as `cp` gives.

`read_existing` is how both `build` and `build --check` look at what is on disk, so the two
always agree: neither follows a symlink, and neither opens a FIFO, device or directory.
"""

from __future__ import annotations

import os
import signal
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

# What `read_existing` found at a path that is there but is not a regular file.
NOT_REGULAR = {
    stat.S_IFLNK: "a symbolic link",
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


class NotRegularError(OSError):
    """The path exists but is not a regular file; str() says what it is."""


def read_existing(target: Path) -> bytes | None:
    """The bytes of the regular file at `target`, None if nothing is there.

    Raise NotRegularError for a symlink (never followed), directory, FIFO or device, and OSError
    when the file cannot be read. O_NOFOLLOW and O_NONBLOCK make the open itself safe should the
    path change between the lstat and the open.
    """
    try:
        info = target.lstat()
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(info.st_mode):
        kind = NOT_REGULAR.get(stat.S_IFMT(info.st_mode), "not a regular file")
        raise NotRegularError(0, f"is {kind}", str(target))
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(target, flags)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise NotRegularError(0, "is not a regular file", str(target))
        return handle.read()


def write_atomic(target: Path, content: str | bytes) -> bool:
    """Write via a temp file and a rename; return False when the file already held `content`.

    Text is written as UTF-8. A reader (or an interrupted build) sees the old file or the new
    one, never half of one, and no temp file is left behind on failure or on SIGINT/SIGTERM. A
    new file gets mode 0666 & ~umask, a rewritten one keeps its mode. A symlink at `target` is
    replaced, not written through, so an output never lands outside its folder.
    """
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        if read_existing(target) == data:
            return False
    except NotRegularError:
        pass  # replaced below (os.replace fails on a directory: the caller reports it)
    except PermissionError:
        pass  # an unreadable file: rewrite it if its folder allows
    mode = _mode_for(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with _signals_held():  # a signal between mkstemp and `try` would leave the file behind
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                with _signals_released():
                    handle.write(data)
                os.fchmod(handle.fileno(), mode)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return True


def _mode_for(target: Path) -> int:
    try:
        info = target.lstat()
    except OSError:
        return 0o666 & ~umask()
    return stat.S_IMODE(info.st_mode) if stat.S_ISREG(info.st_mode) else 0o666 & ~umask()


@cache
def umask() -> int:
    """The process's umask (read once: os.umask can only be read by setting it)."""
    current = os.umask(0o022)
    os.umask(current)
    return current


_HELD = {signal.SIGINT, signal.SIGTERM}


@contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block ends (where the OS lets us: not on Windows)."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


@contextmanager
def _signals_released() -> Iterator[None]:
    """Let signals through while a long write runs: the caller's `except` then removes the file."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_UNBLOCK, _HELD)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
