"""A POP3 account end to end against the world: send with the engine, download over POP3,
the UIDL state, leave-on-server, deletion on the server, offline reading, the CLI."""

from __future__ import annotations

import asyncio
import io
from dataclasses import replace
from pathlib import Path

import pytest

from mua.cli import main
from mua.client.engine import Engine
from mua.client.pop3_sync import Pop3Sync
from mua.core.account import Account, Pop3Settings, ServerSettings
from mua.core.compose import Draft
from mua.core.legs import Grade, Leg
from mua.core.tls_facts import Security
from mua.net.errors import CleartextRefused
from mua.net.pop3 import Pop3Endpoint, Pop3Session
from mua.net.pop3_discovery import discover_pop3
from mua.stack.imap.mailstore import Folder
from mua.stack.world import World
from mua.store.config import AccountStore
from mua.store.pop3_state import Pop3State
from tests.client_fixtures import make_engine, memory_keyring, world_account  # noqa: F401
from tests.conftest import eventually, fast_options
from tests.test_discovery import Page, site  # noqa: F401  (the site fixture)

pytestmark = pytest.mark.usefixtures("memory_keyring")

DAY = 86400.0


def pop3_account(world: World, address: str, security: Security = Security.IMPLICIT, **policy):
    provider = world.providers[address.rpartition("@")[2]]
    ports = provider.ports
    assert ports is not None
    port = ports.pop3_implicit if security is Security.IMPLICIT else ports.pop3_starttls
    server = ServerSettings(
        "127.0.0.1",
        port,
        security,
        world.mailbox(address).user,
        world.ca.ca_file,
        provider.pop3_host,
    )
    return replace(world_account(world, address), pop3=Pop3Settings(server, **policy))


def engine_with_pop3_bob(world: World, tmp_path: Path, **policy) -> Engine:
    engine = make_engine(world, tmp_path, "alice@a.test", "bob@b.test")
    engine.accounts.update(pop3_account(world, "bob@b.test", **policy))
    return engine


def bobs_inbox(world: World) -> Folder:
    provider = world.providers["b.test"]
    return provider.store_for(world.mailbox("bob@b.test")).folder("INBOX")


async def send_to_bob(engine: Engine, world: World, subject: str) -> None:
    outcome = await engine.send(Draft(sender="alice@a.test", to=("bob@b.test",), subject=subject))
    assert outcome.sent, outcome.error
    inbox = bobs_inbox(world)
    await eventually(
        lambda: any(subject in str(m.summary.get("envelope")) for m in inbox.messages()),
        what=f"{subject!r} in bob's maildrop",
    )


async def test_send_then_download_over_pop3_leaving_a_copy(world: World, tmp_path: Path) -> None:
    engine = engine_with_pop3_bob(world, tmp_path)
    try:
        await send_to_bob(engine, world, "Over POP3")
        (result,) = await engine.sync("bob@b.test")
        assert (result.folder, result.added, result.method) == ("INBOX", 1, "pop3")
        (row,) = engine.cache.page("bob@b.test", "INBOX")
        assert row.subject == "Over POP3" and row.sender_address == "alice@a.test"
        raw = await engine.body("bob@b.test", "INBOX", row.uid)
        assert b"Subject: Over POP3" in raw
        # the UIDL state: the server's <uidvalidity>.<uid>, mapped to the local UID
        (server_message,) = bobs_inbox(world).messages()
        uidl = f"{bobs_inbox(world).uidvalidity}.{server_message.uid}"
        records = Pop3State(tmp_path / "pop3.sqlite3").records("bob@b.test")
        assert list(records) == [uidl] and records[uidl].uid == row.uid
        # the retrieval leg: observed by the client, graded green, the table's note
        trace = engine.cache.trace("bob@b.test", row.message_id)
        legs = [Leg.from_json(leg) for leg in trace.observed_legs]
        (pop3_leg,) = [leg for leg in legs if leg.protocol.value == "POP3"]
        assert pop3_leg.grade is Grade.GREEN and pop3_leg.port_role == 995
        assert "POP3 downloads the messages, where IMAP keeps them in sync" in pop3_leg.note
        # ... and by the server, in the event log
        served = [
            r
            for r in world.events.read()
            if r.get("protocol") == "POP3" and r.get("message_id") == row.message_id
        ]
        assert [(r["side"], r["leg"], r["port"]["role"]) for r in served] == [
            ("server", "retrieval", 995)
        ]
        # leave on server (Thunderbird's default): still there; a second sync adds nothing
        assert len(bobs_inbox(world).messages()) == 1
        (again,) = await engine.sync("bob@b.test", ["INBOX"])
        assert again.added == 0 and engine.cache.count("bob@b.test", "INBOX") == 1
        # deleted here: deleted on the server at the next sync
        await engine.delete("bob@b.test", "INBOX", [row.uid])
        assert engine.cache.count("bob@b.test", "INBOX") == 0
        assert len(bobs_inbox(world).messages()) == 1
        await engine.sync("bob@b.test")
        assert bobs_inbox(world).messages() == []
        assert Pop3State(tmp_path / "pop3.sqlite3").records("bob@b.test") == {}
    finally:
        await engine.aclose()


