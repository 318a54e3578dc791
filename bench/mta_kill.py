"""SIGKILL under load: nothing acknowledged is lost, and few are sent twice (issue #14 fault 3).

The demo world runs in a subprocess (free ports). --clients submitters send as alice to
bob@b.test over implicit TLS, one session per message as `mua.net.submission.submit` does;
a message counts as acknowledged when the MSA answered 250. After a random 2-5 s of load
the world is killed with SIGKILL, started again on the same directory, loaded again, --kills
times. A last start drains the queue without load (its time is printed). Then Bob's Maildir
is read: each acknowledged Message-ID must be there (else lost); any ID there more than once
is a duplicate (a kill between an MX's 250 and the sender's record of it; in this world the
MTA and the MX die together, so the MX's own window between its fsync and its 250 counts
too). Also printed: the window between each relay's 250 and the queue's record of it
(p50/p99/max, from the event log's "relayed" records) and the world's peak RSS.

    .venv/bin/python bench/mta_kill.py [--kills 10] [--clients 8] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from email.message import EmailMessage
from pathlib import Path

from mua.net.submission import Security, SubmissionEndpoint, submit
from mua.stack.world import World

MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>]+>)", re.IGNORECASE | re.MULTILINE)


async def _serve(directory: Path) -> None:
    world = World(directory)
    await world.start()
    ports = world.providers["a.test"].ports
    assert ports is not None
    print(json.dumps({"submission": ports.submission_implicit}), flush=True)
    await asyncio.Event().wait()


def start_world(directory: Path) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(directory)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.wait()
        raise RuntimeError("the world did not start")
    return proc, json.loads(line)["submission"]


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def queued(directory: Path) -> int:
    return sum(1 for _ in directory.glob("*/queue/*.msg"))


async def load(
    world: World,
    proc: subprocess.Popen,
    port: int,
    seconds: float,
    clients: int,
    acked: set[str],
    counter: list[int],
) -> float:
    """Submit for `seconds`, then kill the world while the load runs; its RSS before."""
    alice = world.mailbox("alice@a.test")
    endpoint = SubmissionEndpoint(
        host="127.0.0.1",
        port=port,
        security=Security.IMPLICIT,
        ca_file=world.ca.ca_file,
        server_name=world.providers["a.test"].smtp_host,
    )

    deadline = time.monotonic() + seconds

    async def client(c: int) -> None:
        # Each stops by itself at the deadline: a cancellation can be lost inside
        # aiosmtplib's wait_for on Python 3.11, and the load would then never end.
        while time.monotonic() < deadline:
            counter[0] += 1
            msgid = f"<kill-{os.getpid()}-{counter[0]}-{c}@a.test>"
            msg = EmailMessage()
            msg["From"] = "alice@a.test"
            msg["To"] = "bob@b.test"
            msg["Subject"] = f"Kill bench {counter[0]}"
            msg["Message-ID"] = msgid
            msg.set_content("A message of the SIGKILL bench.\n" * 10)
            try:
                await submit(
                    endpoint, msg, username=alice.user, password=alice.password, timeout=10
                )
            except Exception:  # the world is being killed: not acknowledged
                await asyncio.sleep(0.05)
                continue
            acked.add(msgid)

    rss = 0.0

    def kill() -> None:
        nonlocal rss
        rss = rss_mb(proc.pid)
        proc.send_signal(signal.SIGKILL)

    asyncio.get_running_loop().call_later(seconds, kill)
    await asyncio.gather(*(client(c) for c in range(clients)))
    return rss


def delivered_ids(world: World) -> Counter[str]:
    maildir = world.providers["b.test"].mda.maildir("bob")
    found: Counter[str] = Counter()
    for sub in ("new", "cur"):
        for path in (maildir / sub).iterdir():
            match = MESSAGE_ID.search(path.read_bytes()[:4096])
            if match:
                found[match.group(1).decode()] += 1
    return found


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--limit", type=float, default=300.0, help="longest drain to wait for")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(args.serve))
        return 0
    rng = random.Random(args.seed)
    acked: set[str] = set()
    counter = [0]
    peak_rss = 0.0
    with tempfile.TemporaryDirectory(prefix="mua-kill-") as tmp:
        directory = Path(tmp) / "world"
        world = World(directory)  # not started here: its CA and Alice's password
        for _ in range(args.kills):
            proc, port = start_world(directory)
            seconds = rng.uniform(2.0, 5.0)
            rss = asyncio.run(load(world, proc, port, seconds, args.clients, acked, counter))
            peak_rss = max(peak_rss, rss)
            proc.wait()
            print(
                f"killed after {seconds:.1f} s: {len(acked)} acknowledged so far, "
                f"{queued(directory)} queued",
                file=sys.stderr,
            )
        left = queued(directory)
        start = time.perf_counter()
        proc, _port = start_world(directory)
        while queued(directory) and time.perf_counter() - start < args.limit:
            time.sleep(0.05)
        drain = time.perf_counter() - start
        peak_rss = max(peak_rss, rss_mb(proc.pid))
        proc.terminate()
        proc.wait()
        found = delivered_ids(world)
        events = world.events.read()
    lost = acked - set(found)
    duplicated = sum(n - 1 for n in found.values() if n > 1)
    # A duplicate whose first copy the MTA had recorded as relayed was resent by mistake;
    # the others were caught by a kill inside SMTP's window (the MX's or the MTA's).
    recorded = Counter(
        e["message_id"] for e in events if e["event"] == "relayed" and e.get("message_id")
    )
    resent = sum(1 for m, n in found.items() if n > 1 and recorded[m] >= n)
    windows = [
        (e["settled"] - e["acked"]) * 1000
        for e in events
        if e["event"] == "relayed" and e.get("acked") and e.get("settled")
    ]
    print(f"{args.kills} SIGKILLs under load ({args.clients} submitters)")
    print(
        f"acknowledged: {len(acked)}; delivered: {len(found)} distinct; lost: {len(lost)}; "
        f"duplicated: {duplicated} ({100 * duplicated / max(len(found), 1):.2f}%, "
        f"{duplicated / max(args.kills, 1):.1f} per kill; resent after the MTA's record: {resent})"
    )
    print(f"queued at the last restart: {left}, drained in {drain:.1f} s (start included)")
    if windows:
        print(
            "250 -> queue record (ms): "
            f"p50 {percentile(windows, 0.5):.1f}  p99 {percentile(windows, 0.99):.1f}  "
            f"max {max(windows):.1f}"
        )
    print(f"peak RSS of the world: {peak_rss:.0f} MB")
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
