"""The world's POP3 server: raw transcripts of every command, hostile input, and curl."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import shutil
import socket
import ssl
import struct
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from mua.cli.stack_command import settings_text
from mua.stack.imap.mailstore import Folder
from mua.stack.limits import ConnectionLimits
from mua.stack.pop3.server import Pop3Limits
from mua.stack.world import World
from tests.conftest import eventually, fast_options

MESSAGE = (
    b"From: Alice <alice@a.test>\r\nTo: Bob <bob@b.test>\r\nSubject: Dots\r\n"
    b"Message-ID: <dots@a.test>\r\n\r\nfirst line\r\n.a line that starts with a dot\r\n"
    b"..two dots\r\n.\r\nlast line\r\n"
)


class Pop3Wire:
    """Send exactly these bytes, read the replies."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.greeting = ""

    @classmethod
    async def open(cls, port: int, context: ssl.SSLContext | None = None) -> Pop3Wire:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=context, server_hostname="pop.b.test" if context else None
        )
        wire = cls(reader, writer)
        wire.greeting = await wire.line()
        return wire

    async def line(self, timeout: float = 10.0) -> str:
        raw = await asyncio.wait_for(self.reader.readline(), timeout)
        return raw.decode("utf-8", "replace").rstrip("\r\n") if raw else "<closed>"

    async def write(self, data: bytes | str) -> None:
        self.writer.write(data if isinstance(data, bytes) else data.encode())
        await self.writer.drain()

    async def command(self, text: str) -> str:
        await self.write(text + "\r\n")
        return await self.line()

    async def multiline(self, text: str) -> tuple[str, list[bytes]]:
        """The status line and, after +OK, the raw (still dot-stuffed) lines up to "."."""
        status = await self.command(text)
        lines: list[bytes] = []
        if status.startswith("+OK"):
            while (raw := await asyncio.wait_for(self.reader.readline(), 10)) != b".\r\n":
                assert raw, "the connection closed inside a multi-line response"
                lines.append(raw)
        return status, lines

    async def starttls(self, context: ssl.SSLContext) -> None:
        assert (await self.command("STLS")).startswith("+OK")
        await self.writer.start_tls(context, server_hostname="pop.b.test")

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await self.writer.wait_closed()


Opener = Callable[..., Awaitable[Pop3Wire]]


@pytest.fixture
async def pop3(world: World) -> AsyncIterator[Opener]:
    """`await pop3(implicit=True, login=True)`: a wire to bob's maildrop on b.test."""
    opened: list[Pop3Wire] = []

    async def open_wire(*, implicit: bool = True, login: bool = True) -> Pop3Wire:
        ports = world.providers["b.test"].ports
        assert ports is not None
        context = world.ca.client_context()
        wire = await Pop3Wire.open(
            ports.pop3_implicit if implicit else ports.pop3_starttls,
            context if implicit else None,
        )
        opened.append(wire)
        if login:
            if not implicit:
                await wire.starttls(context)
            bob = world.mailbox("bob@b.test")
            assert (await wire.command(f"USER {bob.user}")).startswith("+OK")
            assert (await wire.command(f"PASS {bob.password}")).startswith("+OK Maildrop locked")
        return wire

    yield open_wire
    for wire in opened:
        await wire.close()


def inbox(world: World) -> Folder:
    b = world.providers["b.test"]
    return b.store_for(world.mailbox("bob@b.test")).folder("INBOX")