async def test_keep_days_and_not_leaving_mail_on_the_server(world: World, tmp_path: Path) -> None:
    engine = make_engine(world, tmp_path, "alice@a.test")
    state = Pop3State(tmp_path / "pop3.sqlite3")
    try:
        await send_to_bob(engine, world, "Kept a while")
        now = [1_900_000_000.0]
        account = pop3_account(world, "bob@b.test", security=Security.STARTTLS)
        password = world.mailbox("bob@b.test").password
        sync = Pop3Sync(account, lambda: password, engine.cache, state, clock=lambda: now[0])
        assert (await asyncio.to_thread(sync.sync_folder, "INBOX")).added == 1
        assert sync.last_tls is not None and sync.last_tls.mode.value == "starttls"
        now[0] += 13 * DAY
        await asyncio.to_thread(sync.sync_folder, "INBOX")
        assert len(bobs_inbox(world).messages()) == 1  # 13 days: still kept
        now[0] += 1 * DAY
        await asyncio.to_thread(sync.sync_folder, "INBOX")
        assert bobs_inbox(world).messages() == []  # 14 days after download: removed there
        assert engine.cache.count("bob@b.test", "INBOX") == 1  # ... and still here
        # not leaving mail on the server: removed in the same session that downloaded it
        await send_to_bob(engine, world, "Not kept")
        gone = Pop3Sync(
            replace(account, pop3=replace(account.pop3, leave_on_server=False)),
            lambda: password,
            engine.cache,
            state,
        )
        assert (await asyncio.to_thread(gone.sync_folder, "INBOX")).added == 1
        assert bobs_inbox(world).messages() == []
        assert engine.cache.count("bob@b.test", "INBOX") == 2
    finally:
        state.close()
        await engine.aclose()


async def test_offline_the_downloaded_mail_stays_readable(world: World, tmp_path: Path) -> None:
    engine = engine_with_pop3_bob(world, tmp_path)
    try:
        await send_to_bob(engine, world, "Read me offline")
        await engine.sync("bob@b.test")
        pop3_server = world.providers["b.test"].pop3
        assert pop3_server is not None
        await pop3_server.stop()
        with pytest.raises(ConnectionError):
            await engine.sync("bob@b.test")
        (row,) = engine.cache.page("bob@b.test", "INBOX")
        assert b"Read me offline" in await engine.body("bob@b.test", "INBOX", row.uid)
    finally:
        await engine.aclose()


async def test_a_password_never_crosses_in_clear_without_consent(world: World) -> None:
    ports = world.providers["b.test"].ports
    assert ports is not None
    endpoint = Pop3Endpoint(
        "127.0.0.1", ports.pop3_starttls, Security.NONE, world.ca.ca_file, "pop.b.test"
    )
    session = await asyncio.to_thread(Pop3Session.connect, endpoint, timeout=10)
    try:
        assert session.tls.encrypted is False
        with pytest.raises(CleartextRefused):
            session.login("bob", world.mailbox("bob@b.test").password)  # refused before I/O
    finally:
        await asyncio.to_thread(session.close)


