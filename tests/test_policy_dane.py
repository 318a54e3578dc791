"""DANE matching (RFC 6698, RFC 7671, RFC 7672 section 3.1) against real TLS handshakes.

A loopback TLS server presents a certificate from a local CA (its leaf alone, or the leaf
and the CA); the client side does what the relay does (no verification in the handshake)
and `dane.authenticate` judges the chain it received.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import ssl
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from mua.net import dane
from mua.net.dns import TlsaRecord
from mua.stack.ca import LocalCA, ServerCert

MX = "mx.b.test"
Handshake = Callable[..., Awaitable[list[bytes]]]


def _der(pem_file: Path) -> bytes:
    return x509.load_pem_x509_certificate(pem_file.read_bytes()).public_bytes(Encoding.DER)


def _spki(pem_file: Path) -> bytes:
    cert = x509.load_pem_x509_certificate(pem_file.read_bytes())
    return cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


@pytest.fixture
def ca(tmp_path: Path) -> LocalCA:
    return LocalCA(tmp_path / "ca")


@pytest.fixture
async def handshake(tmp_path: Path) -> AsyncIterator[Handshake]:
    """`await handshake(cert, with_ca=...)`: the chain a relay-like client receives."""
    servers: list[asyncio.Server] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            await reader.read()
        writer.close()

    async def run(cert: ServerCert, *, with_ca: Path | None = None) -> list[bytes]:
        server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        chain_file = cert.cert_file
        if with_ca is not None:
            chain_file = _chain_file(tmp_path, cert, with_ca)
        server_ctx.load_cert_chain(chain_file, cert.key_file)
        server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=server_ctx)
        servers.append(server)
        client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        client_ctx.check_hostname, client_ctx.verify_mode = False, ssl.CERT_NONE
        port = server.sockets[0].getsockname()[1]
        _reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port, ssl=client_ctx, server_hostname=MX), 5
        )
        chain = dane.peer_chain(writer.get_extra_info("ssl_object"))
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
        return chain

    yield run
    for server in servers:
        server.close()
        await server.wait_closed()


def _chain_file(directory: Path, cert: ServerCert, ca_file: Path) -> Path:
    """The leaf followed by its CA: what a server publishing DANE-TA must send."""
    path = directory / f"{cert.name}-chain.pem"
    path.write_bytes(cert.cert_file.read_bytes() + ca_file.read_bytes())
    return path


def _ee(selector: int, mtype: int, pem_file: Path) -> TlsaRecord:
    selected = _spki(pem_file) if selector == 1 else _der(pem_file)
    digest = {0: lambda b: b, 1: lambda b: hashlib.sha256(b).digest()}
    digest[2] = lambda b: hashlib.sha512(b).digest()
    return TlsaRecord(3, selector, mtype, digest[mtype](selected))


@pytest.mark.parametrize(("selector", "mtype"), [(1, 1), (0, 1), (1, 2), (0, 0), (1, 0), (0, 2)])
async def test_dane_ee_matches_the_presented_leaf(
    ca: LocalCA, handshake: Handshake, selector: int, mtype: int
) -> None:
    cert = ca.server_cert(MX)
    chain = await handshake(cert)
    ok, reason = dane.authenticate([_ee(selector, mtype, cert.cert_file)], chain, MX)
    assert ok, reason
    assert f"3 {selector} {mtype}" in reason


async def test_dane_ee_rejects_another_key(ca: LocalCA, handshake: Handshake) -> None:
    published = ca.server_cert("published.b.test")
    chain = await handshake(ca.server_cert(MX))
    for selector, mtype in ((1, 1), (0, 1), (1, 2), (0, 0)):
        ok, reason = dane.authenticate([_ee(selector, mtype, published.cert_file)], chain, MX)
        assert not ok
        assert "matches no" in reason


async def test_dane_ee_ignores_name_issuer_and_dates(tmp_path: Path, handshake: Handshake) -> None:
    """RFC 7672 section 3.1.1: with DANE-EE the key is the identity; nothing else is checked."""
    stranger = LocalCA(tmp_path / "nobody-trusts-this", organization="Nobody")
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    cert = stranger.server_cert("some-other-name.example", not_after=past)
    chain = await handshake(cert)
    ok, reason = dane.authenticate([_ee(1, 1, cert.cert_file)], chain, MX)
    assert ok, reason


@pytest.mark.parametrize(("selector", "mtype"), [(0, 1), (1, 1), (0, 0), (1, 2)])
async def test_dane_ta_matches_the_issuer_the_server_sends(
    ca: LocalCA, handshake: Handshake, selector: int, mtype: int
) -> None:
    """DANE-TA(2) needs the trust anchor in the chain the server sends (RFC 7672 3.1.2).
    Python before 3.13 exposes only the leaf publicly; `peer_chain` reads the whole chain
    through CPython's private `_sslobj.get_unverified_chain` (3.10+)."""
    cert = ca.server_cert(MX)
    chain = await handshake(cert, with_ca=ca.ca_file)
    assert len(chain) == 2, "the interpreter gave only the leaf"
    record = _ee(selector, mtype, ca.ca_file)
    ta = TlsaRecord(2, record.selector, record.mtype, record.data)
    ok, reason = dane.authenticate([ta], chain, MX)
    assert ok, reason
    assert "trust anchor" in reason


