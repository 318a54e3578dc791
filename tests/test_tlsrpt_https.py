"""TLS-RPT reports POSTed to an `https:` rua (RFC 8460 section 5.3.2), end to end on loopback:
the client in mua/net/https_post.py, the world's receiver, and the MTA sending to every rua."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import gzip
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import pytest

from mua.net.https_post import HttpsPostError, parse_https_url, post
from mua.net.tls import client_context
from mua.stack.ca import LocalCA
from mua.stack.demo import SCENARIOS, scenario_options
from mua.stack.tlsrpt import ReportOutcome
from mua.stack.tlsrpt_https import CONTENT_TYPE, https_uris
from mua.stack.tlsrpt_server import ReportReceiver, receiver_paths
from mua.stack.world import World, WorldOptions
from mua.stack.zones import DomainSpec
from tests.conftest import eventually, fast_options, maildir_messages
from tests.stackhelp import send

HTTPS_RUA = "https://tlsrpt.b.test/v1/tlsrpt"
MAILBOX = "tls-reports@b.test"

# --- pure parts --------------------------------------------------------------------------------


def test_parse_https_url() -> None:
    assert parse_https_url(HTTPS_RUA) == parse_https_url("HTTPS://TLSRPT.b.test./v1/tlsrpt")
    where = parse_https_url("https://r.b.test:8443/in?d=b.test")
    assert (where.host, where.port, where.target) == ("r.b.test", 8443, "/in?d=b.test")
    assert parse_https_url("https://r.b.test").target == "/"
    for bad in ("http://r.b.test/x", "mailto:a@b.test", "https:///x", "https://r.b.test/a b"):
        with pytest.raises(ValueError):
            parse_https_url(bad)


def test_https_uris_and_receiver_paths() -> None:
    rua = ("mailto:a@b.test", HTTPS_RUA, "https://other.test/x", HTTPS_RUA, "ftp://b.test/")
    assert https_uris(rua) == [HTTPS_RUA, "https://other.test/x"]
    assert receiver_paths(rua, "tlsrpt.b.test") == {"/v1/tlsrpt"}
    # A URI with its own port is not the world's host: the world decides where that listens.
    assert receiver_paths(("https://tlsrpt.b.test:9/v1",), "tlsrpt.b.test") == frozenset()


# --- the client against servers that misbehave ------------------------------------------------


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _serve(handler: Handler, context=None) -> AsyncIterator[int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=context)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


def _answering(answer: bytes) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(answer)
        await writer.drain()
        writer.close()

    return handler


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read()  # reads the request and never answers; ends when the client gives up
    writer.close()


def _with_report_host(specs: list[DomainSpec]) -> None:
    next(s for s in specs if s.domain == "b.test").hosts["tlsrpt.b.test"] = "127.0.0.1"


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (b"HTTP/1.1 302 Found\r\nLocation: https://elsewhere.test/\r\n\r\n", "HTTP 302 Found"),
        (b"HTTP/1.1 500 Internal Server Error\r\n\r\n", "HTTP 500"),
        (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", "not an HTTP answer"),
        (None, r"no answer within 0\.3 s"),  # the timeout fires
    ],
)
async def test_anything_but_a_2xx_is_a_failure(
    world: World, answer: bytes | None, why: str
) -> None:
    world.rebuild_zones(_with_report_host)
    cert = world.ca.server_cert("tlsrpt.b.test")
    handler = _silent if answer is None else _answering(answer)
    async for port in _serve(handler, cert.server_context()):
        with pytest.raises(HttpsPostError, match=why):
            await post(
                f"https://tlsrpt.b.test:{port}/v1",
                b"{}",
                content_type=CONTENT_TYPE,
                resolver=world.resolver(),
                context=client_context(world.ca.ca_file),
                timeout=0.3,
            )


async def test_a_host_without_an_address_is_a_failure(world: World) -> None:
    with pytest.raises(HttpsPostError, match=r"nowhere\.b\.test has no address"):
        await post(
            "https://nowhere.b.test/v1",
            b"{}",
            content_type=CONTENT_TYPE,
            resolver=world.resolver(),
            context=client_context(world.ca.ca_file),
            timeout=2.0,
        )


# --- the world's receiver ------------------------------------------------------------------


async def test_the_receiver_takes_reports_and_refuses_the_rest(tmp_path: Path) -> None:
    options = fast_options(b_test={"tlsrpt_rua": (HTTPS_RUA,)})
    report = {"organization-name": "x", "report-id": "r1", "policies": [{"policy": {}}]}
    async with World(tmp_path / "world", options) as world:
        b = world.providers["b.test"]
        assert b.report_receiver is not None and b.ports is not None

        async def post_(url: str, body: bytes, content_type: str = CONTENT_TYPE) -> int:
            return await post(
                url,
                body,
                content_type=content_type,
                resolver=world.resolver(),
                context=client_context(world.ca.ca_file),
                port_for=lambda host: b.ports.tlsrpt,
                timeout=5.0,
            )

        plain = json.dumps(report).encode()
        assert await post_(HTTPS_RUA, plain, "application/tlsrpt+json") == 201
        refusals = [
            (HTTPS_RUA.replace("/v1/", "/v2/"), gzip.compress(plain), CONTENT_TYPE, "404"),
            (HTTPS_RUA, plain, "application/json", "415"),
            (HTTPS_RUA, gzip.compress(b"not json"), CONTENT_TYPE, "400"),
            (HTTPS_RUA, gzip.compress(b'{"no": "policies"}'), CONTENT_TYPE, "400"),
            (HTTPS_RUA, gzip.compress(b" " * 3_000_000), CONTENT_TYPE, "413"),  # a gzip bomb
        ]
        for url, body, media, status in refusals:
            with pytest.raises(HttpsPostError, match=f"HTTP {status}"):
                await post_(url, body, media)
        kept = b.report_receiver.received()
    assert [p.suffix for p in kept] == [".json"]
    assert json.loads(kept[0].read_bytes()) == report
    assert kept[0].parent == tmp_path / "world" / "b.test" / "tlsrpt" / "received"


# --- the MTA sends the day's report to the https rua -------------------------------------------


def _strip_dane(**b_test: object) -> WorldOptions:
    """strip-dane: an attacker strips STARTTLS before b.test's MX and DANE defers."""
    options = scenario_options(SCENARIOS["strip-dane"])
    options.providers["b.test"] = replace(options.providers["b.test"], **b_test)
    return options


