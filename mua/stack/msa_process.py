"""The world's MSAs in a process of their own (`mua stack`): submission accepts on one core
while the relay, MX, MDA and IMAP deliver on another, as Postfix's smtpd and its queue
manager are separate processes.

The parent (`MsaProcess`) runs `python -m mua.stack.msa_process` and writes one line to its
stdin: the listeners' specs (`MsaSpec`, pickled, base64: parent and child are the same code).
The child listens, queues each message into its provider's queue directory exactly as the
in-process MSA does (`mua.stack.msa`: fsync'ed before 250) and appends to the same event log
(each record is one O_APPEND write, so the two processes' lines never interleave). Then it
talks in JSON lines. On its stdout: `{"ports": {domain: [465, 587, 25 roles]}}` once (or
`{"error": why}`), `{"queued": domain}` per message queued (the parent wakes that provider's
MTA) and `{"ask": n, "domain", "token", "login"}` for an OAuth bearer token. The parent
answers on the child's stdin `{"answer": n, "user": name}` or `{"answer": n, "status",
"reason", "issuer"}`: its authorization server alone knows which tokens the world expired or
revoked, and AUTH comes once per session, so one round trip is cheap. The child ends when its
stdin closes: when the parent stops it, exits or is killed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import json
import logging
import os
import pickle
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mua.stack.ca import ServerCert
from mua.stack.chaos import ChaosOptions
from mua.stack.limits import ConnectionLimits
from mua.stack.msa import Msa, MsaPorts
from mua.stack.oauth_tokens import TokenRefused, TokenVerifier
from mua.stack.users import Mailbox, UserDirectory

if TYPE_CHECKING:
    from mua.stack.provider import Provider
    from mua.stack.provider_options import ProviderPorts

log = logging.getLogger(__name__)

# What the frozen app (packaging/launcher.py) is started with to be the child: it has no `-m`.
FROZEN_ARGUMENT = "--msa-process"
START_TIMEOUT = 60.0  # the child imports the stack and loads keys before it answers
STOP_TIMEOUT = 10.0
DELIVERY_NICENESS = 10  # added to the delivering process's; the MSA child keeps the user's


@dataclass(frozen=True)
class MsaSpec:
    """What the child needs to run one provider's MSA."""

    domain: str
    hostname: str
    users: UserDirectory
    queue_dir: Path
    events_file: Path
    cert: ServerCert
    ports: tuple[int, int, int]  # the 465, 587 and 25 roles (0: any free port)
    idle_timeout: float
    limits: ConnectionLimits | None
    max_recipients: int
    cleartext_auth: bool
    chaos: ChaosOptions | None
    smarthost: bool = False  # Msa.use_smarthost


def msa_spec(provider: Provider, ports: ProviderPorts, *, smarthost: bool = False) -> MsaSpec:
    options = provider.options
    return MsaSpec(
        domain=provider.domain,
        hostname=provider.smtp_host,
        users=provider.users,
        queue_dir=provider.queue.directory,
        events_file=provider.events.path,
        cert=provider.smtp_cert,
        ports=(ports.submission_implicit, ports.submission_starttls, ports.legacy_submission),
        idle_timeout=options.idle_timeout,
        limits=options.connection_limits,
        max_recipients=options.max_recipients,
        cleartext_auth=options.cleartext_auth,
        chaos=options.chaos,
        smarthost=smarthost,
    )


class MsaProcess:
    """The parent's end: starts the child, wakes MTAs, answers token questions."""

    def __init__(
        self,
        specs: list[MsaSpec],
        *,
        on_queued: Callable[[str], None],
        verifier_for: Callable[[str], TokenVerifier | None],
    ) -> None:
        self._specs = specs
        self._on_queued = on_queued
        self._verifier_for = verifier_for
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    async def start(self) -> dict[str, MsaPorts]:
        """Start the child; the ports each provider's MSA listens on. OSError: it could not
        listen (the port is taken) or did not start."""
        frozen = getattr(sys, "frozen", False)  # a PyInstaller build
        child = [FROZEN_ARGUMENT] if frozen else ["-m", "mua.stack.msa_process"]
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *child,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(base64.b64encode(pickle.dumps(self._specs)) + b"\n")
        try:
            async with asyncio.timeout(START_TIMEOUT):
                line = await self._proc.stdout.readline()
        except TimeoutError:
            line = b""
        first: dict[str, Any] = json.loads(line) if line else {}
        if "ports" not in first:
            await self.stop()
            raise OSError(first.get("error", "the MSA process did not start"))
        self._reader = asyncio.get_running_loop().create_task(self._read(), name="msa-process")
        return {domain: MsaPorts(*ports) for domain, ports in first["ports"].items()}

    async def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        while line := await self._proc.stdout.readline():
            message = json.loads(line)
            if "queued" in message:
                self._on_queued(message["queued"])
            elif "ask" in message:
                self._answer(message)
        log.error("the MSA process ended (exit status %s)", await self._proc.wait())

    def _answer(self, question: dict[str, Any]) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        verifier = self._verifier_for(question["domain"])
        answer: dict[str, Any] = {"answer": question["ask"]}
        try:
            if verifier is None:
                raise TokenRefused("invalid_token", "The token is not one this provider signed.")
            answer["user"] = verifier.verify(question["token"], question["login"]).user
        except TokenRefused as refused:
            issuer = verifier.issuer if verifier is not None else ""
            answer |= {"status": refused.status, "reason": refused.reason, "issuer": issuer}
        self._proc.stdin.write(json.dumps(answer).encode() + b"\n")

    async def stop(self) -> None:
        """Close the child's stdin (it stops listening and exits), killed if it lingers."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.wait([self._reader])
            self._reader = None
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            async with asyncio.timeout(STOP_TIMEOUT):
                await proc.wait()
        except TimeoutError:
            log.error("the MSA process did not stop; killing it")
            proc.kill()
            await proc.wait()


def yield_to_acceptance(niceness: int = DELIVERY_NICENESS) -> None:
    """Lower this process's CPU priority (every thread's: Linux keeps one per thread, and
    threads started later inherit it) below the MSA child's, so a burst of submissions is
    not slowed by the deliveries it causes: they take the CPU acceptance leaves, as Exim's
    `queue_only_load` queues without delivering while the machine is loaded. `mua stack`
    calls it once its world has started. Does nothing where the system has no niceness
    (Windows).

    Measured (2,000 messages over one TLS session, 2 shared cores, runs alternating): 373-383
    messages/s accepted with the parent 10 below the child's priority, 318-320 beside it."""
    if not hasattr(os, "setpriority"):
        return
    tasks = Path(f"/proc/{os.getpid()}/task")
    threads = [int(t.name) for t in tasks.iterdir()] if tasks.is_dir() else [0]
    for thread in threads:
        with contextlib.suppress(OSError):
            current = os.getpriority(os.PRIO_PROCESS, thread)
            os.setpriority(os.PRIO_PROCESS, thread, min(19, current + niceness))