async def test_every_command_on_the_995_role(world: World, pop3: Opener) -> None:
    folder = inbox(world)
    first = folder.append(MESSAGE)
    second = folder.append(b"Subject: two\r\n\r\nline 1\r\nline 2\r\nline 3\r\n")
    wire = await pop3()
    assert wire.greeting.startswith("+OK pop.b.test")
    status, caps = await wire.multiline("CAPA")
    assert status.startswith("+OK")
    assert {c.strip().decode() for c in caps} >= {"TOP", "UIDL", "RESP-CODES", "PIPELINING"}
    size = len(MESSAGE), folder.get(second).size  # type: ignore[union-attr]
    assert await wire.command("STAT") == f"+OK 2 {sum(size)}"
    status, lines = await wire.multiline("LIST")
    assert lines == [f"1 {size[0]}\r\n".encode(), f"2 {size[1]}\r\n".encode()]
    assert await wire.command("LIST 2") == f"+OK 2 {size[1]}"
    assert await wire.command("LIST 3") == "-ERR No such message"
    # UIDL agrees with what IMAP knows of the same message: UIDVALIDITY.UID
    status, lines = await wire.multiline("UIDL")
    uidls = [f"{folder.uidvalidity}.{first}", f"{folder.uidvalidity}.{second}"]
    assert lines == [f"1 {uidls[0]}\r\n".encode(), f"2 {uidls[1]}\r\n".encode()]
    assert await wire.command("UIDL 1") == f"+OK 1 {uidls[0]}"
    # RETR: dot-stuffed on the wire, exactly the message once unstuffed
    status, lines = await wire.multiline("RETR 1")
    assert status.startswith("+OK")
    assert b"..a line that starts with a dot\r\n" in lines and b"...two dots\r\n" in lines
    assert b"..\r\n" in lines
    unstuffed = b"".join(line[1:] if line.startswith(b".") else line for line in lines)
    assert unstuffed == MESSAGE
    # TOP: the header, the blank line, n body lines
    status, lines = await wire.multiline("TOP 2 1")
    assert lines == [b"Subject: two\r\n", b"\r\n", b"line 1\r\n"]
    status, lines = await wire.multiline("TOP 2 0")
    assert lines == [b"Subject: two\r\n", b"\r\n"]
    assert (await wire.command("NOOP")) == "+OK"
    # DELE marks; RSET unmarks; a deleted message is gone from the session's view
    assert (await wire.command("DELE 1")).startswith("+OK")
    assert (await wire.command("RETR 1")) == "-ERR Message 1 already deleted"
    assert (await wire.command("DELE 1")) == "-ERR Message 1 already deleted"
    assert await wire.command("STAT") == f"+OK 1 {size[1]}"
    assert (await wire.command("RSET")).startswith("+OK Maildrop has 2 messages")
    assert (await wire.command("DELE 2")).startswith("+OK")
    assert [m.uid for m in folder.messages()] == [first, second]  # nothing before QUIT
    assert (await wire.command("QUIT")).startswith("+OK")
    assert await wire.line() == "<closed>"
    assert [m.uid for m in folder.messages()] == [first]  # the UPDATE state applied DELE


async def test_the_110_role_refuses_passwords_until_stls(world: World, pop3: Opener) -> None:
    inbox(world).append(MESSAGE)
    bob = world.mailbox("bob@b.test")
    wire = await pop3(implicit=False, login=False)
    _status, caps = await wire.multiline("CAPA")
    names = {c.strip().decode() for c in caps}
    assert "STLS" in names and "USER" not in names and not any("SASL" in n for n in names)
    assert (await wire.command(f"USER {bob.user}")).startswith("-ERR [AUTH]")
    assert (await wire.command(f"PASS {bob.password}")).startswith("-ERR [AUTH]")
    plain = base64.b64encode(f"\0{bob.user}\0{bob.password}".encode()).decode()
    assert (await wire.command(f"AUTH PLAIN {plain}")).startswith("-ERR [AUTH]")
    assert (await wire.command("STAT")).startswith("-ERR STAT is not allowed")
    assert (await wire.command("RETR 1")).startswith("-ERR RETR is not allowed")
    # a command pipelined behind STLS in clear is dropped, not run under TLS
    await wire.write(f"STLS\r\nUSER {bob.user}\r\n")
    assert (await wire.line()).startswith("+OK Begin TLS")
    await wire.writer.start_tls(world.ca.client_context(), server_hostname="pop.b.test")
    assert (await wire.command(f"PASS {bob.password}")) == "-ERR Send USER first"
    _status, caps = await wire.multiline("CAPA")
    names = {c.strip().decode() for c in caps}
    assert "USER" in names and "STLS" not in names
    assert "SASL PLAIN XOAUTH2 OAUTHBEARER" in names  # tokens too, now under TLS
    assert (await wire.command(f"AUTH PLAIN {plain}")).startswith("+OK Maildrop locked: 1")
    assert (await wire.command("STLS")).startswith("-ERR STLS is not allowed")


