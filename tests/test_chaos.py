"""The chaos switch (`mua stack --chaos`): the world misbehaves on purpose, keeps its own
promises, and mua's client engine loses nothing and sends nothing twice through it."""

from __future__ import annotations

import asyncio
import email
import email.policy
import email.utils
import json
import logging
import os
import poplib
import re
import signal
import ssl
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from mua.cli.stack_command import settings_text
from mua.core.compose import Draft
from mua.core.tls_facts import Security
from mua.net.errors import AuthenticationFailed, NetError
from mua.net.imap import ImapError
from mua.net.submission import SubmissionEndpoint, submit
from mua.stack.chaos import ChaosOptions, Fault
from mua.stack.world import World
from tests.client_fixtures import make_engine, memory_keyring  # noqa: F401
from tests.conftest import eventually, fast_options, maildir_messages
from tests.smtp_wire import Wire
from tests.stackhelp import message, send

pytestmark = pytest.mark.usefixtures("memory_keyring")

N = 30
EVERYWHERE = float("inf")  # `now` for Outbox.due: every waiting message is due


def _chaotic_world(tmp_path: Path, chaos: ChaosOptions) -> World:
    options = fast_options()
    providers = {d: replace(o, chaos=chaos) for d, o in options.providers.items()}
    return World(tmp_path / "world", replace(options, providers=providers))


def _message_ids(raw_messages: list[bytes]) -> Counter[str]:
    found: Counter[str] = Counter()
    for raw in raw_messages:
        parsed = email.message_from_bytes(raw, policy=email.policy.compat32)
        found[str(parsed["Message-ID"]).strip()] += 1
    return found


async def test_a_chaotic_msa_says_250_exactly_for_what_it_queued(tmp_path: Path) -> None:
    """Every submission the MSA accepted arrives once; every one it failed never does: a
    fault comes instead of the work, never after it."""
    chaos = ChaosOptions(rate=0.5, seed=3, stall=0.3, roles=frozenset({"msa"}))
    async with _chaotic_world(tmp_path, chaos) as world:
        provider = world.providers["a.test"]
        assert provider.ports is not None
        endpoint = SubmissionEndpoint(
            "127.0.0.1",
            provider.ports.submission_implicit,
            Security.IMPLICIT,
            ca_file=world.ca.ca_file,
            server_name=provider.smtp_host,
        )
        alice = world.mailbox("alice@a.test")
        accepted, refused = [], []
        for n in range(20):
            sent = message("alice@a.test", ["bob@b.test"], subject=f"Promise {n}")
            sent["Message-ID"] = email.utils.make_msgid(domain="a.test")
            try:
                await submit(endpoint, sent, username=alice.user, password=alice.password)
            except NetError as exc:
                refused.append((str(sent["Message-ID"]), str(exc)))
            else:
                accepted.append(str(sent["Message-ID"]))
        assert accepted and refused  # the chaos was felt, and let some through
        assert any("chaos" in why for _mid, why in refused)
        msa = provider.msa
        assert msa is not None
        counts = sum((s.counts for s in msa._chaos.values() if s is not None), Counter())
        assert {Fault.TEMPORARY, Fault.PERMANENT, Fault.DROP, Fault.STALL} <= set(counts)
        await eventually(lambda: len(provider.queue) == 0, what="the queue to drain")
        arrived = _message_ids(maildir_messages(world, "bob@b.test"))
        assert sorted(arrived) == sorted(accepted)
        assert set(arrived.values()) == {1}