class _Channel:
    """The child's end of the pipes: lines out on stdout, answers in from stdin."""

    def __init__(self) -> None:
        self._out = sys.stdout.buffer
        self._lock = threading.Lock()  # `send` is called by the MSA's session threads too
        self._asked: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._next = 0

    def send(self, message: dict[str, Any]) -> None:
        line = json.dumps(message).encode() + b"\n"
        with self._lock:
            self._out.write(line)
            self._out.flush()

    async def ask(self, question: dict[str, Any]) -> dict[str, Any]:
        self._next += 1
        number = self._next
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._asked[number] = future
        self.send({"ask": number, **question})
        try:
            return await future
        finally:
            self._asked.pop(number, None)

    def answered(self, answer: dict[str, Any]) -> None:
        future = self._asked.pop(answer.get("answer", -1), None)
        if future is not None and not future.done():
            future.set_result(answer)


class RemoteTokens:
    """The child's token check: the parent's TokenVerifier, asked over the channel."""

    def __init__(self, spec: MsaSpec, channel: _Channel) -> None:
        self._spec = spec
        self._channel = channel
        self.issuer = ""  # learnt with a refusal (the error challenge names it)

    async def check(self, token: str, login: str) -> Mailbox:
        answer = await self._channel.ask(
            {"domain": self._spec.domain, "token": token, "login": login}
        )
        mailbox = self._spec.users.get(answer.get("user", ""))
        if mailbox is not None:
            return mailbox
        self.issuer = answer.get("issuer", "")
        raise TokenRefused(answer.get("status", "invalid_token"), answer.get("reason", ""))


async def _line() -> bytes:
    """The parent's next line (b"" once it is gone), read by a thread: asyncio's pipe
    reader would do it on POSIX only."""
    return await asyncio.to_thread(sys.stdin.buffer.readline)


async def _serve() -> int:
    from mua.stack.events import EventLog
    from mua.stack.queue import MailQueue

    specs: list[MsaSpec] = pickle.loads(base64.b64decode(await _line()))
    channel = _Channel()
    msas: list[Msa] = []
    ports: dict[str, list[int]] = {}
    try:
        for spec in specs:
            msa = Msa(
                hostname=spec.hostname,
                users=spec.users,
                queue=MailQueue(spec.queue_dir),
                events=EventLog(spec.events_file),
                tls_context=spec.cert.server_context(),
                on_queued=functools.partial(channel.send, {"queued": spec.domain}),
                idle_timeout=spec.idle_timeout,
                limits=spec.limits,
                max_recipients=spec.max_recipients,
                cleartext_auth=spec.cleartext_auth,
                chaos=spec.chaos,
            )
            msa.accept_tokens(RemoteTokens(spec, channel))
            if spec.smarthost:
                msa.use_smarthost()
            msas.append(msa)
            bound = await msa.start(*spec.ports)
            ports[spec.domain] = [bound.implicit_tls, bound.starttls, bound.legacy]
    except OSError as exc:
        channel.send({"error": str(exc)})
        for msa in msas:
            await msa.stop()
        return 1
    channel.send({"ports": ports})
    while line := await _line():  # until the parent closes it, or is gone
        channel.answered(json.loads(line))
    for msa in msas:
        await msa.stop()
    return 0


def main() -> int:
    # Ctrl-C reaches the whole process group: the parent stops the child, in order.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING, format="msa: %(levelname)s %(name)s: %(message)s")
    with contextlib.suppress(BrokenPipeError):  # the parent went away first
        return asyncio.run(_serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
