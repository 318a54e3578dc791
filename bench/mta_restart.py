"""A restart with a full queue: how long the MTA takes to drain it (issue #14 fault 1).

Queues --messages messages (alice@a.test -> bob@b.test) in a.test's queue while the world is
stopped, as a crash leaves them, then starts the world with its production timers (retries
after 60 s, 300 s, ...) and measures until the queue is empty and Bob's Maildir holds every
message. Printed: the drain time and rate, deferrals (and how many said a DNS lookup timed
out), relay sessions in all, the most open at once, the window between each MX's 250 and the
queue's record of it (p50/p99/max, from the event log's "relayed" records), and peak RSS.
--limit stops waiting after that many seconds and says how many are left.

    .venv/bin/python bench/mta_restart.py [--messages 2500] [--limit 120]

The baseline is the same script against the code before the change:
`git archive <commit> mua | tar -x -C /tmp/old && PYTHONPATH=/tmp/old python bench/...`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import resource
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

import mua
from mua.stack.relay import RelayClient
from mua.stack.world import World


def message(n: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = "alice@a.test"
    msg["To"] = "bob@b.test"
    msg["Subject"] = f"Restart {n}"
    msg["Message-ID"] = f"<restart-{n}@a.test>"
    msg.set_content(f"Message {n} of the restart bench.\n" * 20)
    return msg.as_bytes()


class Counter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.dns_timeouts = 0
        self.errors = 0

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if "no answer within" in text:
            self.dns_timeouts += 1
        if record.levelno >= logging.WARNING:
            self.errors += 1


def count_sessions() -> dict[str, int]:
    count = {"open": 0, "peak": 0, "total": 0}
    original = RelayClient._session

    async def counted(self: RelayClient, *args, **kwargs):
        count["open"] += 1
        count["total"] += 1
        count["peak"] = max(count["peak"], count["open"])
        try:
            return await original(self, *args, **kwargs)
        finally:
            count["open"] -= 1

    RelayClient._session = counted  # type: ignore[method-assign]
    return count


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


async def run(directory: Path, messages: int, limit: float) -> None:
    world = World(directory)
    queue = world.providers["a.test"].queue
    for n in range(messages):
        queue.enqueue(
            "alice@a.test", ["bob@b.test"], message(n), message_id=f"<restart-{n}@a.test>"
        )
    maildir = world.providers["b.test"].mda.maildir("bob")
    counter = Counter()
    logging.getLogger("mua").addHandler(counter)
    logging.getLogger("mua").setLevel(logging.INFO)
    sessions = count_sessions()
    start = time.perf_counter()
    async with world:
        while time.perf_counter() - start < limit:
            landed = sum(1 for _ in (maildir / "new").iterdir())
            if len(queue) == 0 and landed >= messages:
                break
            await asyncio.sleep(0.1)
        elapsed = time.perf_counter() - start
        left = len(queue)
    landed = sum(1 for _ in (maildir / "new").iterdir())
    events = world.events.read()
    deferred = [e for e in events if e["event"] == "deferred"]
    dns_deferred = [e for e in deferred if "lookup" in str(e.get("reason"))]
    windows = [
        (e["settled"] - e["acked"]) * 1000
        for e in events
        if e["event"] == "relayed" and e.get("acked") and e.get("settled")
    ]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"mua from {Path(mua.__file__).parent}")
    state = "drained" if left == 0 else f"NOT drained after --limit, {left} still queued"
    print(f"{messages} queued at start: {state} in {elapsed:.1f} s ({landed / elapsed:.0f} msg/s)")
    print(
        f"delivered to Bob: {landed}; deferrals: {len(deferred)} ({len(dns_deferred)} DNS); "
        "DNS timeouts logged: "
        f"{counter.dns_timeouts}; warnings/errors logged: {counter.errors}"
    )
    print(f"relay sessions: {sessions['total']}, at most {sessions['peak']} at once")
    if windows:
        print(
            "250 -> queue record (ms): "
            f"p50 {percentile(windows, 0.5):.1f}  p99 {percentile(windows, 0.99):.1f}  "
            f"max {max(windows):.1f}"
        )
    print(f"peak RSS: {rss:.0f} MB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2500)
    parser.add_argument("--limit", type=float, default=120.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mua-restart-") as tmp:
        asyncio.run(run(Path(tmp) / "world", args.messages, args.limit))
    return 0


if __name__ == "__main__":
    sys.exit(main())
