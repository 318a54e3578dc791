"""IDLE notification delay: from the start of the MDA's deliver() to `* N EXISTS` at the client.

The demo world runs in a subprocess. A raw IMAP client (implicit TLS) logs in as bob, selects
INBOX and IDLEs. For each of --deliveries messages the bench asks the world process to call
`world.providers["b.test"].mda.deliver("bob", data)` in a thread of its own (as the MX does),
which notes the time deliver() started; the client notes when the EXISTS line arrived. Both
clocks are CLOCK_MONOTONIC (time.monotonic() on Linux), so the two processes agree. The next
delivery starts --gap seconds after the EXISTS.

Baselines in the same run: the round trip of a NOOP on the same connection (the floor for
any notification), and, when Dovecot is installed, Dovecot's delay from a message file
written into its Maildir (tmp/ then new/, fsync'ed) to its EXISTS on an IDLE connection
(it is known to hold IDLE notices for about half a second, hence fewer deliveries).
Target: ours within 50 ms (p95).

    .venv/bin/python bench/idle_latency.py [--deliveries 200] [--inbox 0] [--dovecot 40]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from email.utils import formatdate
from pathlib import Path

from _servers import Dovecot

from mua.net.tls import client_context
from mua.stack.ca import LocalCA
from mua.stack.mda import deliver_to_maildir
from mua.stack.world import World


def _message(i: int) -> bytes:
    lines = [
        "From: Alice <alice@a.test>",
        "To: Bob <bob@b.test>",
        f"Subject: idle bench {i}",
        f"Date: {formatdate(1_780_000_000 + i)}",
        f"Message-ID: <idle-{i}@a.test>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "",
        *(
            f"Line {k} of message {i}, about as long as a line of mail usually is."
            for k in range(24)
        ),
        "",
    ]
    return "\r\n".join(lines).encode()


class RawImap:
    """A bare IMAP connection over implicit TLS; `line()` also says when its bytes arrived."""

    def __init__(self, port: int, ca_file: Path, timeout: float = 30.0) -> None:
        raw = socket.create_connection(("127.0.0.1", port), timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = client_context(ca_file).wrap_socket(raw, server_hostname="127.0.0.1")
        self._buffer = bytearray()
        self._arrived = 0.0
        self._count = 0
        self.line()  # the greeting

    def line(self) -> tuple[bytes, float]:
        """The next line, and time.monotonic() when the read that completed it returned."""
        while (end := self._buffer.find(b"\r\n")) < 0:
            chunk = self.sock.recv(1 << 16)
            self._arrived = time.monotonic()
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self._buffer += chunk
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 2]
        return line, self._arrived

    def send(self, text: str) -> None:
        self.sock.sendall(text.encode() + b"\r\n")

    def command(self, text: str) -> list[bytes]:
        self._count += 1
        tag = f"B{self._count:05d}".encode()
        self.send(f"{tag.decode()} {text}")
        lines = []
        while True:
            line, _ = self.line()
            lines.append(line)
            if line.startswith(tag + b" "):
                if not line.startswith(tag + b" OK"):
                    raise RuntimeError(line.decode(errors="replace"))
                return lines

    def login(self, user: str, password: str) -> None:
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        self.command(f"AUTHENTICATE PLAIN {token}")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.send("Z LOGOUT")
        self.sock.close()

    def noop_round_trips(self, count: int) -> list[float]:
        times = []
        for _ in range(count):
            start = time.monotonic()
            self.command("NOOP")
            times.append(time.monotonic() - start)
        return times

    def idle_delays(self, count: int, gap: float, deliver) -> list[float]:
        """IDLE; `deliver(i)` makes message i arrive and returns a function that tells, once
        the EXISTS has been read, when that delivery started (monotonic)."""
        self._count += 1
        tag = f"I{self._count:05d}"
        self.send(f"{tag} IDLE")
        if not self.line()[0].startswith(b"+"):
            raise RuntimeError("the server did not accept IDLE")
        delays = []
        for i in range(count):
            started = deliver(i)
            while True:
                line, arrived = self.line()
                if line.endswith(b" EXISTS"):
                    break
            delays.append(arrived - started())
            time.sleep(gap)
        self.send("DONE")
        while not self.line()[0].startswith(tag.encode()):
            pass
        return delays


# -- our world, in a subprocess -------------------------------------------------------------


async def _serve(directory: Path) -> None:
    """Prints the IMAP port, then delivers message i for each line `i` on stdin, printing
    when deliver() started and returned (time.monotonic())."""
    world = World(directory)
    await world.start()
    mda = world.providers["b.test"].mda
    loop = asyncio.get_running_loop()
    done = asyncio.Event()

    def deliveries() -> None:  # the MX calls deliver() in a worker thread too
        for line in sys.stdin:
            data = _message(int(line))
            started = time.monotonic()
            mda.deliver("bob", data)
            print(f"{started} {time.monotonic()}", flush=True)
        loop.call_soon_threadsafe(done.set)

    threading.Thread(target=deliveries, daemon=True).start()
    print(world.providers["b.test"].ports.imap_implicit, flush=True)
    await done.wait()
    await world.stop()


def _ours(args: argparse.Namespace, root: Path) -> dict[str, list[float]]:
    world = World(root / "world")  # not started: only to read its CA and bob's password
    bob = world.mailbox("bob@b.test")
    inbox = world.providers["b.test"].mda.maildir("bob")
    for i in range(args.inbox):
        deliver_to_maildir(inbox, _message(100_000 + i))
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(root / "world")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    stdin, stdout = proc.stdin, proc.stdout
    returned: list[float] = []

    def deliver(i: int):
        stdin.write(f"{i}\n")
        stdin.flush()

        def started() -> float:  # read after the EXISTS, so as not to delay reading it
            start, end = map(float, stdout.readline().split())
            returned.append(end - start)
            return start

        return started

    try:
        client = RawImap(int(stdout.readline()), world.ca.ca_file)
        try:
            client.login(bob.user, bob.password)
            client.command("SELECT INBOX")
            noop = client.noop_round_trips(args.deliveries)
            delays = client.idle_delays(args.deliveries, args.gap, deliver)
            tls = f"{client.sock.version()} {client.sock.cipher()[0]}"
        finally:
            client.close()
    finally:
        stdin.close()  # the server stops when its stdin ends
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return {"noop": noop, "idle": delays, "deliver": returned, "tls": tls}


# -- Dovecot --------------------------------------------------------------------------------


def _dovecot(args: argparse.Namespace, root: Path, ca: LocalCA) -> dict[str, list[float]]:
    dovecot = Dovecot(root / "dovecot", ca.server_cert("imap.dovecot.test"))
    for i in range(args.inbox):
        deliver_to_maildir(dovecot.maildir, _message(100_000 + i))
    dovecot.start()

    def deliver(i: int):
        started = time.monotonic()
        deliver_to_maildir(dovecot.maildir, _message(i))
        return lambda: started

    try:
        client = RawImap(dovecot.port, ca.ca_file)
        try:
            client.login(dovecot.user, dovecot.password)
            client.command("SELECT INBOX")
            noop = client.noop_round_trips(args.deliveries)
            delays = client.idle_delays(args.dovecot, args.gap, deliver)
        finally:
            client.close()
    finally:
        dovecot.stop()
    return {"noop": noop, "idle": delays}


# -- report ---------------------------------------------------------------------------------


def _pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def _row(label: str, values: list[float], note: str = "") -> None:
    p50, p95, top = (_pct(values, 0.5), _pct(values, 0.95), max(values))
    print(f"  {label:46}{p50 * 1e3:>8.2f}{p95 * 1e3:>8.2f}{top * 1e3:>8.2f}  {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=200)
    parser.add_argument("--inbox", type=int, default=0, help="messages already in the INBOX")
    parser.add_argument("--gap", type=float, default=0.01, help="pause after each EXISTS (s)")
    parser.add_argument("--dovecot", type=int, default=40, help="deliveries to Dovecot")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(args.serve))
        return
    with tempfile.TemporaryDirectory(prefix="mua-bench-") as tmp:
        root = Path(tmp)
        os.chmod(root, 0o755)  # Dovecot's unprivileged processes must get to their files
        ours = _ours(args, root)
        theirs = None
        if shutil.which("dovecot") and args.dovecot > 0:
            theirs = _dovecot(args, root, LocalCA(root / "world" / "ca"))
    print(
        f"IDLE on bob's INBOX ({args.inbox} messages before), raw socket, implicit TLS "
        f"({ours['tls']}), 127.0.0.1; next delivery {args.gap * 1e3:g} ms after each EXISTS"
    )
    print(f"  {'ms':46}{'p50':>8}{'p95':>8}{'max':>8}")
    _row(f"NOOP round trip, same connection (floor) x{args.deliveries}", ours["noop"])
    _row(f"ours: deliver() start -> * N EXISTS  x{args.deliveries}", ours["idle"], "<= 50 ms")
    _row("  deliver() itself (write, fsync, index)", ours["deliver"])
    if theirs is None:
        print("  Dovecot is not installed (apt-get install dovecot-imapd): no second baseline.")
    else:
        _row(f"Dovecot NOOP round trip x{args.deliveries}", theirs["noop"])
        _row(f"Dovecot: file into new/ -> * N EXISTS  x{args.dovecot}", theirs["idle"])
    print("target: ours within 50 ms (p95)")


if __name__ == "__main__":
    main()
