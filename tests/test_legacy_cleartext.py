"""Issue 16: the legacy and cleartext rows of the table (submission on the 25 role in clear,
587 without STARTTLS, IMAP on 143 without STARTTLS), and the consent rule: the client never
sends a password in clear unless the account explicitly allows it, and then the leg says so.

Real servers on loopback: the world, with `cleartext_auth` only where a test needs it.
"""

from __future__ import annotations

import asyncio
import io
import json
from email.message import EmailMessage
from pathlib import Path

import pytest

from mua.cli import main
from mua.core.account import Account, ServerSettings
from mua.core.legs import LegKind, TraceStatus
from mua.core.tls_facts import Security
from mua.net.errors import CleartextRefused, NetError
from mua.net.imap import ImapEndpoint, ImapSession
from mua.net.submission import SubmissionEndpoint, submit
from mua.stack.demo import SCENARIOS, run_demo
from mua.stack.events import EventLog
from mua.stack.world import World
from tests.client_fixtures import memory_keyring  # noqa: F401
from tests.conftest import fast_options

IN_CLEAR = "your password crossed in clear"

# scenario -> (the leg's kind, its port role)
CLEARTEXT_ROWS = {
    "legacy-25": (LegKind.SUBMISSION, 25),
    "submission-clear": (LegKind.SUBMISSION, 587),
    "imap-clear": (LegKind.RETRIEVAL, 143),
}


@pytest.mark.parametrize("name", sorted(CLEARTEXT_ROWS))
async def test_cleartext_scenario_is_delivered_with_a_red_leg_the_log_agrees_with(
    name: str, tmp_path: Path
) -> None:
    scenario = SCENARIOS[name]
    trace = await run_demo(scenario, tmp_path)
    assert trace.status is scenario.expect is TraceStatus.DELIVERED
    kind, role = CLEARTEXT_ROWS[name]
    (leg,) = [leg for leg in trace.legs if leg.kind is kind]
    assert leg.grade.value == "red"
    assert leg.tls.encrypted is False
    assert leg.port_role == role
    assert IN_CLEAR in leg.note
    # Every other client leg kept its TLS: only the row the scenario shows is in clear.
    others = [
        other
        for other in trace.legs
        if other.kind in (LegKind.SUBMISSION, LegKind.RETRIEVAL) and other is not leg
    ]
    assert others and all(other.tls.encrypted for other in others)
    # The server's own record of the same leg: cleartext, on the same port.
    records = [
        e
        for e in EventLog(tmp_path / "events.jsonl").read()
        if e["event"] == "leg"
        and e["side"] == "server"
        and e["leg"] == kind.value
        and e.get("message_id") == trace.message_id
    ]
    assert records, f"the world recorded no {kind.value} leg"
    for record in records:
        assert record["tls"]["encrypted"] is False
        assert record["port"]["role"] == role
        assert record["port"]["actual"] == leg.port_actual


@pytest.mark.parametrize("name", sorted(CLEARTEXT_ROWS))
def test_cleartext_scenario_from_the_command_line(name: str, capsys) -> None:
    assert main(["demo", "--headless", "--scenario", name, "--json"]) == 0
    trace = json.loads(capsys.readouterr().out)
    red = [leg for leg in trace["legs"] if leg["grade"] == "red"]
    assert len(red) == 1 and IN_CLEAR in red[0]["note"]
    assert red[0]["tls"]["mode"] == "none"


def _message() -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "alice@a.test", "bob@b.test", "consent"
    msg.set_content("hello\n")
    return msg


def _smtp(world: World, port: int, role: int) -> SubmissionEndpoint:
    provider = world.providers["a.test"]
    return SubmissionEndpoint(
        "127.0.0.1",
        port,
        Security.NONE,
        ca_file=world.ca.ca_file,
        server_name=provider.smtp_host,
        role_port=role,
    )


def _submissions(world: World) -> list[dict]:
    return [e for e in world.events.read() if e["event"] == "leg" and e["leg"] == "submission"]


async def test_without_consent_no_password_is_sent_in_clear(tmp_path: Path) -> None:
    options = fast_options(a_test={"cleartext_auth": True}, b_test={"cleartext_auth": True})
    async with World(tmp_path, options) as world:
        ports = world.providers["a.test"].ports
        assert ports is not None and ports.legacy_submission
        alice = world.mailbox("alice@a.test")
        for port, role in ((ports.legacy_submission, 25), (ports.submission_starttls, 587)):
            for consent in ({}, {"allow_cleartext": True}):  # a cleartext link is not enough
                with pytest.raises(CleartextRefused, match="anyone on the network can read"):
                    await submit(
                        _smtp(world, port, role),
                        _message(),
                        username=alice.user,
                        password=alice.password,
                        **consent,
                    )
        assert _submissions(world) == []
        # IMAP: the connection may be made, the LOGIN is refused before it is sent.
        bob = world.mailbox("bob@b.test")
        b = world.providers["b.test"]
        assert b.ports is not None
        endpoint = ImapEndpoint(
            "127.0.0.1", b.ports.imap_starttls, Security.NONE, world.ca.ca_file, b.imap_host
        )

        def login() -> None:
            with ImapSession.connect(endpoint, timeout=10.0) as session:
                assert session.tls.encrypted is False
                session.login(bob.user, bob.password)

        with pytest.raises(CleartextRefused, match="anyone on the network can read"):
            await asyncio.to_thread(login)


