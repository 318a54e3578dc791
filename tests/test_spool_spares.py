"""`mua.spool_spares`: the MTA's queue writes a new entry into the file of one it removed (no
inode created, none freed), and a file reused that way is never taken for the entry it held
before: not after a crash, not by a reader that opened it as it was reused."""

from __future__ import annotations

import concurrent.futures
import logging
import os
import threading
from pathlib import Path

import pytest

from mua import durable, spool_spares
from mua.spool import Spool
from mua.stack.queue import MailQueue
from mua.store.outbox import Outbox

pytestmark = pytest.mark.skipif(os.name == "nt", reason="Windows deletes removed entries")

MESSAGE = b"From: alice@a.test\r\nSubject: spare\r\n\r\n" + b"x" * 600 + b"\r\n"


def _spares(queue: MailQueue) -> list[str]:
    return sorted(p.name for p in (queue.directory / "tmp").iterdir())


def test_a_new_entry_is_written_into_the_file_of_one_delivered(tmp_path: Path) -> None:
    queue = MailQueue(tmp_path)
    first = queue.enqueue("alice@a.test", ["bob@b.test"], MESSAGE * 3)
    inode = (tmp_path / f"{first.id}.msg").stat().st_ino
    queue.remove(first)
    (spare,) = _spares(queue)
    assert spare.startswith(spool_spares.PREFIX)
    second = queue.enqueue("alice@a.test", ["carol@b.test"], MESSAGE, message_id="<2@a.test>")
    assert (tmp_path / f"{second.id}.msg").stat().st_ino == inode
    assert _spares(queue) == []
    (entry,) = queue.entries()
    assert (entry.id, entry.recipients, entry.message_id) == (
        second.id,
        ["carol@b.test"],
        "<2@a.test>",
    )
    assert queue.message(entry) == MESSAGE  # the longer entry before it cut away


def test_the_outbox_deletes_what_it_removes(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path)
    entry = outbox.add("alice@a.test", MESSAGE, message_id="<1@a.test>")
    outbox.remove(entry)
    assert list((tmp_path / "tmp").iterdir()) == []


def test_spares_are_few_and_small(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spool_spares, "MOST", 3)
    monkeypatch.setattr(spool_spares, "LARGEST", 2 * len(MESSAGE))
    queue = MailQueue(tmp_path)
    large = queue.enqueue("alice@a.test", ["bob@b.test"], MESSAGE * 3)
    queue.remove(large)
    assert _spares(queue) == []
    entries = [queue.enqueue("alice@a.test", ["bob@b.test"], MESSAGE) for _ in range(5)]
    for entry in entries:
        queue.remove(entry)
    assert len(_spares(queue)) == 3
    assert len(queue) == 0


def test_a_reused_file_a_crash_left_holding_its_old_entry_is_set_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A crash after the rename, before the new bytes reached the disk, can leave the new
    entry's name on the old entry's bytes: a message delivered already, never to be again."""
    queue = MailQueue(tmp_path)
    delivered = queue.enqueue("alice@a.test", ["bob@b.test"], MESSAGE)
    queue.remove(delivered)
    (spare,) = _spares(queue)
    os.replace(tmp_path / "tmp" / spare, tmp_path / "NEW.msg")
    with caplog.at_level(logging.ERROR, logger="mua.spool"):
        assert queue.entries() == []
    assert [p.name for p in (tmp_path / "corrupt").iterdir()] == ["NEW.msg"]
    assert f"entry {delivered.id}'s bytes" in caplog.text


def test_an_entry_read_as_its_file_is_reused_is_gone_without_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The MTA lists its queue in a worker thread: an entry delivered meanwhile may have its
    file opened by that reader just before it becomes a spare and holds a new entry."""
    writer, reader = MailQueue(tmp_path), MailQueue(tmp_path)  # as two processes
    old = writer.enqueue("alice@a.test", ["bob@b.test"], MESSAGE)
    real_open = Path.open

    def open_then_reuse(path: Path, *args, **kwargs):  # type: ignore[no-untyped-def]
        file = real_open(path, *args, **kwargs)
        if path.name == f"{old.id}.msg":
            monkeypatch.setattr(Path, "open", real_open)
            writer.remove(old)
            writer.enqueue("alice@a.test", ["carol@b.test"], MESSAGE + b"new\r\n")
        return file

    with caplog.at_level(logging.ERROR, logger="mua.spool"):
        monkeypatch.setattr(Path, "open", open_then_reuse)
        assert reader.entry(old.id) is None
        monkeypatch.setattr(Path, "open", open_then_reuse)
        with pytest.raises(FileNotFoundError):
            reader.message(old)
    assert caplog.text == ""
    assert not (tmp_path / "corrupt").exists()
    (new,) = reader.entries()
    assert new.recipients == ["carol@b.test"]


