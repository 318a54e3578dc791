"""One error hierarchy for the network layer (mua/net/errors.py): submission, IMAP and POP3,
against the world's real servers on 127.0.0.1, each fail with the same class for the same
meaning, and each class is still the builtin it resembles."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from mua.core.tls_facts import Security
from mua.net.errors import (
    AuthenticationFailed,
    CertificateInvalid,
    NetError,
    NetTimeout,
    Unreachable,
)
from mua.net.imap import ImapEndpoint, ImapSession
from mua.net.pop3 import Pop3Endpoint, Pop3Session
from mua.net.submission import SubmissionEndpoint, submit
from mua.net.tls import CertificateProblem
from mua.stack.ca import LocalCA
from mua.stack.world import World

PROTOCOLS = ("submission", "imap", "pop3")
ADDRESS = "bob@b.test"


async def sign_in(
    protocol: str,
    port: int,
    server_name: str,
    ca_file: Path,
    user: str,
    password: str,
    timeout: float = 10.0,
) -> None:
    """Connect to `port` over implicit TLS and sign in, the way the account would."""
    if protocol == "submission":
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = ADDRESS, ADDRESS, "errors"
        message.set_content("One hierarchy.")
        endpoint = SubmissionEndpoint("127.0.0.1", port, Security.IMPLICIT, ca_file, server_name)
        await submit(endpoint, message, username=user, password=password, timeout=timeout)
        return

    def retrieve() -> None:
        if protocol == "imap":
            imap = ImapEndpoint("127.0.0.1", port, Security.IMPLICIT, ca_file, server_name)
            with ImapSession.connect(imap, timeout=timeout) as session:
                session.login(user, password)
            return
        pop3 = Pop3Endpoint("127.0.0.1", port, Security.IMPLICIT, ca_file, server_name)
        session = Pop3Session.connect(pop3, timeout=timeout)
        try:
            session.login(user, password)
        finally:
            session.close()

    await asyncio.to_thread(retrieve)


def server_of(world: World, protocol: str) -> tuple[int, str]:
    """The port and the certificate's name of the protocol's implicit-TLS listener."""
    provider = world.providers["b.test"]
    ports = provider.ports
    assert ports is not None
    return {
        "submission": (ports.submission_implicit, provider.smtp_host),
        "imap": (ports.imap_implicit, provider.imap_host),
        "pop3": (ports.pop3_implicit, provider.pop3_host),
    }[protocol]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_certificate_from_an_unknown_authority(
    world: World, tmp_path: Path, protocol: str
) -> None:
    port, name = server_of(world, protocol)
    stranger = LocalCA(tmp_path / "stranger").ca_file
    bob = world.mailbox(ADDRESS)
    with pytest.raises(CertificateInvalid, match="unknown authority") as caught:
        await sign_in(protocol, port, name, stranger, bob.user, bob.password)
    assert isinstance(caught.value, PermissionError)
    assert caught.value.reason is CertificateProblem.UNKNOWN_ISSUER
    assert not caught.value.temporary


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_wrong_password(world: World, protocol: str) -> None:
    port, name = server_of(world, protocol)
    bob = world.mailbox(ADDRESS)
    with pytest.raises(AuthenticationFailed, match="user name or password") as caught:
        await sign_in(protocol, port, name, world.ca.ca_file, bob.user, "not-the-password")
    assert isinstance(caught.value, PermissionError)
    assert "not-the-password" not in str(caught.value)


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the with block ends


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_closed_port(world: World, closed_port: int, protocol: str) -> None:
    _, name = server_of(world, protocol)
    with pytest.raises(Unreachable) as caught:
        await sign_in(protocol, closed_port, name, world.ca.ca_file, "bob", "secret")
    assert isinstance(caught.value, ConnectionError) and caught.value.temporary
    assert str(closed_port) in str(caught.value)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never says a word."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_silent_server_times_out(world: World, silent_port: int, protocol: str) -> None:
    _, name = server_of(world, protocol)
    with pytest.raises(NetTimeout) as caught:
        await sign_in(protocol, silent_port, name, world.ca.ca_file, "bob", "secret", 0.5)
    assert isinstance(caught.value, TimeoutError) and isinstance(caught.value, NetError)
    assert caught.value.temporary
