"""kdbench's own files: the umask's mode, no half-written files, leftovers of killed writes removed,
write failures as one-line errors, output folders checked, corrupt files moved aside."""

from __future__ import annotations

import errno
import logging
import os
import time
from pathlib import Path

import pytest

from kdbench.errors import KdbenchError
from kdbench.fileio import (
    STALE_AFTER_S,
    OutputError,
    atomic_path,
    check_writable,
    move_aside,
    remove,
    write_bytes_atomic,
    write_text_atomic,
)


@pytest.fixture
def umask():
    """``umask(mask)`` for the rest of the test, restored after it."""
    old = os.umask(0o022)
    os.umask(old)
    yield os.umask
    os.umask(old)


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_files_get_the_mode_the_umask_gives(tmp_path, umask, mask, mode) -> None:
    umask(mask)
    write_text_atomic(tmp_path / "a.json", "{}")
    write_bytes_atomic(tmp_path / "deep" / "b.safetensors", b"\0")
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == mode
    assert (tmp_path / "deep" / "b.safetensors").stat().st_mode & 0o777 == mode


def test_a_failed_write_keeps_the_old_file_and_leaves_nothing(tmp_path) -> None:
    path = tmp_path / "result.json"
    write_text_atomic(path, "old")
    with pytest.raises(ValueError), atomic_path(path) as tmp:
        tmp.write_text("half")
        raise ValueError("serialisation failed")
    assert path.read_text() == "old" and sorted(os.listdir(tmp_path)) == ["result.json"]


def test_stale_leftovers_of_killed_writes_go_young_ones_stay(tmp_path) -> None:
    path = tmp_path / "model.safetensors"
    stale, young = tmp_path / ".model.safetensors.0a1b.tmp", tmp_path / ".model.safetensors.2c3d.tmp"
    other = tmp_path / ".teacher.json.4e5f.tmp"
    for leftover in (stale, young, other):
        leftover.write_bytes(b"half")
    old = time.time() - STALE_AFTER_S - 60
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    write_bytes_atomic(path, b"new")
    assert not stale.exists() and young.exists() and other.exists()
    assert path.read_bytes() == b"new"


def test_an_os_error_is_one_line_naming_the_path(tmp_path, monkeypatch) -> None:
    def full(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(OutputError) as caught:
        write_bytes_atomic(tmp_path / "x.pt", b"data")
    assert str(caught.value) == (f"cannot write {tmp_path / 'x.pt'}: [Errno {errno.ENOSPC}] "
                                 f"{os.strerror(errno.ENOSPC)}")
    assert isinstance(caught.value, KdbenchError) and os.listdir(tmp_path) == []


def test_writing_under_a_file_is_an_output_error(tmp_path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputError, match=f"cannot write {tmp_path / 'file' / 'x.json'}: "):
        write_text_atomic(tmp_path / "file" / "x.json", "{}")


def test_check_writable_makes_the_folder_and_leaves_nothing(tmp_path) -> None:
    check_writable(tmp_path / "a" / "b", "the results folder")
    assert (tmp_path / "a" / "b").is_dir() and os.listdir(tmp_path / "a" / "b") == []


@pytest.mark.parametrize("folder", ["file/sub", "file"])
def test_check_writable_refuses_a_file_in_the_way(tmp_path, folder) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputError) as caught:
        check_writable(tmp_path / folder, "the results folder (--results)")
    message = str(caught.value)
    assert message.startswith(f"the results folder (--results) {tmp_path / folder} is not a writable")
    assert "\n" not in message and "[Errno" in message


def test_check_writable_refuses_proc(tmp_path) -> None:
    with pytest.raises(OutputError, match="the cache folder /proc/nope is not a writable folder"):
        check_writable(Path("/proc/nope"), "the cache folder")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_check_writable_refuses_a_read_only_folder(tmp_path) -> None:
    (tmp_path / "ro").mkdir(mode=0o500)
    with pytest.raises(OutputError, match="Permission denied"):
        check_writable(tmp_path / "ro", "the cache folder")


def test_move_aside_renames_and_warns_once(tmp_path, caplog) -> None:
    path = tmp_path / "run.pt"
    path.write_bytes(b"first")
    (tmp_path / "run.pt.corrupt").write_bytes(b"older")
    with caplog.at_level(logging.WARNING, logger="kdbench"):
        target = move_aside(path, "truncated")
    assert target == tmp_path / "run.pt.corrupt" and target.read_bytes() == b"first"
    assert not path.exists()
    (line,) = [record.getMessage() for record in caplog.records]
    assert str(path) in line and "truncated" in line and "run.pt.corrupt" in line


def test_remove_is_quiet_when_absent_and_one_line_when_it_fails(tmp_path) -> None:
    remove(tmp_path / "absent.pt")
    (tmp_path / "folder.pt").mkdir()
    with pytest.raises(OutputError, match=f"cannot remove {tmp_path / 'folder.pt'}: \\[Errno"):
        remove(tmp_path / "folder.pt")
