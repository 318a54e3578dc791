"""Submission throughput of the world's MSA beside a bare aiosmtpd sink, in the same run.

Each server runs in its own process (so the client's work does not share its core) with
the same certificate, implicit TLS, and AUTH PLAIN. The MSA does its real work: checks the
sender, adds Received, fsyncs the message into its queue before answering 250. The sink
answers 250 and forgets. Printed: messages/s over one TLS session and with one session per
message, for both, and the ratio MSA/sink. Target: ratio >= 0.5.

    .venv/bin/python bench/submission_throughput.py [--messages 1000] [--sessions 200]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib

from mua.net.tls import client_context
from mua.stack.ca import LocalCA


def _message(i: int) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "alice@a.test"
    msg["To"] = "bob@b.test"
    msg["Subject"] = f"bench {i}"
    msg["Message-ID"] = f"<bench-{i}@a.test>"
    msg.set_content("x" * 1500)
    return msg


async def _serve(kind: str, directory: Path) -> None:
    from aiosmtpd.smtp import SMTP, AuthResult

    from mua.stack.events import EventLog
    from mua.stack.msa import Msa
    from mua.stack.queue import MailQueue
    from mua.stack.users import Mailbox, UserDirectory

    ca = LocalCA(directory / "ca")
    context = ca.server_cert("smtp.a.test").server_context()
    if kind == "msa":
        users = UserDirectory("a.test", [Mailbox("alice", "a.test", "secret")])
        msa = Msa(
            hostname="smtp.a.test",
            users=users,
            queue=MailQueue(directory / "queue"),
            events=EventLog(directory / "events.jsonl"),
            tls_context=context,
            on_queued=lambda: None,
        )
        ports = await msa.start()
        port = ports.implicit_tls
    else:

        class Sink:
            async def handle_DATA(self, server, session, envelope):
                return "250 2.0.0 Ok"

        def accept(server, session, envelope, mechanism, auth_data):
            return AuthResult(success=True)

        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: SMTP(Sink(), authenticator=accept, auth_require_tls=False),
            "127.0.0.1",
            0,
            ssl=context,
        )
        port = server.sockets[0].getsockname()[1]
    print(port, flush=True)
    await asyncio.Event().wait()


async def _one_session(port: int, ca_file: Path, count: int) -> float:
    start = time.perf_counter()
    async with aiosmtplib.SMTP(
        hostname="127.0.0.1",
        port=port,
        use_tls=True,
        tls_context=client_context(ca_file),
        local_hostname="bench.local",
    ) as client:
        await client.login("alice", "secret")
        for i in range(count):
            await client.send_message(_message(i))
    return count / (time.perf_counter() - start)


async def _session_per_message(port: int, ca_file: Path, count: int) -> float:
    context = client_context(ca_file)
    start = time.perf_counter()
    for i in range(count):
        async with aiosmtplib.SMTP(
            hostname="127.0.0.1",
            port=port,
            use_tls=True,
            tls_context=context,
            local_hostname="bench.local",
        ) as client:
            await client.login("alice", "secret")
            await client.send_message(_message(i))
    return count / (time.perf_counter() - start)


def _start(kind: str, directory: Path) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, "--dir", str(directory)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--serve", choices=["msa", "sink"], help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(args.serve, args.dir))
        return
    with tempfile.TemporaryDirectory(prefix="mua-bench-") as tmp:
        root = Path(tmp)
        LocalCA(root / "ca").server_cert("smtp.a.test")  # both servers load the same cert
        results: dict[str, tuple[float, float]] = {}
        for kind in ("sink", "msa"):
            proc, port = _start(kind, root)
            try:
                asyncio.run(_one_session(port, root / "ca" / "ca.pem", 50))  # warm-up
                one = asyncio.run(_one_session(port, root / "ca" / "ca.pem", args.messages))
                per = asyncio.run(_session_per_message(port, root / "ca" / "ca.pem", args.sessions))
            finally:
                proc.terminate()
                proc.wait()
            results[kind] = (one, per)
    (sink_one, sink_per), (msa_one, msa_per) = results["sink"], results["msa"]
    print("submission throughput, implicit TLS, AUTH PLAIN, 1.5 kB messages (messages/s)")
    print(f"{'':28}{'one session':>14}{'session/message':>18}")
    print(f"{'bare aiosmtpd sink (baseline)':28}{sink_one:>14.0f}{sink_per:>18.0f}")
    print(f"{'mua MSA (fsync to queue)':28}{msa_one:>14.0f}{msa_per:>18.0f}")
    print(f"{'ratio MSA / sink':28}{msa_one / sink_one:>14.2f}{msa_per / sink_per:>18.2f}")
    print("target: ratio >= 0.5")


if __name__ == "__main__":
    main()
