"""Submission throughput of the running world beside Postfix's submission service, same run.

The world runs as a user runs it: `mua stack --json`, whose MSAs have a process of their own
(mua/stack/msa_process.py) beside the process where the MTA relays each message to b.test,
DKIM-signing it, and the MX, the MDA writing bob's Maildir and the IMAP server take it in;
every message accepted is also delivered. Postfix (tests/interop/servers.py: a throwaway
instance, its submission service on implicit TLS, AUTH through Dovecot's auth socket) queues
each message and its `virtual` agent delivers it to a Maildir on the same machine (it does
not DKIM-sign). Both: implicit TLS, AUTH PLAIN, one TLS session, 1.5 kB messages to one
recipient. The rounds alternate, so both see the same load on a shared machine, and each
waits until its Maildir holds every message it sent, so neither is measured while the other
is still delivering. Printed for each, per round and the median of the rounds: messages/s
accepted (while the session ran) and delivered (until the last one was in the Maildir), and
the ratio of the accepted medians, and the median of the round-by-round ratios (each world
round runs just before a Postfix round, on a machine whose speed drifts from pair to pair by
more than the gap). Target: world >= Postfix. Needs root and Debian's postfix and
dovecot-imapd (scripts/system-deps); without them only the world's figures are printed.

    .venv/bin/python bench/world_throughput.py [--messages 1000] [--rounds 3]

Measured (2 shared cores, rounds of 1,000, an idle machine, four runs of 7 rounds at
4e8e73e-2168d8d): by medians 1.06x, 1.02x, 1.03x, 1.07x (359 vs 338/s, 372 vs 365/s, 402 vs
391/s, 457 vs 426/s), round by round 1.11x, 1.02x, 1.11x, 1.07x; delivered 151-214/s vs
338-426/s. It was 0.92-1.02x before the queue reused its files, and 213 vs 361/s (0.59x)
before the MSA's sessions ran on threads and `mua stack` gave acceptance the CPU first.
Where the time goes: the README.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.interop.servers

from mua.net.tls import client_context

DRAIN_TIMEOUT = 300.0  # seconds a round waits for its messages to be delivered


@dataclass
class Target:
    name: str
    port: int
    ca_file: Path
    server_name: str
    user: str
    password: str
    sender: str
    recipient: str
    maildir: Path  # where the recipient's messages land


@dataclass
class Round:
    accepted: float  # messages/s while the session ran
    delivered: float  # messages/s from the session's start to the last one in the Maildir


def _message(sender: str, recipient: str, i: int) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = recipient
    msg["Subject"] = f"bench {i}"
    msg["Message-ID"] = f"<bench-{i}-{time.monotonic_ns()}@bench.local>"
    msg.set_content("x" * 1500)
    return msg


def _measure(target: Target, count: int) -> Round:
    """Send `count` messages, then wait until the Maildir holds them all: the next round
    starts on a machine where neither system is still delivering the last one's mail."""
    before = _delivered(target.maildir)
    start = time.perf_counter()
    accepted = count / asyncio.run(_one_session(target, count))
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while _delivered(target.maildir) < before + count and time.monotonic() < deadline:
        time.sleep(0.02)
    return Round(accepted, count / (time.perf_counter() - start))


async def _one_session(target: Target, count: int) -> float:
    """Seconds to send `count` messages over one session."""
    context = client_context(target.ca_file)
    start = time.perf_counter()
    sock = socket.create_connection(("127.0.0.1", target.port))
    sock.setblocking(False)
    # our own socket: aiosmtplib then verifies (and sends SNI for) `hostname`
    async with aiosmtplib.SMTP(
        hostname=target.server_name,
        sock=sock,
        use_tls=True,
        start_tls=False,
        tls_context=context,
        local_hostname="bench.local",
    ) as client:
        await client.login(target.user, target.password)
        for i in range(count):
            await client.send_message(_message(target.sender, target.recipient, i))
    return time.perf_counter() - start


def _start_world(directory: Path) -> tuple[subprocess.Popen, Target]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mua", "stack", "--json", "--dir", str(directory)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.wait()
        raise RuntimeError("`mua stack` did not start (is another one running on its ports?)")
    settings = json.loads(line)
    alice = settings["accounts"][0]
    smtp = alice["smtp"]
    target = Target(
        "mua stack (delivering)",
        smtp["implicit_tls_port"],
        Path(settings["ca_file"]),
        smtp["host"],
        alice["username"],
        alice["password"],
        alice["address"],
        settings["accounts"][1]["address"],
        directory / "b.test" / "mail" / "bob",
    )
    return proc, target


def _stop_world(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _delivered(maildir: Path) -> int:
    if not maildir.is_dir():
        return 0
    return sum(
        1 for sub in ("new", "cur") if (maildir / sub).is_dir() for _ in (maildir / sub).iterdir()
    )


def _start_postfix():
    from tests.interop.servers import OTHER_ADDRESS, SMTP_NAME, MailServers, missing_binaries

    if missing_binaries() or os.geteuid() != 0:
        print("(Postfix not measured: needs root and scripts/system-deps' postfix, dovecot)")
        return None, None
    servers = MailServers.start()
    target = Target(
        "Postfix submission (delivering)",
        servers.postfix.implicit_port,
        servers.ca_file,
        SMTP_NAME,
        servers.address,
        servers.password,
        servers.address,
        OTHER_ADDRESS,
        servers.root / "mail" / OTHER_ADDRESS.partition("@")[0],
    )
    return servers, target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    figures: dict[str, list[Round]] = {}
    with tempfile.TemporaryDirectory(prefix="mua-bench-") as tmp:
        world_proc, world = _start_world(Path(tmp) / "world")
        servers, postfix = _start_postfix()
        try:
            targets = [t for t in (world, postfix) if t is not None]
            for target in targets:
                _measure(target, 50)  # warm-up
            for _round in range(args.rounds):
                for target in targets:
                    result = _measure(target, args.messages)
                    figures.setdefault(target.name, []).append(result)
            delivered = _delivered(world.maildir)
        finally:
            _stop_world(world_proc)
            if servers is not None:
                with contextlib.suppress(Exception):
                    servers.stop()
    print(
        f"submission throughput while delivering: implicit TLS, AUTH PLAIN, one session, "
        f"{args.messages} x 1.5 kB messages per round (messages/s)"
    )
    for name, results in figures.items():
        for what in ("accepted", "delivered"):
            rates = [getattr(r, what) for r in results]
            rounds = " ".join(f"{r:.0f}" for r in rates)
            median = statistics.median(rates)
            print(f"  {name:32} {what:9} median {median:5.0f}   rounds: {rounds}")
    print(f"  (bob's Maildir holds {delivered} messages when the world is stopped)")
    if len(figures) == 2:
        w, p = ([r.accepted for r in results] for results in figures.values())
        ratio = statistics.median(w) / statistics.median(p)
        print(f"  accepted, ratio world / Postfix: {ratio:.2f}  (target >= 1)")
        # Each world round runs right before a Postfix round: a pair saw the same machine,
        # whose speed drifts from one pair to the next by more than the gap measured.
        pairs = [a / b for a, b in zip(w, p, strict=True)]
        rounds = " ".join(f"{r:.2f}" for r in pairs)
        print(f"  accepted, ratio round by round: median {statistics.median(pairs):.2f}   {rounds}")


if __name__ == "__main__":
    main()
