"""The world's memory under connection abuse (issue #14 fault 8): rounds of 1,000 IMAP
sessions and 2,000 idle sockets, the world's RSS after each.

The world runs in a subprocess (this file with --serve), so its RSS is its own. Each round
opens --sessions IMAP sessions on b.test's implicit-TLS port (TLS, LOGIN as bob, SELECT
INBOX, kept open) and --idle plain sockets that say nothing, spread over the MX, the 587-role
MSA and the 143-role IMAP listener; then it closes them all and waits a moment. Printed per
round: sessions that got in, refusals (421 / BYE [UNAVAILABLE]), failures, idle sockets the
world refused or closed before the round ended, and the world's RSS (VmRSS) after the round.
Everything is on loopback, at most --concurrency connections are being opened at once, and
the whole run stops after --limit seconds.

Measured (2 cores, 5 rounds of 1,000 + 2,000): before the connection limits 1,000 sessions
got in each round and no idle socket was closed, RSS 49 MB -> 304 MB after round 1 and
352 MB after round 5; with them (defaults: 500 per listener, 100 per address; everything
here comes from 127.0.0.1) 100 sessions in and 900 refused, 1,700 idle sockets refused,
RSS 52 MB -> 149 MB after round 1 and 162 MB after round 5.

    .venv/bin/python bench/connection_memory.py [--rounds 5] [--sessions 1000] [--idle 2000]

The baseline is the same script against the code before the change:
`git archive <commit> mua | tar -x -C /tmp/old && PYTHONPATH=/tmp/old python bench/...`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_MB = 400


def _serve(directory: Path) -> None:
    from mua.stack.world import World, WorldOptions

    async def run() -> None:
        async with World(directory, WorldOptions()) as world:
            b = world.providers["b.test"]
            bob = world.mailbox("bob@b.test")
            print(
                json.dumps(
                    {
                        "imap": b.ports.imap_implicit,
                        "imap_plain": b.ports.imap_starttls,
                        "mx": b.ports.mx,
                        "msa_plain": b.ports.submission_starttls,
                        "user": bob.user,
                        "password": bob.password,
                        "ca": str(world.ca.ca_file),
                    }
                ),
                flush=True,
            )
            await asyncio.to_thread(sys.stdin.read)  # until the bench closes our stdin

    asyncio.run(run())


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Round:
    def __init__(self) -> None:
        self.admitted = self.refused = self.failed = self.idle_closed = 0
        self.writers: list[asyncio.StreamWriter] = []
        self.ending = False  # the bench is closing them itself


async def _session(info: dict, context: ssl.SSLContext, tally: Round) -> None:
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                "127.0.0.1", info["imap"], ssl=context, server_hostname="imap.b.test"
            ),
            10,
        )
    except (OSError, TimeoutError, ssl.SSLError):
        tally.failed += 1
        return
    tally.writers.append(writer)
    try:
        greeting = await asyncio.wait_for(reader.readline(), 10)
        if b"BYE" in greeting or not greeting:
            tally.refused += 1
            return
        for tag, command in (("a", f"LOGIN {info['user']} {info['password']}"),
                             ("b", "SELECT INBOX")):  # fmt: skip
            writer.write(f"{tag} {command}\r\n".encode())
            while not (line := await asyncio.wait_for(reader.readline(), 10)).startswith(
                tag.encode()
            ):
                if not line:
                    raise ConnectionError("closed")
        tally.admitted += 1
    except (OSError, TimeoutError, ssl.SSLError, ConnectionError):
        tally.failed += 1


async def _idle(port: int, tally: Round) -> None:
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)
    except (OSError, TimeoutError):
        tally.failed += 1
        return
    tally.writers.append(writer)

    async def watch() -> None:  # says nothing; counts it when the world hangs up
        with contextlib.suppress(OSError):
            while await reader.read(4096):
                pass
            if not tally.ending:
                tally.idle_closed += 1

    asyncio.get_running_loop().create_task(watch())


async def _round(info: dict, args: argparse.Namespace, context: ssl.SSLContext) -> Round:
    tally = Round()
    gate = asyncio.Semaphore(args.concurrency)

    async def bounded(coro) -> None:
        async with gate:
            await coro

    plain = [info["mx"], info["msa_plain"], info["imap_plain"]]
    jobs = [bounded(_session(info, context, tally)) for _ in range(args.sessions)]
    jobs += [bounded(_idle(plain[i % 3], tally)) for i in range(args.idle)]
    await asyncio.gather(*jobs)
    await asyncio.sleep(args.hold)  # everything open at once for a moment
    tally.ending = True
    for writer in tally.writers:
        writer.close()
    await asyncio.sleep(1.0)  # the world sees the closes
    return tally


async def bench(args: argparse.Namespace, pid: int, info: dict) -> None:
    context = ssl.create_default_context(cafile=info["ca"])
    print(f"world started: RSS {rss_mb(pid):.0f} MB")
    started = time.monotonic()
    peak = 0.0
    for n in range(1, args.rounds + 1):
        remaining = args.limit - (time.monotonic() - started)
        if remaining <= 0:
            print(f"stopped after {args.limit} s")
            break
        tally = await asyncio.wait_for(_round(info, args, context), remaining)
        rss = rss_mb(pid)
        peak = max(peak, rss)
        print(
            f"round {n}: {tally.admitted} IMAP sessions in, {tally.refused} refused, "
            f"{tally.failed} failed, {tally.idle_closed} idle sockets refused or closed by the "
            f"world; RSS {rss:.0f} MB",
            flush=True,
        )
    verdict = "under" if peak < TARGET_MB else "OVER"
    print(f"peak RSS after a round: {peak:.0f} MB ({verdict} the {TARGET_MB} MB target)")


def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="mua-connmem-") as tmp:
        env = dict(os.environ)
        if args.mua:
            env["PYTHONPATH"] = str(args.mua)
        proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", tmp],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        assert proc.stdout is not None and proc.stdin is not None
        try:
            info = json.loads(proc.stdout.readline())
            asyncio.run(bench(args, proc.pid, info))
        finally:
            proc.stdin.close()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--idle", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--hold", type=float, default=2.0, help="seconds all stay open")
    parser.add_argument("--limit", type=float, default=600.0, help="seconds for the whole run")
    parser.add_argument("--mua", type=Path, help="run the world from this copy of mua's code")
    args = parser.parse_args()
    if args.serve:
        _serve(args.serve)
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = args.sessions + args.idle + 100
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))
    run(args)


if __name__ == "__main__":
    main()
