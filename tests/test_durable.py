"""`mua.durable`: the one place files are written durably (issue #15). A failed write leaves
no temporary file; the directory of a renamed file is fsync'ed; Windows, which cannot open a
directory, is spared the attempt; and no module of mua fsyncs on its own any more."""

from __future__ import annotations

import ast
import datetime as dt
import errno
import os
import stat
import threading
import time
from pathlib import Path

import pytest

from mua import durable
from mua.stack.tlsrpt import ReportOutcome, TlsReportLog, TlsSession, day_start
from mua.stack.tlsrpt_daily import DailyTlsReports

PACKAGE = Path(__file__).resolve().parents[1] / "mua"
POSIX_ONLY = pytest.mark.skipif(os.name == "nt", reason="Windows cannot fsync a directory")


def test_write_atomic_replaces_the_file_and_leaves_nothing_else(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    target.write_bytes(b"old")
    durable.write_atomic(target, b"new\n")
    assert target.read_bytes() == b"new\n"  # no "\r\n" on Windows either: binary
    assert list(tmp_path.iterdir()) == [target]


def test_write_atomic_keeps_its_temporary_file_in_tmp_dir(tmp_path: Path) -> None:
    (tmp_path / "tmp").mkdir()
    (tmp_path / "new").mkdir()
    target = tmp_path / "new" / "1.M1P1Q1.host"
    seen = []
    real_replace = os.replace

    def spy(source, dest):
        seen.append(Path(source).parent)
        real_replace(source, dest)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "replace", spy)
        durable.write_atomic(target, b"message", tmp_dir=tmp_path / "tmp", mtime=1e9)
    assert seen == [tmp_path / "tmp"]  # Maildir: written in tmp/, then moved to new/
    assert target.read_bytes() == b"message"
    assert target.stat().st_mtime == 1e9
    assert list((tmp_path / "tmp").iterdir()) == []


@pytest.mark.parametrize("tmp_dir", [None, "tmp"])
def test_a_write_that_fails_midway_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_dir: str | None
) -> None:
    """A full disk (ENOSPC at fsync): the old file stays, no temporary file is left."""
    (tmp_path / "tmp").mkdir()
    target = tmp_path / "state.json"
    target.write_bytes(b"old")

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with monkeypatch.context() as patch:
        patch.setattr(os, "fsync", no_space)
        with pytest.raises(OSError, match="No space"):
            durable.write_atomic(target, b"new", tmp_dir=tmp_path / tmp_dir if tmp_dir else None)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["state.json", "tmp"]


def test_a_failed_rename_leaves_no_temporary_file(tmp_path: Path) -> None:
    """The target cannot be replaced (it is a non-empty directory): the data written so far
    is removed, not left beside it."""
    target = tmp_path / "taken"
    (target / "inside").mkdir(parents=True)
    with pytest.raises(OSError):
        durable.write_atomic(target, b"data")
    assert [p.name for p in tmp_path.iterdir()] == ["taken"]