async def test_auth_plain_with_a_continuation_and_bad_credentials(
    world: World, pop3: Opener
) -> None:
    bob = world.mailbox("bob@b.test")
    wire = await pop3(login=False)
    assert (await wire.command("USER bob")).startswith("+OK")
    assert (await wire.command("PASS wrong password")) == "-ERR [AUTH] Invalid credentials"
    assert (await wire.command("AUTH PLAIN")) == "+ "
    assert (await wire.command("x" * 10_000)) == "-ERR Line too long"  # a bad response
    assert (await wire.command("AUTH PLAIN")) == "+ "
    plain = base64.b64encode(f"\0{bob.user}\0{bob.password}".encode()).decode()
    assert (await wire.command(plain)).startswith("+OK Maildrop locked")


async def test_the_maildrop_is_locked_by_one_session(world: World, pop3: Opener) -> None:
    first = await pop3()
    second = await pop3(login=False)
    bob = world.mailbox("bob@b.test")
    assert (await second.command(f"USER {bob.user}")).startswith("+OK")
    assert (await second.command(f"PASS {bob.password}")).startswith("-ERR [IN-USE]")
    assert (await first.command("QUIT")).startswith("+OK")
    assert (await second.command(f"USER {bob.user}")).startswith("+OK")
    # the first session's end has released the lock
    assert (await second.command(f"PASS {bob.password}")).startswith("+OK Maildrop locked")


async def test_a_client_that_vanishes_deletes_nothing_and_frees_the_lock(
    world: World, pop3: Opener
) -> None:
    folder = inbox(world)
    uid = folder.append(MESSAGE + b"x" * 78 + b"\r\n" * 1)
    big = folder.append(b"Subject: big\r\n\r\n" + (b"y" * 998 + b"\r\n") * 8000)
    wire = await pop3()
    assert (await wire.command("DELE 1")).startswith("+OK")
    # RETR of 8 MB, read a little, then reset the connection mid-response
    await wire.write("RETR 2\r\n")
    assert (await wire.line()).startswith("+OK")
    await wire.reader.readexactly(4096)
    sock = wire.writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    wire.writer.transport.abort()
    pop3_server = world.providers["b.test"].pop3
    assert pop3_server is not None
    await eventually(lambda: not pop3_server._locked, what="the lock to be released")
    again = await pop3()  # the server is up, the lock is free, nothing was deleted
    assert (await again.command("STAT")).startswith("+OK 2 ")
    assert [m.uid for m in folder.messages()] == [uid, big]


async def test_thousands_of_dele(world: World, pop3: Opener) -> None:
    folder = inbox(world)
    uids = [folder.append(f"Subject: {n}\r\n\r\nbody {n}\r\n".encode()) for n in range(200)]
    wire = await pop3()
    # 5,000 DELE pipelined in one write: every one answered, none counted as a bad command
    await wire.write(b"".join(f"DELE {n % 250 + 1}\r\n".encode() for n in range(5000)))
    answers = [await wire.line() for _ in range(5000)]
    assert sum(a.startswith("+OK") for a in answers) == 200
    assert all(a.startswith(("+OK", "-ERR Message", "-ERR No such")) for a in answers)
    assert await wire.command("STAT") == "+OK 0 0"
    assert (await wire.command("QUIT")) == "+OK pop.b.test signing off (200 messages deleted)"
    assert folder.messages() == [] and uids


async def test_overlong_lines_and_bad_commands(world: World, pop3: Opener) -> None:
    wire = await pop3()
    # a line past the limit is read to its end and refused; the session goes on
    assert (await wire.command("NOOP " + "x" * 10_000)) == "-ERR Line too long"
    assert (await wire.command("NOOP")) == "+OK"
    assert (await wire.command("RETR one")) == "-ERR A message number is required"
    assert (await wire.command("FROB")) == "-ERR Unknown command 'FROB'"
    # a line that never ends is cut off
    never = await pop3(login=False)
    with contextlib.suppress(ConnectionError):  # the server may close while we still write
        await never.write(b"USER " + b"x" * (2 << 20))
    lines = []
    with contextlib.suppress(ConnectionError):  # ...and then our unsent rest makes it a reset
        while (line := await never.line()) != "<closed>":
            lines.append(line)
    assert lines in ([], ["-ERR Line too long; closing"])
    # too many bad commands (20, three of them above): sent away
    for _ in range(16):
        assert (await wire.command("FROB")).startswith("-ERR Unknown command")
    assert (await wire.command("FROB")).endswith("too many invalid commands, closing")
    assert (await wire.line()) == "<closed>"