async def _a_failed_delivery(world: World) -> None:
    await send(world, "alice@a.test", ["bob@b.test"], subject="reported")
    await eventually(
        lambda: [e for e in world.events.read() if e["event"] == "deferred"], what="deferral"
    )


def _events(world: World, kind: str) -> list[dict]:
    return [e for e in world.events.read() if e["event"] == kind]


async def test_the_daily_report_is_posted_to_the_https_rua(tmp_path: Path) -> None:
    async with World(tmp_path / "world", _strip_dane(tlsrpt_rua=(HTTPS_RUA,))) as world:
        await _a_failed_delivery(world)
        mta = world.providers["a.test"].mta
        receiver = world.providers["b.test"].report_receiver
        assert mta is not None and receiver is not None
        today = dt.datetime.now(dt.UTC).date()
        assert await mta.send_tls_report("a.test", today) == ReportOutcome()  # asks for none
        assert await mta.send_tls_report("b.test", today) == ReportOutcome((HTTPS_RUA,))
        (path,) = receiver.received()
        (received,) = _events(world, "tlsrpt_received")
        (posted,) = _events(world, "tlsrpt_posted")
    assert path.parent == tmp_path / "world" / "b.test" / "tlsrpt" / "received"
    assert path.name.endswith(".json.gz")
    report = json.loads(gzip.decompress(path.read_bytes()))
    assert report["organization-name"] == "smtp.a.test"
    (policy,) = report["policies"]
    assert policy["policy"]["policy-domain"] == "b.test"
    assert policy["policy"]["policy-type"] == "tlsa"
    summary = policy["summary"]
    failures = summary["total-failure-session-count"]
    assert summary["total-successful-session-count"] == 0 and failures >= 1
    details = policy["failure-details"]
    assert sum(d["failed-session-count"] for d in details) == failures
    assert {d["result-type"] for d in details} == {"starttls-not-supported"}
    assert received["policy_domains"] == ["b.test"] and received["path"] == str(path)
    assert received["report_id"] == report["report-id"]
    assert (posted["uri"], posted["status"]) == (HTTPS_RUA, 201)