@pytest.mark.slow
async def test_the_engine_loses_nothing_and_sends_nothing_twice_through_chaos(
    tmp_path: Path,
) -> None:
    """Alice sends N messages through the Outbox to an MSA, and Bob syncs his INBOX from an
    IMAP server, that both misbehave (rate 0.3): retried until all are sent; a message a
    chaos 5xx failed permanently stays in the Outbox, marked failed with the server's
    words, and is sent again the way a user does it (Outbox.retry). In the end each message
    is in Bob's Maildir and in the client's cache exactly once, the Outbox is empty, and
    every failure the client met was one of its own errors with a sentence, not a crash.

    The MX takes no part: its client is the world's own MTA, which bounces on a 5xx."""
    chaos = ChaosOptions(rate=0.3, seed=14, stall=0.5, roles=frozenset({"msa", "imap"}))
    async with _chaotic_world(tmp_path, chaos) as world:
        engine = make_engine(world, tmp_path, "alice@a.test", "bob@b.test")
        try:
            wanted = []
            for n in range(N):
                draft = Draft(
                    sender="alice@a.test", to=("bob@b.test",), subject=f"Chaos {n}", text="x\n"
                )
                wanted.append(engine.queue(draft).message_id)
            sent: Counter[str] = Counter()
            permanent: list[str] = []
            rounds = 0
            while len(engine.outbox) and rounds < 100:
                rounds += 1
                for outcome in await engine.sender.send_due(now=EVERYWHERE):
                    if outcome.sent:
                        sent[outcome.entry.message_id] += 1
                    elif outcome.entry.failed:  # permanent: the user sends it again
                        assert outcome.entry in engine.outbox.entries()
                        assert outcome.error and outcome.entry.last_error == outcome.error
                        permanent.append(outcome.error)
                        engine.outbox.retry(outcome.entry)
            assert len(engine.outbox) == 0, f"still waiting after {rounds} rounds"
            assert sorted(sent) == sorted(wanted) and set(sent.values()) == {1}
            assert any("chaos" in error for error in permanent)  # a 5xx was met and kept

            await eventually(
                lambda: len(_message_ids(maildir_messages(world, "bob@b.test"))) >= N,
                timeout=60,
                what="every message in Bob's Maildir",
            )
            arrived = _message_ids(maildir_messages(world, "bob@b.test"))
            assert sorted(arrived) == sorted(wanted) and set(arrived.values()) == {1}

            failures: list[str] = []
            cached: Counter[str] = Counter()
            for _attempt in range(200):
                try:
                    await engine.sync("bob@b.test", ["INBOX"])
                except NetError as exc:  # the client's own error, with a sentence
                    failures.append(str(exc))
                rows = engine.cache.page("bob@b.test", "INBOX", limit=1000)
                cached = Counter(row.message_id for row in rows)
                if len(cached) >= N and failures:  # all in, and the chaos was met on the way
                    break
            assert sorted(cached) == sorted(wanted) and set(cached.values()) == {1}
            # Bob's syncs met the chaos too, and each failure said so in a sentence
            assert any("imap.b.test" in f and "chaos" in f for f in failures), failures
        finally:
            await engine.aclose()


async def test_chaos_off_by_default_and_in_the_settings(tmp_path: Path) -> None:
    async with World(tmp_path / "plain", fast_options()) as world:
        assert world.settings()["chaos"] is None
        assert "Chaos" not in settings_text(world.settings(), tmp_path)
    chaos = ChaosOptions(rate=0.25, seed=9)
    async with _chaotic_world(tmp_path, chaos) as world:
        assert world.settings()["chaos"] == {
            "rate": 0.25,
            "seed": 9,
            "stall": 3.0,
            "roles": ["imap", "msa", "mx", "pop3"],
            "faults": ["temporary", "permanent", "drop", "stall"],
        }
        text = settings_text(world.settings(), tmp_path)
        assert "Chaos: 25% of the commands go wrong on purpose (seed 9;" in text


def test_chaos_options_refuse_what_makes_no_sense() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        ChaosOptions(rate=1.5)
    with pytest.raises(ValueError, match="unknown chaos roles"):
        ChaosOptions(rate=0.1, roles=frozenset({"lmtp"}))
    with pytest.raises(ValueError, match="at least one kind"):
        ChaosOptions(rate=0.1, faults=frozenset())
    assert ChaosOptions(rate=0.0).source("msa", "x") is None


