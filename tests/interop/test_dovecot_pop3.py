"""The POP3 client against a server no one here wrote: Debian's dovecot-pop3d.

carol sends herself a message through Postfix; her POP3 account downloads it over Dovecot's
POP3S (the 995 role, the certificate verified), keeps it on the server (leave-on-server),
does not download it twice (UIDL state), and removes it from the server once she deletes it
here. What Dovecot holds is checked through a separate IMAP connection (tests/interop/
test_dovecot_postfix.py's server_view).
"""

from __future__ import annotations

import asyncio
import time

import pytest

from mua.client.engine import Engine
from mua.core.compose import Draft
from mua.core.legs import Grade, Leg
from mua.store.pop3_state import Pop3State
from tests.interop.servers import MailServers
from tests.interop.test_dovecot_postfix import server_view, unique_subject

pytestmark = pytest.mark.interop


def _on_server(servers: MailServers, subject: str) -> list[int]:
    with server_view(servers) as client:
        client.select_folder("INBOX", readonly=True)
        return client.search(["SUBJECT", subject])


async def test_carol_downloads_over_dovecot_pop3s(servers: MailServers, engine: Engine) -> None:
    if servers.dovecot.pop3_port is None:
        pytest.skip("dovecot-pop3d is not installed: run scripts/system-deps (as root)")
    account = servers.pop3_account()
    engine.accounts.add(account)
    engine.secrets.set(account.key, "imap", servers.password)
    engine.secrets.set(account.key, "smtp", servers.password)
    subject = unique_subject("pop3")
    outcome = await engine.send(
        Draft(sender=account.address, to=(account.address,), subject=subject)
    )
    assert outcome.sent, outcome.error
    deadline = time.monotonic() + 20
    while not await asyncio.to_thread(_on_server, servers, subject):
        assert time.monotonic() < deadline, "Postfix did not deliver to carol's Maildir"
        await asyncio.sleep(0.2)
    (result,) = await engine.sync(account.address)
    assert result.added >= 1
    (row,) = [
        m for m in engine.cache.page(account.address, "INBOX", limit=500) if m.subject == subject
    ]
    raw = await engine.body(account.address, "INBOX", row.uid)
    assert f"Subject: {subject}".encode() in raw
    trace = engine.cache.trace(account.address, row.message_id)
    (leg,) = [Leg.from_json(x) for x in trace.observed_legs if x["protocol"] == "POP3"]
    assert (
        leg.grade is Grade.GREEN and leg.tls.verified and leg.tls.version in ("TLSv1.2", "TLSv1.3")
    )
    state = Pop3State(engine.cache.path.parent / "pop3.sqlite3")
    try:
        assert row.uid in {r.uid for r in state.records(account.address).values()}
    finally:
        state.close()
    # leave on server, and no second download
    assert await asyncio.to_thread(_on_server, servers, subject)
    (again,) = await engine.sync(account.address)
    assert again.added == 0
    # deleted here: deleted on the server at the next sync
    await engine.delete(account.address, "INBOX", [row.uid])
    await engine.sync(account.address)
    assert await asyncio.to_thread(_on_server, servers, subject) == []