async def test_with_consent_the_password_crosses_and_the_result_says_so(tmp_path: Path) -> None:
    options = fast_options(a_test={"cleartext_auth": True}, b_test={"cleartext_auth": True})
    async with World(tmp_path, options) as world:
        ports = world.providers["a.test"].ports
        assert ports is not None
        alice = world.mailbox("alice@a.test")
        result = await submit(
            _smtp(world, ports.legacy_submission, 25),
            _message(),
            username=alice.user,
            password=alice.password,
            allow_cleartext_auth=True,
        )
        assert result.password_in_clear and result.tls.encrypted is False
        assert result.port_role == 25
        # The leg the app keeps beside the sent message (the Journey tab shows it).
        from mua.client.outbox_sender import submission_leg

        smtp = ServerSettings("127.0.0.1", ports.legacy_submission, Security.NONE, alice.user)
        account = Account("alice@a.test", smtp, smtp, allow_cleartext_auth=True)
        leg = submission_leg(account, result)
        assert leg.grade.value == "red" and IN_CLEAR in leg.note
        bob = world.mailbox("bob@b.test")
        b = world.providers["b.test"]
        assert b.ports is not None
        endpoint = ImapEndpoint(
            "127.0.0.1", b.ports.imap_starttls, Security.NONE, world.ca.ca_file, b.imap_host
        )

        def login() -> tuple[bool, str]:
            with ImapSession.connect(endpoint, timeout=10.0) as session:
                session.login(bob.user, bob.password, allow_cleartext_auth=True)
                leg = session.retrieval_leg("client")
                return session.password_in_clear, leg.grade.value

        assert await asyncio.to_thread(login) == (True, "red")
    # Over TLS the same consent changes nothing: the password did not cross in clear.
    async with World(tmp_path / "tls", fast_options()) as world:
        provider = world.providers["a.test"]
        assert provider.ports is not None
        alice = world.mailbox("alice@a.test")
        endpoint = SubmissionEndpoint(
            "127.0.0.1",
            provider.ports.submission_implicit,
            Security.IMPLICIT,
            world.ca.ca_file,
            provider.smtp_host,
        )
        result = await submit(
            endpoint,
            _message(),
            username=alice.user,
            password=alice.password,
            allow_cleartext_auth=True,
        )
        assert result.password_in_clear is False and result.tls.encrypted


async def test_a_modern_world_refuses_auth_in_clear_even_with_consent(tmp_path: Path) -> None:
    """The world offers cleartext AUTH only in the scenarios that need it."""
    async with World(tmp_path, fast_options()) as world:
        ports = world.providers["a.test"].ports
        assert ports is not None and ports.legacy_submission == 0
        alice = world.mailbox("alice@a.test")
        with pytest.raises(NetError):
            await submit(
                _smtp(world, ports.submission_starttls, 587),
                _message(),
                username=alice.user,
                password=alice.password,
                allow_cleartext_auth=True,
            )
        assert _submissions(world) == []


def test_the_consent_is_a_per_account_setting_kept_in_the_config() -> None:
    imap = ServerSettings("imap.example", 143, Security.NONE, "u")
    smtp = ServerSettings("smtp.example", 587, Security.NONE, "u")
    account = Account("u@example", imap, smtp, cleartext_consent=True)
    assert account.allow_cleartext_auth is False  # never on by default
    allowed = account.with_changes(allow_cleartext_auth=True)
    assert Account.from_dict(allowed.to_dict()).allow_cleartext_auth is True
    assert Account.from_dict(account.to_dict()).allow_cleartext_auth is False


@pytest.mark.usefixtures("memory_keyring")
async def test_the_account_consent_from_the_command_line_to_a_sent_message(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    """`mua accounts add` refuses servers without TLS unless --allow-cleartext, warns when
    given it, and the account then signs in and sends in clear (the leg says so)."""
    from mua.cli.exit_codes import EXIT_NOPERM

    options = fast_options(a_test={"cleartext_auth": True}, b_test={"cleartext_auth": True})
    async with World(tmp_path / "world", options) as world:
        ports = world.providers["a.test"].ports
        assert ports is not None
        alice = world.mailbox("alice@a.test")
        argv = [
            "accounts", "add", "alice@a.test",
            "--imap", f"127.0.0.1:{ports.imap_starttls}", "--imap-security", "none",
            "--imap-server-name", "imap.a.test",
            "--smtp", f"127.0.0.1:{ports.submission_starttls}", "--smtp-security", "none",
            "--smtp-server-name", "smtp.a.test",
            "--ca-file", str(world.ca.ca_file), "--username", alice.user, "--password-stdin",
        ]  # fmt: skip

        def add(*extra: str) -> int:
            monkeypatch.setattr("sys.stdin", io.StringIO(alice.password + "\n"))
            return main([*argv, *extra])

        assert await asyncio.to_thread(add) == EXIT_NOPERM
        assert "passwords would cross the network in clear" in capsys.readouterr().err
        assert await asyncio.to_thread(add, "--allow-cleartext") == 0
        warned = capsys.readouterr().err
        assert "anyone on the path can read them" in warned
        from mua.store.config import AccountStore

        (account,) = AccountStore().load()
        assert account.allow_cleartext_auth is True
        sent = ["send", "--from", "alice@a.test", "--to", "bob@b.test", "--subject", "in clear",
                "--body", "hello", "--json"]  # fmt: skip
        assert await asyncio.to_thread(main, sent) == 0
        result = json.loads(capsys.readouterr().out)
        assert result["sent"] and result["tls"]["encrypted"] is False
        (record,) = [r for r in _submissions(world) if r["side"] == "server"]
        assert record["tls"]["encrypted"] is False and record["port"]["role"] == 587