def test_one_listener_draws_the_same_faults_from_the_same_seed() -> None:
    def faults(seed: int) -> list[object]:
        source = ChaosOptions(rate=0.5, seed=seed).source("imap", "imap.b.test 993")
        assert source is not None
        return [source.draw("NOOP") for _ in range(50)]

    assert faults(1) == faults(1)
    assert faults(1) != faults(2)


def _run_stack(tmp_path: Path, *options: str) -> subprocess.Popen:
    env = {**os.environ, "MUA_HOME": str(tmp_path / "home")}
    command = [sys.executable, "-m", "mua", "stack", "--json", "--dir", str(tmp_path / "w")]
    return subprocess.Popen(
        [*command, *options], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


@pytest.mark.slow
async def test_mua_stack_chaos_json_and_a_raw_smtp_session_meets_it(tmp_path: Path) -> None:
    """`mua stack --chaos 0.5 --json` says chaos is on (rate, seed), and a plain SMTP client
    talking to the MX meets made-up errors or dropped connections within a few commands."""
    proc = _run_stack(tmp_path, "--chaos", "0.5", "--chaos-seed", "7")
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line, proc.stderr.read() if proc.stderr else ""
        settings = json.loads(line)
        assert settings["chaos"]["rate"] == 0.5 and settings["chaos"]["seed"] == 7
        assert settings["chaos"]["roles"] == ["imap", "msa", "mx", "pop3"]
        port = settings["domains"][1]["mx"]["port"]
        seen: list[str] = []
        wire: Wire | None = None
        for _command in range(100):
            if wire is None:
                wire = await Wire.open(port)
            try:
                reply = await wire.send("NOOP")
            except ConnectionError:
                reply = "<closed>"
            seen.append(reply)
            if reply.endswith("<closed>") or reply.startswith("421"):
                await wire.close()
                wire = None
            if any("chaos" in r for r in seen) and "<closed>" in "".join(seen):
                break
        if wire is not None:
            await wire.close()
        errors = [r for r in seen if "chaos" in r]
        assert errors and all(r[:1] in "45" for r in errors), seen
        assert any(r.endswith("<closed>") for r in seen), seen  # a dropped connection
        assert any(r.startswith("250") for r in seen), seen  # and commands carried out
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err


async def test_a_busy_server_refusing_login_is_no_wrong_password(tmp_path: Path) -> None:
    """LOGIN answered `NO [UNAVAILABLE]` (RFC 5530: a temporary failure) says to try again
    later; it does not tell the user that the password is wrong."""
    chaos = ChaosOptions(
        rate=1.0,
        roles=frozenset({"imap"}),
        faults=frozenset({Fault.TEMPORARY}),
        commands=frozenset({"LOGIN", "AUTHENTICATE"}),
    )
    async with _chaotic_world(tmp_path, chaos) as world:
        engine = make_engine(world, tmp_path, "bob@b.test")
        try:
            with pytest.raises(ImapError) as caught:
                await engine.sync("bob@b.test", ["INBOX"])
        finally:
            await engine.aclose()
    assert not isinstance(caught.value, AuthenticationFailed)
    assert "try again later" in str(caught.value) and "UNAVAILABLE" in str(caught.value)


def _pop_everything(port: int, context, user: str, password: str, rounds: int) -> dict:
    """A plain POP3 client (poplib) that keeps trying: log in, fetch what it has not got
    (by UIDL), delete it, QUIT; on any error start over. What it got, by UIDL; the errors."""
    got: dict[str, bytes] = {}
    errors: list[str] = []
    for _round in range(rounds):
        try:
            pop = poplib.POP3_SSL("127.0.0.1", port, context=context, timeout=10)
        except (poplib.error_proto, OSError) as exc:
            errors.append(str(exc))
            continue
        try:
            pop.user(user)
            pop.pass_(password)
            listing = pop.uidl()[1]
            for line in listing:
                number, uid = line.decode().split()
                if uid not in got:
                    got[uid] = b"\r\n".join(pop.retr(int(number))[1])
                pop.dele(int(number))
            pop.quit()
            if not listing:
                return {"got": got, "errors": errors}
        except (poplib.error_proto, OSError, EOFError) as exc:
            errors.append(str(exc))
            pop.close()
    return {"got": got, "errors": errors}


async def test_pop3_through_chaos_loses_nothing(tmp_path: Path) -> None:
    """A chaotic POP3 server answers -ERR [SYS/TEMP|PERM], drops and stalls, yet deletes a
    message only at a QUIT the client sent: a client that retries gets every message."""
    chaos = ChaosOptions(rate=0.3, seed=5, stall=0.3, roles=frozenset({"pop3"}))
    async with _chaotic_world(tmp_path, chaos) as world:
        for n in range(5):
            await send(world, "alice@a.test", ["bob@b.test"], subject=f"Pop {n}")
        await eventually(
            lambda: len(maildir_messages(world, "bob@b.test")) == 5, what="5 in Bob's Maildir"
        )
        provider = world.providers["b.test"]
        assert provider.ports is not None
        context = ssl.create_default_context(cafile=str(world.ca.ca_file))
        context.check_hostname = False  # poplib connects to 127.0.0.1; the CA is checked
        bob = world.mailbox("bob@b.test")
        result = await asyncio.to_thread(
            _pop_everything, provider.ports.pop3_implicit, context, bob.user, bob.password, 200
        )
        subjects = sorted(
            str(email.message_from_bytes(raw)["Subject"]) for raw in result["got"].values()
        )
        assert subjects == [f"Pop {n}" for n in range(5)]
        assert any("chaos" in e for e in result["errors"]), result["errors"]
        assert maildir_messages(world, "bob@b.test") == []


async def test_a_chaotic_mx_makes_the_mta_deliver_once_or_bounce_never_both(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The world's own MTA against a chaotic MX (rate 0.3): it retries what was put off
    (4xx, drops, stalls) and bounces what was refused (5xx). Each message ends up in Bob's
    Maildir exactly once or comes back to Alice as a bounce, never both, never neither; and
    the MTA takes an MX's error to EHLO as what it is, not as its own failure."""
    chaos = ChaosOptions(rate=0.3, seed=21, stall=0.5, roles=frozenset({"mx"}))
    # b.test's MX only: a bounce a.test's MX refused would be dropped (never bounced back)
    options = fast_options(b_test={"chaos": chaos})
    async with World(tmp_path / "world", options) as world:
        for n in range(20):
            await send(world, "alice@a.test", ["bob@b.test"], subject=f"Relay {n}")
        queue = world.providers["a.test"].queue
        await eventually(lambda: len(queue) == 0, timeout=60, what="a.test's queue to drain")
        delivered = Counter(
            str(email.message_from_bytes(raw)["Subject"])
            for raw in maildir_messages(world, "bob@b.test")
        )
        bounced = Counter(
            subject
            for raw in maildir_messages(world, "alice@a.test")
            for subject in re.findall(rb"(?m)^Subject: (Relay \d+)\r?$", raw)
        )
        subjects = {f"Relay {n}" for n in range(20)}
        assert set(delivered.values()) == {1} and set(bounced.values()) <= {1}
        assert set(delivered) | {s.decode() for s in bounced} == subjects
        assert not set(delivered) & {s.decode() for s in bounced}
        mx = world.providers["b.test"].mx
        assert mx is not None and mx._chaos is not None
        assert mx._chaos.counts[Fault.TEMPORARY] and mx._chaos.counts[Fault.DROP]
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []  # a made-up 4xx/5xx is the MX's answer, not the MTA's failure