def test_writers_of_two_processes_never_share_a_spare(tmp_path: Path) -> None:
    """The MSA's process writes the queue whose entries the delivering process removes."""
    queues = [MailQueue(tmp_path), MailQueue(tmp_path)]
    for entry in [queues[1].enqueue("a@a.test", ["b@b.test"], MESSAGE) for _ in range(40)]:
        queues[1].remove(entry, sync=False)
    start = threading.Barrier(8)

    def write(n: int) -> list[tuple[str, bytes]]:
        start.wait()
        queue = queues[n % 2]
        written = []
        for i in range(10):
            payload = MESSAGE + f"{n}-{i}\r\n".encode()
            written.append((queue.enqueue("a@a.test", ["b@b.test"], payload).id, payload))
        return written

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        written = [pair for batch in pool.map(write, range(8)) for pair in batch]
    reader = MailQueue(tmp_path)
    entries = {entry.id: entry for entry in reader.entries()}
    assert len(entries) == 80
    for entry_id, payload in written:
        assert reader.message(entries[entry_id]) == payload
    inodes = {(tmp_path / f"{entry_id}.msg").stat().st_ino for entry_id, _ in written}
    assert len(inodes) == 80
    assert _spares(reader) == []  # the 40 spares all taken, each by one writer


def test_a_spare_written_into_is_cut_to_the_new_length(tmp_path: Path) -> None:
    (tmp_path / "tmp").mkdir()
    spare = tmp_path / "tmp" / "spare"
    spare.write_bytes(b"old " * 100)
    durable.write_renamed_then_synced(
        tmp_path / "entry", b"new", tmp_dir=tmp_path / "tmp", into=spare
    )
    assert (tmp_path / "entry").read_bytes() == b"new"
    assert not spare.exists()


def test_a_spare_removed_by_a_spool_opened_meanwhile_is_not_needed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opening a spool empties its tmp/ (what a crash left there): a writer of another
    process that listed a spare, or took one, just before writes a new file instead."""
    queue = MailQueue(tmp_path)
    for entry in [queue.enqueue("a@a.test", ["b@b.test"], MESSAGE) for _ in range(2)]:
        queue.remove(entry)
    queue.enqueue("a@a.test", ["b@b.test"], MESSAGE)  # lists both spares, takes one
    Spool(tmp_path)  # another process's: the other spare is deleted
    assert _spares(queue) == []
    listed = queue.enqueue("a@a.test", ["b@b.test"], MESSAGE + b"listed\r\n")
    assert queue.message(listed) == MESSAGE + b"listed\r\n"
    monkeypatch.setattr(spool_spares.Spares, "take", lambda self, name: tmp_path / "tmp" / name)
    taken = queue.enqueue("a@a.test", ["b@b.test"], MESSAGE + b"taken\r\n")
    assert queue.message(taken) == MESSAGE + b"taken\r\n"
    assert len(queue) == 3


def test_an_entry_is_removed_when_tmp_cannot_hold_a_spare(tmp_path: Path) -> None:
    queue = MailQueue(tmp_path)
    entry = queue.enqueue("a@a.test", ["b@b.test"], MESSAGE)
    (tmp_path / "tmp").rmdir()
    queue.remove(entry)
    assert len(queue) == 0