@pytest.mark.parametrize("failing", ["file", "directory"])
def test_a_renamed_write_whose_fsync_fails_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    """`write_renamed_then_synced` renames before it fsyncs: when an fsync then fails (a full
    disk), the file already under its final name goes too: its writer acknowledged nothing,
    and a spool entry left there would be delivered all the same."""
    (tmp_path / "tmp").mkdir()
    real_fsync = os.fsync

    def no_space(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode) == (failing == "directory"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    with monkeypatch.context() as patch:
        patch.setattr(os, "fsync", no_space)
        with pytest.raises(OSError, match="No space"):
            durable.write_renamed_then_synced(tmp_path / "E1", b"data", tmp_dir=tmp_path / "tmp")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["tmp"]


def test_write_new_refuses_an_existing_file_and_keeps_it(tmp_path: Path) -> None:
    path = tmp_path / "id"
    path.write_bytes(b"mine")
    with pytest.raises(FileExistsError):
        durable.write_new(path, b"theirs")
    assert path.read_bytes() == b"mine"


@POSIX_ONLY
def test_a_private_file_is_created_for_its_owner_only(tmp_path: Path) -> None:
    durable.write_atomic(tmp_path / "secret", b"x", mode=0o600)
    assert stat.S_IMODE((tmp_path / "secret").stat().st_mode) == 0o600


@POSIX_ONLY
def test_write_atomic_fsyncs_the_file_and_then_its_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced = _record_fsyncs(monkeypatch, tmp_path)
    durable.write_atomic(tmp_path / "f", b"data")
    assert synced == ["file", tmp_path]


def test_append_adds_bytes_and_fsyncs_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced = _record_fsyncs(monkeypatch, tmp_path)
    durable.append(tmp_path / "log", b"one\n", sync=False)
    durable.append(tmp_path / "log", b"two\n")
    assert (tmp_path / "log").read_bytes() == b"one\ntwo\n"
    assert synced == ["file"]


@POSIX_ONLY
def test_threads_syncing_one_directory_at_once_share_its_fsyncs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A group commit: 12 threads, each returns after an fsync that began after its call
    (one begun before may not cover its change), and far fewer than 12 fsyncs are made."""
    real_fsync = os.fsync
    fsyncs: list[tuple[float, float]] = []  # (began, ended)

    def slow(fd: int) -> None:
        began = time.monotonic()
        time.sleep(0.05)
        real_fsync(fd)
        fsyncs.append((began, time.monotonic()))

    monkeypatch.setattr(os, "fsync", slow)
    calls: list[tuple[float, float]] = []

    def caller() -> None:
        called = time.monotonic()
        durable.fsync_dir(tmp_path)
        calls.append((called, time.monotonic()))

    threads = [threading.Thread(target=caller) for _ in range(12)]
    for thread in threads:
        thread.start()
        time.sleep(0.005)
    for thread in threads:
        thread.join()
    assert len(calls) == 12
    assert len(fsyncs) <= 4
    for called, returned in calls:
        assert any(called <= began and ended <= returned for began, ended in fsyncs)


def test_on_windows_no_directory_is_opened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Windows cannot open a directory (PermissionError): every write still succeeds, and
    no directory open is even tried."""
    opened_dirs = []
    real_open = os.open

    def windows_open(path, flags, *args, **kwargs):
        if os.path.isdir(path):
            opened_dirs.append(path)
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    with monkeypatch.context() as windows:  # undone before pytest reports anything
        windows.setattr(os, "name", "nt")
        windows.setattr(os, "open", windows_open)
        durable.write_atomic(tmp_path / "f", b"data")
        durable.fsync_dir(tmp_path, tmp_path)
    assert opened_dirs == []
    assert (tmp_path / "f").read_bytes() == b"data"


@POSIX_ONLY
async def test_the_tls_report_state_file_survives_a_power_loss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The copy that never fsync'ed the directory (issue #15): the daily reports' record of
    what was sent was renamed into place, and the rename could be lost with the power, so
    a report could go twice. Its directory is fsync'ed now."""
    day = dt.date(2025, 3, 1)
    sessions = TlsReportLog(tmp_path / "sessions.jsonl")
    session = TlsSession("no-policy-found", (), "mx.b.test", "127.0.0.1")
    sessions.record("b.test", session, when=day_start(day) + 60)

    async def sent(_domain: str, _day: dt.date, _only: object) -> ReportOutcome:
        return ReportOutcome(sent=["mailto:tlsrpt@b.test"])

    state = tmp_path / "state" / "sent.json"
    reporter = DailyTlsReports(sent, sessions, state)
    synced = _record_fsyncs(monkeypatch, tmp_path)
    await reporter.send_day(day)
    assert reporter.sent() == {day.isoformat(): {"b.test": ["mailto:tlsrpt@b.test"]}}
    assert state.parent in synced, synced
    assert sorted(p.name for p in state.parent.iterdir()) == ["sent.json"]


def test_no_module_fsyncs_on_its_own() -> None:
    """Every fsync in mua goes through `mua.durable`: no copies of the dance to drift apart
    (one lacked the Windows guard, one never fsync'ed the directory)."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "durable.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("fsync", "fdatasync"):
                found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert not found, f"fsync outside mua/durable.py: {found}"


def _record_fsyncs(monkeypatch: pytest.MonkeyPatch, root: Path) -> list[object]:
    """Patch os.fsync to note what each call synced: "file", or the path of a directory
    (`root` or one under it)."""
    synced: list[object] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        info = os.fstat(fd)
        if not stat.S_ISDIR(info.st_mode):
            synced.append("file")
        else:
            same = [d for d in [root, *root.rglob("*")] if os.path.samestat(d.stat(), info)]
            synced.append(same[0] if same else "another directory")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    return synced
