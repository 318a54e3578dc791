"""The world's event log keeps its file open between records; what it writes stays what it
was: whole lines, in one O_APPEND write each, from any number of writers."""

from __future__ import annotations

import gc
import os
import threading
from pathlib import Path

from mua.stack.events import EventLog


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_writers_sharing_the_file_append_whole_records(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    parent, child = EventLog(path), EventLog(path)  # as the parent and the MSA process
    big = "x" * 20_000  # more than a buffered file's 8 KB: still one record, one line

    def write(log: EventLog, who: str) -> None:
        for n in range(50):
            log.write("leg", who=who, n=n, padding=big)

    threads = [
        threading.Thread(target=write, args=(log, f"{name}{i}"))
        for i in range(2)
        for name, log in (("parent", parent), ("child", child))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    records = EventLog(path).read()
    assert len(records) == 200 and all(r["padding"] == big for r in records)
    assert sorted((r["who"], r["n"]) for r in records) == sorted(
        (f"{name}{i}", n) for i in range(2) for name in ("parent", "child") for n in range(50)
    )


def test_a_closed_log_reopens_and_a_forgotten_one_lets_its_file_go(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    before = _open_fds()
    log = EventLog(path)
    log.write("first")
    assert _open_fds() == before + 1
    log.close()
    log.close()  # twice: nothing to let go
    assert _open_fds() == before
    log.write("second")  # a world started again
    assert [r["event"] for r in EventLog(path).read()] == ["first", "second"]
    del log
    gc.collect()
    assert _open_fds() == before