async def test_dane_ta_cannot_match_when_only_the_leaf_is_sent(
    ca: LocalCA, handshake: Handshake
) -> None:
    chain = await handshake(ca.server_cert(MX))
    assert len(chain) == 1
    record = _ee(0, 1, ca.ca_file)
    ok, reason = dane.authenticate([TlsaRecord(2, 0, 1, record.data)], chain, MX)
    assert not ok
    assert "no issuer certificate" in reason


async def test_dane_ta_checks_the_name(ca: LocalCA, handshake: Handshake) -> None:
    """RFC 7672 section 3.2.2: unlike DANE-EE, DANE-TA authenticates a name."""
    chain = await handshake(ca.server_cert("elsewhere.b.test"), with_ca=ca.ca_file)
    record = _ee(0, 1, ca.ca_file)
    ok, reason = dane.authenticate([TlsaRecord(2, 0, 1, record.data)], chain, MX)
    assert not ok
    assert "does not validate for mx.b.test" in reason


async def test_dane_ta_checks_the_dates(ca: LocalCA, handshake: Handshake) -> None:
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    chain = await handshake(ca.server_cert(MX, not_after=past), with_ca=ca.ca_file)
    record = _ee(0, 1, ca.ca_file)
    ok, reason = dane.authenticate([TlsaRecord(2, 0, 1, record.data)], chain, MX)
    assert not ok
    assert "expired" in reason


async def test_dane_ta_leaf_signed_by_another_ca_fails(
    ca: LocalCA, tmp_path: Path, handshake: Handshake
) -> None:
    """The chain names the published CA, but the leaf was not signed by it."""
    other = LocalCA(tmp_path / "other", organization="Other")
    chain = await handshake(other.server_cert(MX), with_ca=ca.ca_file)
    record = _ee(0, 1, ca.ca_file)
    ok, _reason = dane.authenticate([TlsaRecord(2, 0, 1, record.data)], chain, MX)
    assert not ok


async def test_pkix_usages_and_unknown_parameters_are_unusable(
    ca: LocalCA, handshake: Handshake
) -> None:
    """RFC 7672 section 3.1.3: PKIX-TA(0) and PKIX-EE(1) are not for SMTP; unknown selector
    or matching types are ignored, and with nothing usable nothing matches."""
    cert = ca.server_cert(MX)
    chain = await handshake(cert)
    good = _ee(1, 1, cert.cert_file)
    unusable = [
        TlsaRecord(1, 1, 1, good.data),
        TlsaRecord(0, 1, 1, good.data),
        TlsaRecord(3, 2, 1, good.data),
        TlsaRecord(3, 1, 3, good.data),
    ]
    assert dane.usable(unusable) == []
    assert dane.authenticate(unusable, chain, MX) == (False, "no usable TLSA record")
    ok, _ = dane.authenticate([*unusable, good], chain, MX)
    assert ok


def test_no_certificate_never_matches() -> None:
    record = TlsaRecord(3, 1, 1, b"\x00" * 32)
    assert dane.authenticate([record], [], MX) == (False, "the server presented no certificate")
    assert dane.peer_chain(None) == []


def test_interpreter_exposes_the_chain_one_way_or_another() -> None:
    """Documents the dependency: public API from 3.13, private `_sslobj` method before."""
    import _ssl

    public = sys.version_info >= (3, 13)
    assert public or hasattr(_ssl._SSLSocket, "get_unverified_chain")