async def test_the_retrieval_leg_is_in_the_event_log(world: World, pop3: Opener) -> None:
    inbox(world).append(MESSAGE)
    for implicit in (True, False):
        wire = await pop3(implicit=implicit)
        await wire.multiline("RETR 1")
        assert (await wire.command("QUIT")).startswith("+OK")
    legs = [
        r for r in world.events.read() if r.get("event") == "leg" and r.get("protocol") == "POP3"
    ]
    assert [(r["leg"], r["side"], r["message_id"]) for r in legs] == [
        ("retrieval", "server", "<dots@a.test>")
    ] * 2
    assert [(r["port"]["role"], r["tls"]["mode"], r["tls"]["encrypted"]) for r in legs] == [
        (995, "implicit", True),
        (110, "starttls", True),
    ]


async def test_autologout_before_login(tmp_path) -> None:
    limits = Pop3Limits(unauthenticated_timeout=0.5)
    async with World(tmp_path / "w", fast_options(b_test={"pop3_limits": limits})) as world:
        ports = world.providers["b.test"].ports
        assert ports is not None
        wire = await Pop3Wire.open(ports.pop3_starttls)
        assert (await wire.line()) == "-ERR Autologout; idle for too long"
        assert (await wire.line()) == "<closed>"
        await wire.close()


async def test_settings_and_srv_records_name_the_pop3_server(world: World) -> None:
    bob = next(a for a in world.settings()["accounts"] if a["address"] == "bob@b.test")
    ports = world.providers["b.test"].ports
    assert ports is not None
    assert bob["pop3"] == {
        "host": "pop.b.test",
        "implicit_tls_port": ports.pop3_implicit,
        "starttls_port": ports.pop3_starttls,
    }
    text = settings_text(world.settings(), world.directory)  # what `mua stack` prints
    assert (
        f"POP3 pop.b.test: implicit TLS 127.0.0.1:{ports.pop3_implicit}, "
        f"STLS 127.0.0.1:{ports.pop3_starttls}"
    ) in text
    resolver = world.resolver()
    srv = {}
    for service in ("_pop3s._tcp", "_pop3._tcp"):
        answer = await resolver.srv(service, "b.test")
        assert answer.secure
        srv[service] = [(r.priority, r.port, r.target) for r in answer.records]
    assert srv == {
        "_pop3s._tcp": [(0, ports.pop3_implicit, "pop.b.test")],
        "_pop3._tcp": [(10, ports.pop3_starttls, "pop.b.test")],
    }


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize("implicit", [True, False])
async def test_curl_reads_bobs_mail(world: World, implicit: bool) -> None:
    inbox(world).append(MESSAGE)
    bob = world.mailbox("bob@b.test")
    ports = world.providers["b.test"].ports
    assert ports is not None
    port = ports.pop3_implicit if implicit else ports.pop3_starttls
    scheme = "pop3s" if implicit else "pop3"
    args = ["curl", "-sS", "--max-time", "20", "--cacert", str(world.ca.ca_file)]
    args += ["--resolve", f"pop.b.test:{port}:127.0.0.1", "--user", f"{bob.user}:{bob.password}"]
    args += [] if implicit else ["--ssl-reqd"]
    listing = await asyncio.to_thread(
        subprocess.run, [*args, f"{scheme}://pop.b.test:{port}/"], capture_output=True
    )
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout == f"1 {len(MESSAGE)}\r\n".encode()
    got = await asyncio.to_thread(
        subprocess.run, [*args, f"{scheme}://pop.b.test:{port}/1"], capture_output=True
    )
    assert got.returncode == 0, got.stderr
    assert got.stdout == MESSAGE


async def test_the_connection_gate_refuses_one_too_many(tmp_path) -> None:
    limits = ConnectionLimits(total=10, per_address=2)
    options = fast_options(b_test={"connection_limits": limits})
    async with World(tmp_path / "w", options) as world:
        ports = world.providers["b.test"].ports
        assert ports is not None
        kept = [await Pop3Wire.open(ports.pop3_starttls) for _ in range(2)]
        refused = await Pop3Wire.open(ports.pop3_starttls)
        assert refused.greeting == "-ERR [SYS/TEMP] pop.b.test: too many connections from 127.0.0.1"
        assert await refused.line() == "<closed>"
        for wire in [*kept, refused]:
            await wire.close()
