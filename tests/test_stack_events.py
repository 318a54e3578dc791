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


def test_a_leg_record_is_the_leg_and_its_fields_each_time(tmp_path: Path) -> None:
    """Legs are encoded once per distinct leg: a second leg that differs only in its TLS,
    and the same leg again with other fields, are each recorded as themselves."""
    from mua.core.legs import Endpoint, Leg, Protocol, Role, Source
    from mua.core.tls_facts import TlsFacts, TlsMode

    log = EventLog(tmp_path / "events.jsonl")
    clear = Leg(
        Endpoint(Role.MUA, "127.0.0.1"),
        Endpoint(Role.MSA, "smtp.a.test"),
        Protocol.SUBMISSION,
        TlsFacts.cleartext(),
        Source.OBSERVED,
        port_role=587,
        note="ünïcode note",
    )
    tls = TlsFacts(True, TlsMode.IMPLICIT, "TLSv1.3", "TLS_AES_256_GCM_SHA384", 256, True)
    encrypted = Leg(clear.from_, clear.to, clear.protocol, tls, clear.source, port_role=465)
    log.leg(clear, side="server", message_id="<1@a.test>", queue_id="Q1")
    log.leg(encrypted, side="server", message_id="<2@a.test>", queue_id="Q2")
    log.leg(clear, side="client")
    first, second, third = log.read()
    for record, leg in ((first, clear), (second, encrypted), (third, clear)):
        assert record["event"] == "leg" and record["leg"] == "submission"
        assert Leg.from_json(record) == leg
    assert (first["queue_id"], second["queue_id"]) == ("Q1", "Q2") and "queue_id" not in third
    assert first["side"] == "server" and third["side"] == "client"
    assert second["tls"]["version"] == "TLSv1.3" and first["tls"]["encrypted"] is False
