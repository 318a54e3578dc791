"""`mua.spool`: a new entry is renamed into place, then it and its directory fsync'ed at once;
it records its length, so an entry a crash cut short (never acknowledged) is set aside in
`corrupt/`, neither delivered by the MTA's queue nor sent from the client's Outbox (#14)."""

from __future__ import annotations

import json
import logging
import os
import stat
from email.message import EmailMessage
from pathlib import Path

import pytest

from mua.spool import Spool
from mua.stack.queue import MailQueue
from mua.stack.world import World
from mua.store.outbox import Outbox
from tests.client_fixtures import make_engine, memory_keyring  # noqa: F401
from tests.conftest import eventually, maildir_messages

POSIX_ONLY = pytest.mark.skipif(os.name == "nt", reason="Windows renames after the fsync")

HEADER = {"sender": "a@a.test", "recipients": ["b@b.test"]}


def test_an_entry_records_its_length_and_reads_back_without_it(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.write("E1", HEADER, b"payload")
    line = (tmp_path / "E1.msg").read_bytes().split(b"\n", 1)[0]
    assert json.loads(line)["payload_bytes"] == 7
    assert spool.header("E1") == HEADER
    assert spool.headers() == [("E1", HEADER)]
    assert spool.payload("E1") == b"payload"


def test_an_entry_from_before_lengths_is_read_as_it_is(tmp_path: Path) -> None:
    (tmp_path / "OLD.msg").write_bytes(json.dumps(HEADER).encode() + b"\npayload")
    spool = Spool(tmp_path)
    assert spool.headers() == [("OLD", HEADER)]
    assert spool.payload("OLD") == b"payload"
    assert not (tmp_path / "corrupt").exists()


@POSIX_ONLY
def test_a_new_entry_is_renamed_then_fsynced_and_a_rewrite_fsynced_then_renamed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`write`: both fsyncs in flight at once, after the rename; `rewrite`
    of an entry already acknowledged keeps "old or new" after a crash: fsync first."""
    spool = Spool(tmp_path)
    steps = _record_steps(monkeypatch)
    spool.write("E1", HEADER, b"first")
    assert steps[0] == "rename"  # then both fsyncs at once, in either order
    assert sorted(steps[1:]) == ["fsync directory", "fsync file"]
    steps.clear()
    spool.rewrite("E1", {**HEADER, "attempts": 1}, b"first")
    assert steps == ["fsync file", "rename", "fsync directory"]
    assert spool.header("E1") == {**HEADER, "attempts": 1}
    assert list((tmp_path / "tmp").iterdir()) == []


@POSIX_ONLY
@pytest.mark.parametrize("reuse_files", [False, True])
def test_remove_fsyncs_the_directory_unless_told_not_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reuse_files: bool
) -> None:
    spool = Spool(tmp_path, reuse_files=reuse_files)
    for entry_id in ("A", "B"):
        spool.write(entry_id, HEADER, b"payload")
    steps = _record_steps(monkeypatch)
    spool.remove("A")
    spool.remove("B", sync=False)
    spool.remove("GONE")  # already gone: not an error
    assert steps == ["fsync directory", "fsync directory"]
    assert spool.ids() == set()


def test_short_entries_are_set_aside_by_the_queue_and_the_outbox(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """What a crash before the write returned can leave under the final name: nothing, part
    of the header line, or the header and part of the payload."""
    for name, kind in (("queue", MailQueue), ("outbox", Outbox)):
        directory = tmp_path / name
        short = _write_short_entries(directory)
        store = kind(directory)
        with caplog.at_level(logging.ERROR, logger="mua.spool"):
            assert store.entries() == []
        assert sorted(p.name for p in (directory / "corrupt").iterdir()) == sorted(short)
        assert len(store) == 0
        for file in short:
            assert f"{directory / file}" in caplog.text
        caplog.clear()
    assert Outbox(tmp_path / "outbox").due() == []


async def test_a_short_queue_entry_is_not_delivered(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    provider = world.providers["a.test"]
    assert provider.mta is not None
    short = _write_short_entries(provider.queue.directory)
    with caplog.at_level(logging.ERROR):
        provider.queue.enqueue("alice@a.test", ["bob@b.test"], _message("Whole"))
        provider.mta.wake()
        await eventually(lambda: maildir_messages(world, "bob@b.test"), what="the delivery")
        await eventually(lambda: len(provider.queue) == 0, what="the queue to drain")
    (delivered,) = maildir_messages(world, "bob@b.test")
    assert b"Subject: Whole" in delivered
    corrupt = provider.queue.directory / "corrupt"
    assert sorted(p.name for p in corrupt.iterdir()) == sorted(short)
    assert "never acknowledged" in caplog.text


@pytest.mark.usefixtures("memory_keyring")
async def test_a_short_outbox_entry_is_not_sent(world: World, tmp_path: Path) -> None:
    short = _write_short_entries(tmp_path / "outbox")
    engine = make_engine(world, tmp_path, "alice@a.test")
    try:
        engine.outbox.add("alice@a.test", _message("Whole"), message_id="<whole@a.test>")
        outcomes = await engine.sender.send_due()
        assert [o.sent for o in outcomes] == [True]
        assert len(engine.outbox) == 0
    finally:
        await engine.aclose()
    await eventually(lambda: maildir_messages(world, "bob@b.test"), what="the delivery")
    (delivered,) = maildir_messages(world, "bob@b.test")
    assert b"Subject: Whole" in delivered
    assert sorted(p.name for p in (tmp_path / "outbox" / "corrupt").iterdir()) == sorted(short)


def _write_short_entries(directory: Path) -> list[str]:
    """Entry files as a crash can leave them, written by hand; their names."""
    directory.mkdir(parents=True, exist_ok=True)
    header = {"id": "X", "sender": "alice@a.test", "recipients": ["bob@b.test"]}
    line = json.dumps({**header, "payload_bytes": 500}).encode() + b"\n"
    files = {
        "EMPTY.msg": b"",
        "CUT-HEADER.msg": line[:20],
        "CUT-PAYLOAD.msg": line + _message("Cut")[:100],
    }
    for name, data in files.items():
        (directory / name).write_bytes(data)
    return list(files)


def _message(subject: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "alice@a.test"
    msg["To"] = "bob@b.test"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{subject.lower()}@a.test>"
    msg.set_content("x" * 600)
    return msg.as_bytes()


def _record_steps(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    steps: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        kind = "directory" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"
        steps.append(f"fsync {kind}")
        real_fsync(fd)

    def replace(source, dest) -> None:
        steps.append("rename")
        real_replace(source, dest)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    return steps
