"""A connection the kernel accepted just as an aiosmtpd listener of the world stopped
(mua/stack/smtpd.py OpenSessions): Python 3.11 makes its transport a turn of the loop after
`Server.close()`, when the listener's open sessions have already been cut. It must be cut
too, not served by a stopped server and closed by the garbage collector ("unclosed
transport", which failed a CI run in tests/test_requiretls.py)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from mua.stack.events import EventLog
from mua.stack.mda import Mda
from mua.stack.mx import Mx
from mua.stack.users import Mailbox, UserDirectory


async def test_a_connection_made_after_the_mx_stopped_is_cut(tmp_path: Path) -> None:
    mx = Mx(
        hostname="mx.b.test",
        users=UserDirectory("b.test", [Mailbox("bob", "b.test", "secret")]),
        mda=Mda(tmp_path / "mail"),
        events=EventLog(tmp_path / "events.jsonl"),
        tls_context=None,
    )
    await mx.start()
    make_session = mx._factory()
    await mx.stop()
    ours, theirs = socket.socketpair()  # the late connection, as the loop hands it over
    theirs.setblocking(False)
    loop = asyncio.get_running_loop()
    transport, _session = await loop.connect_accepted_socket(make_session, ours)
    try:
        said = await asyncio.wait_for(loop.sock_recv(theirs, 1024), 5)
        assert said == b""  # closed without a greeting
        assert transport.is_closing()
        assert mx.gate.open == 0  # and the gate counts it no more
    finally:
        transport.abort()
        theirs.close()
    port = await mx.start()  # started again, it serves again
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert (await asyncio.wait_for(reader.readline(), 5)).startswith(b"220 ")
        writer.close()
        await writer.wait_closed()
    finally:
        await mx.stop()
