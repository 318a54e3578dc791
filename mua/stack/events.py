"""The world's event log: one JSON object per line, for every leg as each end saw it.

Both ends of a leg write their own record (`side` says which), so a test or the demo can
check that the client's and the server's view agree, and the trace can be built from
ground truth rather than from headers.
"""

from __future__ import annotations

import functools
import json
import os
import threading
import time
import weakref
from collections import defaultdict
from collections.abc import Collection
from pathlib import Path
from typing import Any

from mua.core.legs import Leg
from mua.durable import sync_descriptor, sync_file


class EventLog:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()  # the MTA and servers may run on different threads
        # Opened at the first record and kept (several records a message: an open and a
        # close each, every one a system call that lets other threads take the GIL).
        self._fd: int | None = None
        self._closer: weakref.finalize[[int], EventLog] | None = None

    def write(self, event: str, **fields: Any) -> None:
        """Append one record, in one O_APPEND write: it survives the process being killed
        (and the MSA process's records interleave whole); a power cut only after `sync`."""
        record = {"time": time.time(), "event": event, **fields}
        self._append((_encoded(record) + "\n").encode("utf-8"))

    def _append(self, data: bytes) -> None:
        with self._lock:
            if self._fd is None:
                self._fd = os.open(  # the mode open(path, "ab") gives a new file
                    self.path,
                    os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0),
                    0o666,
                )
                self._closer = weakref.finalize(self, os.close, self._fd)
            while data:
                data = data[os.write(self._fd, data) :]

    def close(self) -> None:
        """Let the file go (a later record opens it again)."""
        with self._lock:
            closer, self._fd, self._closer = self._closer, None, None
        if closer is not None:
            closer()

    def sync(self) -> None:
        """Make every record written so far durable (one fsync), for those that must
        survive a power cut as the fact they record does: the MTA's "relayed", which
        stands for the removal of the message from the queue. The file's fsync writes what
        any process appended to it."""
        with self._lock:
            if self._fd is not None:
                sync_descriptor(self._fd)
                return
        sync_file(self.path)

    def relayed(self, queue_ids: Collection[str]) -> dict[str, set[str]]:
        """The recipients each of `queue_ids` was relayed to, by the "relayed" records (a
        last line cut short by a crash is skipped)."""
        found: dict[str, set[str]] = defaultdict(set)
        if not self.path.exists():
            return found
        with self.path.open("rb") as f:
            for line in f:
                if b'"event":"relayed"' not in line:  # most lines: not parsed
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if record.get("queue_id") in queue_ids:
                    found[record["queue_id"]].update(record.get("recipients") or ())
        return found

    def leg(self, leg: Leg, *, side: str, **fields: Any) -> None:
        """Record `leg` as seen from `side` ("client" or "server"): the same line as
        `write("leg", side=side, leg=<kind>, **leg_fields(leg), **fields)`, with the leg's
        own part encoded once per distinct leg. A server writes the same leg for message
        after message (an MSA: one per session); with this the MSA's CPU per message went
        from 1.11 to 0.98 ms in `bench/world_throughput.py`."""
        self.legs([leg], side=side, **fields)

    def legs(self, legs: list[Leg], *, side: str, **fields: Any) -> None:
        """`leg` for each of `legs` with the same `fields`, in one write (the MSA's two for
        every message: submission and handoff)."""
        stamp = time.time()
        tail = "}\n" if not fields else "," + _encoded(fields)[1:] + "\n"
        lines = []
        for leg in legs:
            head = {"time": stamp, "event": "leg", "side": side, "leg": leg.kind.value}
            lines.append(_encoded(head)[:-1] + "," + _encoded_leg(leg) + tail)
        self._append("".join(lines).encode("utf-8"))

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with self.path.open(encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]


def _encoded(record: dict[str, Any]) -> str:
    return _ENCODER.encode(record)


_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str)  # json.dumps makes one a call


@functools.lru_cache(maxsize=256)
def _encoded_leg(leg: Leg) -> str:
    """`leg_fields(leg)` as the members of a JSON object, without its braces."""
    return _encoded(leg_fields(leg))[1:-1]


def leg_fields(leg: Leg) -> dict[str, Any]:
    data = leg.to_record(0)
    data.pop("index")
    data["tls"]["peer_name"] = leg.tls.peer_name
    return data
