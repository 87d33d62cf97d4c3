"""Spec files on disk: how they are named in messages, where `extends` may read, how they are read.

Everything here is about paths, never about contents: a spec from an untrusted pull request may
name any path (`extends: /etc/shadow`, a symlink loop, a FIFO), and each such path must become a
diagnostic that quotes nothing from the file.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

SPEC_SUFFIXES = (".yaml", ".yml", ".json")

# The folder `resgen build` writes to by default; generated docstrings name their spec as a path
# relative to the folder that holds the output folder.
DEFAULT_OUT_DIR = "generated"


class UnreadablePathError(Exception):
    """A spec path that cannot be read as a spec, and why (a phrase: "it is a directory")."""

    def __init__(self, reason: str, *, missing: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.missing = missing


def printable(text: str) -> str:
    """A file name as text: bytes that are not UTF-8 (surrogate escapes) become `\\xNN`."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(text).decode("utf-8", "backslashreplace")
    return text


def display_name(path: Path) -> str:
    """Name a file for messages: relative to the current folder when under it, else as given."""
    absolute = os.path.abspath(path)
    cwd = os.getcwd()
    try:
        inside = os.path.commonpath([absolute, cwd]) == cwd
    except ValueError:  # another drive on Windows
        inside = False
    shown = os.path.relpath(absolute, cwd) if inside else os.path.normpath(path)
    return printable(Path(shown).as_posix())


def real_path(path: Path) -> Path:
    """The path with every symlink resolved (a loop is left as it is, for `stat` to report)."""
    return Path(os.path.realpath(path))


def is_within(path: Path, roots: Iterable[Path]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


def default_roots(spec: Path | None) -> tuple[Path, ...]:
    """Where a spec's `extends` may read: the current folder if it holds the spec, else its folder.

    A spec with no file (a mapping given to the API) has the current folder.
    """
    cwd = real_path(Path.cwd())
    if spec is None:
        return (cwd,)
    folder = real_path(spec.parent)
    return (cwd,) if is_within(folder, (cwd,)) else (folder,)


def describe_mode(mode: int) -> str:
    """What a non-regular file is, as a phrase."""
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    )
    return next((what for test, what in kinds if test(mode)), "not a regular file")


def os_reason(exc: OSError) -> str:
    """An OSError as a phrase, without the path (the caller names the path its own way)."""
    import errno

    if exc.errno == errno.ELOOP:
        return "it is a symlink loop"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return "it does not exist"
    return (exc.strerror or type(exc).__name__).lower()


def check_file(path: Path) -> os.stat_result:
    """`stat` a spec path: a regular file's status, or `UnreadablePathError` saying why not."""
    try:
        status = os.stat(path)
    except OSError as exc:
        import errno

        missing = exc.errno in (errno.ENOENT, errno.ENOTDIR)
        raise UnreadablePathError(os_reason(exc), missing=missing) from None
    except ValueError:  # a NUL byte in the name
        raise UnreadablePathError("its name contains a NUL byte", missing=True) from None
    if not stat.S_ISREG(status.st_mode):
        raise UnreadablePathError(f"it is {describe_mode(status.st_mode)}")
    return status


def check_base(candidate: Path, roots: tuple[Path, ...]) -> Path:
    """The real path of an `extends` base, or `UnreadablePathError` if `extends` may not read it.

    Checked in an order that reveals nothing about files outside the roots: the suffix and the
    root come first, from the path alone; only then is the file itself looked at.
    """
    if candidate.suffix.lower() not in SPEC_SUFFIXES:
        raise UnreadablePathError("only .yaml, .yml and .json files can be bases")
    real = real_path(candidate)
    if not is_within(real, roots):
        where = " or ".join(display_name(root) for root in roots)
        leaves = "a symlink in it leads" if is_within(_lexical(candidate), roots) else "it is"
        raise UnreadablePathError(f"{leaves} outside the folder `extends` may read ({where})")
    if real.suffix.lower() not in SPEC_SUFFIXES:
        raise UnreadablePathError("it is a symlink to a file that is not .yaml, .yml or .json")
    check_file(real)
    return real


def _lexical(path: Path) -> Path:
    """The absolute path without resolving symlinks, `..` folded."""
    return Path(os.path.normpath(os.path.join(real_path(Path.cwd()), path)))


def read_limited(path: Path, limit: int) -> bytes:
    """Read at most `limit` bytes of a regular file, never blocking on a FIFO or a device.

    The file is checked again once open, so a swap between the check and the open is caught.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise UnreadablePathError(os_reason(exc)) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise UnreadablePathError(f"it is {describe_mode(mode)}")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read(limit)
    except OSError as exc:
        raise UnreadablePathError(os_reason(exc)) from None
    finally:
        os.close(fd)


def reference_from(spec: Path, out_dir: Path) -> str:
    """How a generated file names its spec: relative to the folder holding the output folder.

    It depends only on where the spec sits relative to the output, never on the current folder,
    so `resgen build specs -o generated` writes the same bytes from any folder (and, in the usual
    layout, `generated/x.py` says `specs/x.yaml`).
    """
    spec_real = real_path(spec.parent) / spec.name
    project = real_path(out_dir).parent
    try:
        shown = os.path.relpath(spec_real, project)
    except ValueError:  # another drive on Windows
        shown = spec.name
    return printable(Path(shown).as_posix())
