"""End-to-end latency through the demo world: alice submits, bob's IDLE sees the message.

The world runs in a subprocess (free ports, its settings printed as JSON), so the client's
work does not share the servers' event loop. The client keeps one IMAP connection (implicit
TLS) IDLE on bob's INBOX and submits --messages messages as alice with
`mua.net.submission.submit` over implicit TLS, one session per message, as submit() does
(connect, TLS handshake, EHLO, AUTH PLAIN, MAIL/RCPT/DATA, QUIT). Each message travels
MSA (fsync into the queue) -> MTA -> DNS (DNSSEC-validated MX, A, TLSA) -> MX (STARTTLS,
DANE) -> MDA (fsync into the Maildir) -> index -> IMAP IDLE `* N EXISTS`.

Printed, p50/p95/max: the submit() round trip alone (the baseline: when the MSA has said
250 and the session is closed), submit() start to bob's EXISTS, and what the rest of the
journey adds after submit() returned. --warmup messages go first, untimed. Target: the
end-to-end p50 within 25 ms.

    .venv/bin/python bench/end_to_end_latency.py [--messages 200]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import ssl
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

from mua.net.submission import Security, SubmissionEndpoint, submit
from mua.net.tls import client_context
from mua.stack.world import World


def _message(i: int) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Alice <alice@a.test>"
    msg["To"] = "Bob <bob@b.test>"
    msg["Subject"] = f"end-to-end bench {i}"
    msg["Message-ID"] = f"<e2e-{i}@a.test>"
    msg.set_content("x" * 1500)
    return msg


# -- the world, in a subprocess -------------------------------------------------------------


async def _serve(directory: Path) -> None:
    """Prints world.settings() as one JSON line; stops when stdin closes."""
    async with World(directory) as world:
        print(json.dumps(world.settings()), flush=True)
        await asyncio.to_thread(sys.stdin.read)


# -- the client -----------------------------------------------------------------------------


class IdleWatcher:
    """One IMAP connection IDLE on an INBOX; `arrivals` gets perf_counter() of each EXISTS."""

    def __init__(self) -> None:
        self.arrivals: asyncio.Queue[float] = asyncio.Queue()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, port: int, context: ssl.SSLContext, user: str, password: str) -> None:
        self._reader, self._writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=context, server_hostname="127.0.0.1"
        )
        await self._reader.readline()  # greeting
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        await self._command("a", f"AUTHENTICATE PLAIN {token}")
        await self._command("b", "SELECT INBOX")
        self._writer.write(b"c IDLE\r\n")
        if not (await self._reader.readline()).startswith(b"+"):
            raise RuntimeError("the server did not accept IDLE")
        self._task = asyncio.create_task(self._watch())

    async def _command(self, tag: str, text: str) -> None:
        assert self._reader is not None and self._writer is not None
        self._writer.write(f"{tag} {text}\r\n".encode())
        while not (line := await self._reader.readline()).startswith(tag.encode()):
            if not line:
                raise ConnectionError("the IMAP server closed the connection")
        if not line.startswith(f"{tag} OK".encode()):
            raise RuntimeError(line.decode(errors="replace"))

    async def _watch(self) -> None:
        assert self._reader is not None
        while line := await self._reader.readline():
            if line.rstrip().endswith(b" EXISTS"):
                self.arrivals.put_nowait(time.perf_counter())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._writer is not None:
            self._writer.close()


async def _run(settings: dict, messages: int, warmup: int, gap: float) -> dict[str, list[float]]:
    alice, bob = (next(a for a in settings["accounts"] if a["address"] == x)
                  for x in ("alice@a.test", "bob@b.test"))  # fmt: skip
    endpoint = SubmissionEndpoint(
        host="127.0.0.1",
        port=alice["smtp"]["implicit_tls_port"],
        security=Security.IMPLICIT,
        ca_file=Path(settings["ca_file"]),
        server_name=alice["smtp"]["host"],
    )
    watcher = IdleWatcher()
    await watcher.start(
        bob["imap"]["implicit_tls_port"],
        client_context(settings["ca_file"]),
        bob["username"],
        bob["password"],
    )
    results: dict[str, list[float]] = {"submit": [], "e2e": [], "after": []}
    try:
        for i in range(warmup + messages):
            start = time.perf_counter()
            await submit(
                endpoint, _message(i), username=alice["username"], password=alice["password"]
            )
            submitted = time.perf_counter()
            arrived = await asyncio.wait_for(watcher.arrivals.get(), 30)
            if i >= warmup:
                results["submit"].append(submitted - start)
                results["e2e"].append(arrived - start)
                results["after"].append(arrived - submitted)
            await asyncio.sleep(gap)
    finally:
        await watcher.stop()
    return results


def _pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--gap", type=float, default=0.01, help="pause after each EXISTS (s)")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(args.serve))
        return
    with tempfile.TemporaryDirectory(prefix="mua-bench-") as tmp:
        proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(Path(tmp) / "world")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdin is not None and proc.stdout is not None
        try:
            settings = json.loads(proc.stdout.readline())
            results = asyncio.run(_run(settings, args.messages, args.warmup, args.gap))
        finally:
            proc.stdin.close()  # the world stops when its stdin ends
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    print(
        f"alice -> bob through the demo world on 127.0.0.1, {args.messages} messages "
        f"({args.warmup} untimed first), next one {args.gap * 1e3:g} ms after each EXISTS"
    )
    print("submit(): implicit TLS, one session per message; IDLE: one implicit-TLS connection")
    print(f"  {'ms':46}{'p50':>8}{'p95':>8}{'max':>8}")
    for label, key, note in (
        ("submit() round trip alone (baseline)", "submit", ""),
        ("submit() start -> bob's * N EXISTS", "e2e", "p50 <= 25 ms"),
        ("  added after submit() returned", "after", ""),
    ):
        values = results[key]
        p50, p95, top = _pct(values, 0.5), _pct(values, 0.95), max(values)
        print(f"  {label:46}{p50 * 1e3:>8.2f}{p95 * 1e3:>8.2f}{top * 1e3:>8.2f}  {note}")
    print("target: end-to-end p50 within 25 ms")


if __name__ == "__main__":
    main()