async def test_cli_adds_a_pop3_account(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    assert world.dns is not None and world.zones is not None
    ports = world.providers["b.test"].ports
    assert ports is not None
    monkeypatch.setattr("sys.stdin", io.StringIO(world.mailbox("bob@b.test").password + "\n"))
    code = await asyncio.to_thread(
        main,
        [
            "accounts", "add", "bob@b.test",
            "--pop3", f"127.0.0.1:{ports.pop3_implicit}", "--pop3-security", "implicit",
            "--pop3-server-name", "pop.b.test",
            "--nameserver", f"127.0.0.1:{world.dns.port}",
            "--trust-anchor", str(world.zones.trust_anchor_file),
            "--ca-file", str(world.ca.ca_file),
            "--username", world.mailbox("bob@b.test").user,
            "--password-stdin",
        ],
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"POP3 pop.b.test:{ports.pop3_implicit} (implicit)" in out
    (account,) = AccountStore().load()
    assert isinstance(account, Account) and account.pop3 is not None
    assert account.pop3.leave_on_server and account.pop3.keep_days == 14
    assert account.pop3.delete_when_deleted_locally


async def test_discovery_finds_pop3s_first_by_srv(world: World) -> None:
    assert world.dns is not None and world.zones is not None
    ports = world.providers["b.test"].ports
    assert ports is not None
    found = await discover_pop3(
        "bob@b.test",
        nameserver=("127.0.0.1", world.dns.port),
        trust_anchor_file=world.zones.trust_anchor_file,
        ca_file=world.ca.ca_file,
    )
    assert found.found is not None, found.steps
    candidate = found.found
    assert (candidate.host, candidate.port, candidate.security, candidate.server_name) == (
        "127.0.0.1",
        ports.pop3_implicit,
        Security.IMPLICIT,
        "pop.b.test",
    )
    assert candidate.tls is not None and candidate.tls.verified
    assert found.steps[0] == f"SRV _pop3s._tcp.b.test: pop.b.test port {ports.pop3_implicit}."


async def test_cli_discovers_the_pop3_server(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    assert world.dns is not None and world.zones is not None
    ports = world.providers["b.test"].ports
    assert ports is not None
    monkeypatch.setattr("sys.stdin", io.StringIO(world.mailbox("bob@b.test").password + "\n"))
    code = await asyncio.to_thread(
        main,
        [
            "accounts", "add", "bob@b.test", "--pop3",
            "--nameserver", f"127.0.0.1:{world.dns.port}",
            "--trust-anchor", str(world.zones.trust_anchor_file),
            "--ca-file", str(world.ca.ca_file),
            "--username", world.mailbox("bob@b.test").user,
            "--password-stdin",
        ],
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"POP3 pop.b.test:{ports.pop3_implicit} (implicit)" in out


@pytest.mark.parametrize(
    ("security", "encrypted", "grade"),
    [
        (Security.IMPLICIT, True, Grade.GREEN),  # 995, verified: what RFC 8314 recommends
        (Security.STARTTLS, True, Grade.AMBER),  # 110 with STLS: a cleartext exchange first
        (Security.NONE, False, Grade.RED),  # 110 in clear
    ],
)
def test_the_pop3_retrieval_leg_is_graded_like_imap(
    security: Security, encrypted: bool, grade: Grade
) -> None:
    from mua.core.tls_facts import TlsFacts, TlsMode, VerifiedBy

    mode = {Security.IMPLICIT: TlsMode.IMPLICIT, Security.STARTTLS: TlsMode.STARTTLS}
    tls = (
        TlsFacts(encrypted=True, mode=mode[security], verified=True, verified_by=VerifiedBy.PKI)
        if encrypted
        else TlsFacts.cleartext()
    )
    endpoint = Pop3Endpoint("pop.b.test", 0, security)
    session = Pop3Session(endpoint, client=None, tls=tls)  # type: ignore[arg-type]
    leg = session.retrieval_leg("laptop")
    assert leg.protocol.value == "POP3" and leg.kind.value == "retrieval"
    assert leg.port_role == (995 if security is Security.IMPLICIT else 110)
    assert leg.grade is grade
    assert "RFC 8314" in leg.note


async def test_a_consented_cleartext_login_is_red_and_says_so(tmp_path: Path) -> None:
    options = fast_options(b_test={"cleartext_auth": True})  # a legacy provider
    async with World(tmp_path / "w", options) as world:
        engine = make_engine(world, tmp_path, "alice@a.test")
        state = Pop3State(tmp_path / "pop3.sqlite3")
        try:
            await send_to_bob(engine, world, "In clear")
            account = replace(
                pop3_account(world, "bob@b.test", security=Security.NONE),
                allow_cleartext_auth=True,
            )
            password = world.mailbox("bob@b.test").password
            sync = Pop3Sync(account, lambda: password, engine.cache, state)
            assert (await asyncio.to_thread(sync.sync_folder, "INBOX")).added == 1
            (row,) = engine.cache.page("bob@b.test", "INBOX")
            trace = engine.cache.trace("bob@b.test", row.message_id)
            (leg,) = [Leg.from_json(x) for x in trace.observed_legs if x["protocol"] == "POP3"]
            assert leg.grade is Grade.RED and leg.port_role == 110
            assert "your password crossed in clear" in leg.note
        finally:
            state.close()
            await engine.aclose()


AUTOCONFIG = """<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="c.test">
    <domain>c.test</domain>
    <incomingServer type="imap">
      <hostname>imap.a.test</hostname><port>993</port><socketType>SSL</socketType>
    </incomingServer>
    <incomingServer type="pop3">
      <hostname>pop.a.test</hostname><port>{starttls}</port><socketType>STARTTLS</socketType>
      <username>%EMAILLOCALPART%</username>
    </incomingServer>
    <incomingServer type="pop3">
      <hostname>pop.a.test</hostname><port>{implicit}</port><socketType>SSL</socketType>
    </incomingServer>
  </emailProvider>
</clientConfig>
"""


async def test_discovery_reads_pop3_from_autoconfig_implicit_first(world: World, site) -> None:  # noqa: F811
    assert world.dns is not None and world.zones is not None
    ports = world.providers["a.test"].ports
    assert ports is not None
    body = AUTOCONFIG.format(starttls=ports.pop3_starttls, implicit=ports.pop3_implicit)
    web = site({"/config.xml": Page(body.encode())}, world.ca.server_cert("autoconfig.c.test"))
    found = await discover_pop3(
        "carol@c.test",  # c.test publishes no SRV record
        nameserver=("127.0.0.1", world.dns.port),
        trust_anchor_file=world.zones.trust_anchor_file,
        ca_file=world.ca.ca_file,
        autoconfig_urls=lambda domain, address: [web.url("/config.xml")],
    )
    assert found.found is not None, found.steps
    assert (found.found.port, found.found.security, found.found.server_name) == (
        ports.pop3_implicit,
        Security.IMPLICIT,
        "pop.a.test",
    )
    assert found.found.origin.startswith("From the autoconfig file at https://")
    assert web.requests == ["/config.xml"]