async def test_a_receiver_with_a_certificate_from_another_ca_gets_nothing(
    tmp_path: Path,
) -> None:
    """The report's sender verifies the receiver against the world's CA, always: an endpoint
    with a certificate from anyone else is not sent the report, and the failure is logged."""
    stranger = LocalCA(tmp_path / "stranger-ca", organization="Stranger")
    async with World(tmp_path / "world", _strip_dane()) as world:
        impostor = ReportReceiver(
            "tlsrpt.b.test",
            frozenset({"/v1/tlsrpt"}),
            tmp_path / "impostor",
            world.events,
            stranger.server_cert("tlsrpt.b.test").server_context(),
        )
        port = await impostor.start()
        uri = f"https://tlsrpt.b.test:{port}/v1/tlsrpt"

        def publish(specs: list[DomainSpec]) -> None:
            _with_report_host(specs)
            spec = next(s for s in specs if s.domain == "b.test")
            spec.txt["_smtp._tls.b.test"] = [f"v=TLSRPTv1; rua={uri}"]

        try:
            world.rebuild_zones(publish)
            await _a_failed_delivery(world)
            mta = world.providers["a.test"].mta
            assert mta is not None
            outcome = await mta.send_tls_report("b.test", dt.datetime.now(dt.UTC).date())
        finally:
            await impostor.stop()
        (failed,) = _events(world, "tlsrpt_failed")
        assert not _events(world, "tlsrpt_received") and not _events(world, "tlsrpt_posted")
    assert impostor.received() == []
    assert outcome == ReportOutcome((), {uri: failed["reason"]})
    assert failed["domain"] == "b.test" and "certificate was refused" in failed["reason"]


async def test_a_record_with_both_kinds_of_rua_gets_the_report_both_ways(
    tmp_path: Path,
) -> None:
    """Section 3: the rua may list several URIs; the report goes to each, mailto and https."""
    rua = (f"mailto:{MAILBOX}", HTTPS_RUA)
    options = _strip_dane(tlsrpt_rua=rua, users=("bob", "tls-reports"))
    async with World(tmp_path / "world", options) as world:
        await _a_failed_delivery(world)
        mta = world.providers["a.test"].mta
        receiver = world.providers["b.test"].report_receiver
        assert mta is not None and receiver is not None
        outcome = await mta.send_tls_report("b.test", dt.datetime.now(dt.UTC).date())
        assert outcome == ReportOutcome(rua)
        (raw,) = await eventually(
            lambda: maildir_messages(world, MAILBOX), what="the report in the rua mailbox"
        )
        (path,) = receiver.received()
        await eventually(lambda: _events(world, "relayed"), what="the relay of the report")
    message = email.message_from_bytes(raw, policy=email.policy.default)
    _text, attachment = message.iter_parts()
    mailed = json.loads(gzip.decompress(attachment.get_content()))
    posted = json.loads(gzip.decompress(path.read_bytes()))
    assert mailed == posted  # one report, the same report-id, both ways
    assert mailed["policies"][0]["policy"]["policy-domain"] == "b.test"
