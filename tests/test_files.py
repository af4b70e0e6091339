"""The shared file mechanisms: regular files only, atomic writes, umask permissions, stale temporaries."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chainrule._files import as_path, atomic_write, open_regular
from chainrule.errors import ChainruleError, shown


@pytest.mark.parametrize("special", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_devices_are_refused_at_once(special):
    if not os.path.exists(special):
        pytest.skip(f"{special} does not exist on this system")
    with pytest.raises(ChainruleError, match="character device, not a regular file"):
        with open_regular(Path(special), "model file"):
            pass


def test_fifo_without_writer_is_refused_not_hung(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ChainruleError, match="FIFO"):
        with open_regular(fifo, "data file"):
            pass


def test_folder_and_missing_file(tmp_path):
    with pytest.raises(ChainruleError, match="folder"):
        with open_regular(tmp_path, "data file"):
            pass
    with pytest.raises(FileNotFoundError) as info:
        with open_regular(tmp_path / "nope.npz", "model file"):
            pass
    assert info.value.filename == str(tmp_path / "nope.npz")


@pytest.mark.parametrize("bad", [None, 5, "a\x00b", ""])
def test_bad_paths_name_the_parameter(bad):
    with pytest.raises(ChainruleError, match="^model_path must be a file path"):
        as_path("model_path", bad)


def test_atomic_write_uses_umask_permissions(tmp_path):
    old = os.umask(0o027)
    try:
        path = atomic_write(tmp_path / "m.bin", lambda fh: fh.write(b"abc"))
    finally:
        os.umask(old)
    assert path.read_bytes() == b"abc"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "m.bin"
    target.write_bytes(b"old")

    def broken(fh):
        fh.write(b"half")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        atomic_write(target, broken)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.bin"]


def test_stale_temporaries_of_killed_saves_are_removed(tmp_path):
    # a process that has ended (its pid is free) left a temporary behind, as kill -9 during a save does
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    stale = tmp_path / f".m.bin.{pid}.abc12345.tmp"
    stale.write_bytes(b"x" * 1000)
    other = tmp_path / f".other.bin.{pid}.abc12345.tmp"  # another target's temporary is not ours to remove
    other.write_bytes(b"x")
    old = time.time() - 60  # as a killed save leaves them: unchanged for a while
    for p in (stale, other):
        os.utime(p, (old, old))
    atomic_write(tmp_path / "m.bin", lambda fh: fh.write(b"new"))
    assert not stale.exists()
    assert other.exists()
    assert (tmp_path / "m.bin").read_bytes() == b"new"


def test_write_errors_name_the_target_not_the_temporary(tmp_path):
    target = tmp_path / "missing-folder" / "m.bin"
    with pytest.raises(FileNotFoundError) as info:
        atomic_write(target, lambda fh: fh.write(b"x"))
    assert info.value.filename == str(target)
    assert ".tmp" not in str(info.value)


def test_shown_keeps_messages_short():
    assert len(shown("x" * 2_000_000)) < 130
    assert len(shown(10**5000)) < 130
    assert len(shown([[list(range(10_000))] * 100] * 100)) < 130


def test_never_writes_over_a_device_or_fifo(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ChainruleError, match="FIFO"):
        atomic_write(fifo, lambda fh: fh.write(b"x"))
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # still the FIFO
    link = tmp_path / "null-link"
    link.symlink_to("/dev/null")
    with pytest.raises(ChainruleError, match="character device"):
        atomic_write(link, lambda fh: fh.write(b"x"))
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_symlink_keeps_pointing_at_the_new_file(tmp_path):
    real = tmp_path / "models" / "m.bin"
    real.parent.mkdir()
    real.write_bytes(b"old")
    link = tmp_path / "current.bin"
    link.symlink_to(real)
    atomic_write(link, lambda fh: fh.write(b"new"))
    assert link.is_symlink() and real.read_bytes() == b"new"
