"""MTA-STS (RFC 8461): parsing, the HTTPS fetch and its cache, and enforcement in the relay."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mua.net.mta_sts import (
    MAX_BODY,
    MtaStsClient,
    MtaStsError,
    StsMode,
    StsPolicy,
    parse_policy,
    parse_txt,
    policy_body,
)
from mua.stack.attacker import AttackMode
from mua.stack.ca import LocalCA
from mua.stack.mta_sts_server import policy_text
from mua.stack.world import World
from mua.stack.zones import DomainSpec
from tests.conftest import eventually, fast_options, maildir_messages
from tests.stackhelp import send

# --- pure parsers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        (["v=STSv1; id=20160831085700Z;"], "20160831085700Z"),
        (["v=STSv1;id=abc123"], "abc123"),
        (["v=STSv1; id=abc; ext=1;"], "abc"),
        (["v=spf1 -all", "v=STSv1; id=x1;"], "x1"),  # other TXT records are ignored
        (["v=STSv1; id=a;", "v=STSv1; id=b;"], None),  # two policies: none (section 3.1)
        (["v=STSv1; id=;"], None),
        (["v=STSv1; id=" + "a" * 33 + ";"], None),
        (["v=STSv1; id=not-alnum;"], None),
        (["v=STSv2; id=abc;"], None),
        (["id=abc; v=STSv1;"], None),  # v= must come first
        ([], None),
    ],
)
def test_parse_txt(records: list[str], expected: str | None) -> None:
    assert parse_txt(records) == expected


def test_parse_policy_of_the_rfc_example() -> None:
    text = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\n"
    text += "mx: backupmx.example.com\r\nmax_age: 604800\r\n"
    policy = parse_policy(text, "abc")
    assert policy.mode is StsMode.ENFORCE and policy.max_age == 604800 and policy.id == "abc"
    assert policy.mx == ("mail.example.com", "*.example.net", "backupmx.example.com")


@pytest.mark.parametrize(
    "text",
    [
        "mode: enforce\nmx: a.test\nmax_age: 1\n",  # no version
        "version: STSv1\nmode: strict\nmx: a.test\nmax_age: 1\n",
        "version: STSv1\nmode: enforce\nmax_age: 1\n",  # enforce without mx
        "version: STSv1\nmode: enforce\nmx: a.test\nmax_age: -1\n",
        "version: STSv1\nmode: enforce\nmx: a.test\n",  # no max_age
        "<html>not a policy</html>",
    ],
)
def test_parse_policy_rejects(text: str) -> None:
    with pytest.raises(MtaStsError):
        parse_policy(text)


def test_max_age_is_capped_at_a_year_and_none_needs_no_mx() -> None:
    policy = parse_policy("version: STSv1\nmode: none\nmax_age: 9999999999\nfuture: x\n")
    assert policy.mode is StsMode.NONE and policy.max_age == 31557600 and policy.mx == ()


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        ("mail.example.com", True),
        ("MAIL.Example.com.", True),
        ("mx1.example.net", True),
        ("a.b.example.net", False),  # the wildcard covers one label only (section 4.1)
        ("example.net", False),
        ("other.example.com", False),
    ],
)
def test_mx_patterns(host: str, ok: bool) -> None:
    policy = StsPolicy(StsMode.ENFORCE, ("mail.example.com", "*.example.net"), 86400)
    assert policy.matches_mx(host) is ok


def test_policy_body() -> None:
    """Section 3.3: 200 and text/plain only; a redirect is never followed (httpx does not
    follow one unless asked), and the body is bounded."""
    body = b"version: STSv1\r\n"
    assert policy_body(200, "OK", "text/plain; charset=utf-8", body) == body.decode()
    for status, media, data in (
        (301, "text/plain", b""),  # a redirect: a failure
        (200, "text/html", body),
        (200, "", body),
        (200, "text/plain", b"x" * (MAX_BODY + 1)),
    ):
        with pytest.raises(MtaStsError):
            policy_body(status, "", media, data)


async def test_the_policy_is_not_read_past_its_limit(tmp_path: Path) -> None:
    huge = "version: STSv1\r\n" + "x" * MAX_BODY
    options = _sts_options(mta_sts_policy=huge)
    async with World(tmp_path / "world", options) as world:
        with pytest.raises(MtaStsError, match="larger than"):
            await _client(world).fetch("b.test")


@given(st.text(max_size=300))
def test_parsers_never_crash(text: str) -> None:
    parse_txt([text])
    with contextlib.suppress(MtaStsError):
        parse_policy(text)
    with contextlib.suppress(MtaStsError):
        policy_body(200, text, text, text.encode("utf-8", "surrogatepass"))


def test_unicode_digits_are_not_numbers() -> None:
    with pytest.raises(MtaStsError):
        parse_policy("version: STSv1\nmode: enforce\nmx: a.test\nmax_age: \u00b2\n")


# --- the fetch and the cache, against the world's policy host --------------------------------


def _sts_options(mode: StsMode = StsMode.ENFORCE, **b_test: object):
    return fast_options(b_test={"dane": False, "mta_sts": mode, **b_test})


def _client(world: World, ca_file: Path | None = None, timeout: float = 5.0) -> MtaStsClient:
    b = world.providers["b.test"]
    return MtaStsClient(
        world.resolver(),
        ca_file=ca_file or world.ca.ca_file,
        port_for=lambda host: b.ports.mta_sts if host == b.mta_sts_host else 9,
        timeout=timeout,
    )


async def test_policy_is_fetched_over_https_and_cached(tmp_path: Path) -> None:
    async with World(tmp_path / "world", _sts_options()) as world:
        server = world.providers["b.test"].policy_server
        client = _client(world)
        policy = await client.policy("b.test")
        assert policy is not None and policy.mode is StsMode.ENFORCE
        assert policy.mx == ("mx.b.test",) and policy.max_age == 86400
        assert await client.policy("b.test") == policy
        assert server.fetches == 1  # the same TXT id: the cached policy (section 5.1)
        assert await client.policy("a.test") is None  # no TXT record: no policy

        # A new id makes the sender fetch again.
        server.policy = policy_text(StsMode.TESTING, ["mx.b.test"])

        def new_id(specs: list[DomainSpec]) -> None:
            spec = next(s for s in specs if s.domain == "b.test")
            spec.txt = {"_mta-sts.b.test": ["v=STSv1; id=second;"]}

        world.rebuild_zones(new_id)
        client.resolver.flush()
        assert (await client.policy("b.test")).mode is StsMode.TESTING
        assert server.fetches == 2

        # The TXT record disappears (an attacker may hide it): the cached policy still holds.
        world.rebuild_zones(lambda specs: [setattr(s, "txt", {}) for s in specs])
        client.resolver.flush()
        assert (await client.policy("b.test")).mode is StsMode.TESTING


async def test_deliveries_asking_together_share_one_fetch(tmp_path: Path) -> None:
    """A queue restarting with many messages for one domain asks for its policy many times at
    once: one HTTPS fetch answers them all (it was one per caller)."""
    async with World(tmp_path / "world", _sts_options()) as world:
        server = world.providers["b.test"].policy_server
        client = _client(world)
        policies = await asyncio.gather(*(client.policy("b.test") for _ in range(20)))
        assert all(p is not None and p.mode is StsMode.ENFORCE for p in policies)
        assert server.fetches == 1


async def test_no_policy_when_the_host_is_unreachable_or_untrusted(tmp_path: Path) -> None:
    async with World(tmp_path / "world", _sts_options()) as world:
        unreachable = MtaStsClient(world.resolver(), ca_file=world.ca.ca_file, port_for=lambda h: 9)
        assert await unreachable.policy("b.test") is None  # section 3.3: as if none
        stranger = LocalCA(tmp_path / "stranger", organization="Stranger")
        assert await _client(world, ca_file=stranger.ca_file).policy("b.test") is None


async def test_fetch_times_out(tmp_path: Path) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never answers the TLS handshake; ends when the client gives up
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with World(tmp_path / "world", _sts_options()) as world:
            client = MtaStsClient(
                world.resolver(), ca_file=world.ca.ca_file, port_for=lambda h: port, timeout=0.3
            )
            with pytest.raises(MtaStsError, match=r"no policy within 0\.3 s"):
                await client.fetch("b.test")
    finally:
        server.close()
        await server.wait_closed()


# --- enforcement in the relay ------------------------------------------------------------------


def _client_relay(world: World) -> dict:
    return next(
        e
        for e in world.events.read()
        if e["event"] == "leg" and e["leg"] == "relay" and e["side"] == "client"
    )


def _deferred(world: World) -> list[dict]:
    return [e for e in world.events.read() if e["event"] == "deferred"]


async def test_enforce_defers_an_mx_the_policy_does_not_list(tmp_path: Path) -> None:
    async with World(tmp_path / "world", _sts_options()) as world:
        world.providers["b.test"].policy_server.policy = policy_text(
            StsMode.ENFORCE, ["*.elsewhere.test"]
        )
        await send(world, "alice@a.test", ["bob@b.test"])
        (deferred, *_) = await eventually(lambda: _deferred(world))
        assert "MTA-STS: mx.b.test is not among the MX hosts" in deferred["reason"]
        assert not maildir_messages(world, "bob@b.test")


async def test_enforce_defers_an_intercepted_certificate(tmp_path: Path) -> None:
    options = _sts_options()
    options.attacker = AttackMode.INTERCEPT
    async with World(tmp_path / "world", options) as world:
        await send(world, "alice@a.test", ["bob@b.test"])
        (deferred, *_) = await eventually(lambda: _deferred(world))
        assert "MTA-STS: mx.b.test's certificate failed authentication" in deferred["reason"]
        leg = _client_relay(world)
        assert leg["note"].startswith("MTA-STS stopped it") and leg["policy"] == "MTA-STS"
        records = [e for e in world.events.read() if e["event"] == "attacker"]
        assert records and all(r["read"]["data"] is None for r in records)


async def test_testing_mode_reports_but_delivers(tmp_path: Path) -> None:
    options = _sts_options(StsMode.TESTING)
    options.attacker = AttackMode.STRIP
    async with World(tmp_path / "world", options) as world:
        await send(world, "alice@a.test", ["bob@b.test"])
        await eventually(lambda: maildir_messages(world, "bob@b.test"))
        await eventually(lambda: [e for e in world.events.read() if e["event"] == "relayed"])
        leg = _client_relay(world)
    assert leg["grade"] == "red" and "testing mode" in leg["note"]


async def test_dane_takes_precedence_over_mta_sts(tmp_path: Path) -> None:
    async with World(tmp_path / "world", _sts_options(dane=True)) as world:
        await send(world, "alice@a.test", ["bob@b.test"])
        await eventually(lambda: [e for e in world.events.read() if e["event"] == "relayed"])
        leg = _client_relay(world)
    assert leg["tls"]["verified_by"] == "dane" and leg["policy"] == "DANE"
