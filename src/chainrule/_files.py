"""Files in and out, safely: one place for what every reader and writer of chainrule needs.

* :func:`as_path`: a path argument checked at the edge (a string or ``os.PathLike``, no NUL byte).
* :func:`open_regular`: open a file for reading only if it is a regular file. A device
  (``/dev/zero``, ``/dev/urandom``), a FIFO, a socket or a folder is refused at once: it is opened
  without blocking and checked with ``fstat`` on the open descriptor, so there is no window between
  the check and the read, and a FIFO with no writer cannot hang the process.
* :func:`atomic_write`: write to a temporary file beside the target, flush it to disk, then rename
  it over the target, so a crash or ``kill -9`` never leaves a half-written file. A file written
  over keeps its permissions; a new one gets those any new file gets (``0o666`` less the umask),
  not the temporary's 0600. Temporary files left behind by an earlier save of the same target that
  was killed are removed by the next save. Errors name the target, never the temporary file.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from .errors import ChainruleError, shown

__all__ = ["STALE_SECONDS", "as_path", "atomic_write", "naming", "open_regular"]

_TMP_SUFFIX = ".tmp"


def as_path(name: str, path: Any) -> Path:
    """``path`` as a :class:`~pathlib.Path`; a clear error for ``None``, numbers, NUL bytes."""
    if isinstance(path, bytes):
        try:
            path = os.fsdecode(path)
        except UnicodeDecodeError:
            raise ChainruleError(f"{name} must be a file path; got undecodable bytes {shown(path)}") from None
    if not isinstance(path, (str, os.PathLike)):
        raise ChainruleError(
            f"{name} must be a file path (str or os.PathLike); got {shown(path)} ({type(path).__name__})"
        )
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if "\x00" in text:
        raise ChainruleError(f"{name} must be a file path without NUL bytes; got {shown(text)}")
    if not text:
        raise ChainruleError(f"{name} must be a file path; got an empty string")
    return Path(text)


def _kind(mode: int) -> str:
    for test, what in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return what
    return "not a regular file"


def _not_regular(path: Path, mode: int, what: str) -> ChainruleError:
    return ChainruleError(f"{path} is {_kind(mode)}, not a regular file; a {what} must be a regular file")


@contextlib.contextmanager
def open_regular(path: Path, what: str = "file") -> Iterator[IO[bytes]]:
    """Open ``path`` for binary reading if it is a regular file, else raise at once.

    ``what`` names the file in messages ("model file", "data file"). A missing file raises
    :class:`FileNotFoundError` naming the path; anything that is not a regular file raises
    :class:`~chainrule.errors.ChainruleError`.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise FileNotFoundError(2, f"no {what} at this path", str(path)) from None
    except IsADirectoryError:
        raise ChainruleError(f"{path} is a folder, not a regular file; a {what} must be a regular file") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _not_regular(path, st.st_mode, what)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        fh = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with fh:
        yield fh


def _umask() -> int:
    """The process's umask, read without changing it where the system allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: read it by setting it (briefly) and putting it back
    os.umask(mask)
    return mask


def _sync_folder(folder: Path) -> None:
    """Flush the folder's entry for the renamed file to disk, where the system allows (POSIX)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


#: a temporary left by a killed save is removed once it is this old (a live save keeps writing to its
#: file, so its time of last change stays recent; this also spares a save by a process this one
#: cannot see, in another container or on another host of a shared folder)
STALE_SECONDS = 10.0


def _remove_stale(folder: Path, name: str) -> None:
    """Remove the temporaries of earlier saves of ``name`` that were killed.

    Only names this module makes are touched: ``.NAME.PID.XXXXXXXX.tmp`` whose process ``PID``
    has ended, and ``.NAME.XXXXXXXX.tmp`` of earlier chainrule versions (no PID), in both cases
    unchanged for :data:`STALE_SECONDS`. Any other file, a user's ``.NAME.notes.tmp`` say, stays.
    """
    pattern = re.compile(re.escape(f".{name}.") + r"(?:(\d+)\.)?[a-z0-9_]{8}" + re.escape(_TMP_SUFFIX))
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    now = time.time()
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None or (match.group(1) is not None and _pid_alive(int(match.group(1)))):
            continue
        with contextlib.suppress(OSError):
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(st.st_mode) and now - st.st_mtime >= STALE_SECONDS:
                os.unlink(entry.path)


def naming(exc: OSError, path: Path, text: str | None = None) -> OSError:
    """``exc`` again, naming ``path`` (the target, never a temporary file)."""
    return type(exc)(exc.errno, text or exc.strerror or str(exc), str(path))


def atomic_write(path: Any, write: Callable[[IO[bytes]], None], *, name: str = "path") -> Path:
    """Write ``path`` atomically with ``write(fh)`` (a binary file object); returns the path.

    ``name`` is the parameter named when ``path`` itself is bad.
    """
    path = as_path(name, path)
    target = Path(os.path.realpath(path)) if path.is_symlink() else path  # a link keeps pointing at the new file
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise naming(exc, path) from None
    if mode is not None and stat.S_ISDIR(mode):
        raise IsADirectoryError(21, "is a folder; give a file name to write", str(path))
    if mode is not None and not stat.S_ISREG(mode):
        raise ChainruleError(f"{path} is {_kind(mode)}; chainrule writes only regular files, never over a device")
    folder = target.parent if str(target.parent) else Path(".")
    _remove_stale(folder, target.name)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=_TMP_SUFFIX, dir=folder)
    except OSError as exc:
        raise naming(exc, path, f"cannot write here: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        # a file written over keeps its permissions; a new one gets what any new file gets
        os.chmod(tmp, stat.S_IMODE(mode) if mode is not None else 0o666 & ~_umask())
        os.replace(tmp, target)
        _sync_folder(folder)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise naming(exc, path) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
