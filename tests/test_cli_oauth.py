"""`mua accounts add ADDRESS --oauth` against the world, the browser step driven by the test,
then `mua send` and `mua sync` over tokens, and the re-sign-in after a revocation."""

from __future__ import annotations

import asyncio
import json

import pytest

from mua.cli import main
from mua.stack.world import World
from tests.client_fixtures import MemoryKeyring
from tests.client_fixtures import memory_keyring as memory_keyring  # the fixture
from tests.test_oauth_client import Browser, issuer_of

pytestmark = pytest.mark.usefixtures("memory_keyring")


def _add_with_oauth(world: World, address: str) -> list[str]:
    return [
        "accounts", "add", address, "--oauth",
        "--oauth-issuer", issuer_of(world, address.rpartition("@")[2]),
        "--oauth-client-id", "mua",
        "--nameserver", f"127.0.0.1:{world.dns.port}",
        "--trust-anchor", str(world.zones.trust_anchor_file),
        "--ca-file", str(world.ca.ca_file),
    ]  # fmt: skip


@pytest.mark.slow
async def test_add_with_oauth_then_send_and_sync_with_tokens(
    world: World, monkeypatch, capsys, memory_keyring: MemoryKeyring
) -> None:
    loop = asyncio.get_running_loop()
    browser = Browser(world, world.mailbox("alice@a.test").password)
    opened: list[str] = []

    def fake_browser(url: str) -> None:  # called in the CLI's thread: drive it from here
        opened.append(url)
        asyncio.run_coroutine_threadsafe(browser._browse(url), loop)

    monkeypatch.setattr("mua.cli.oauth_signin.open_in_browser", fake_browser)
    assert await asyncio.to_thread(main, _add_with_oauth(world, "alice@a.test")) == 0
    out = capsys.readouterr().out
    assert "Sign in to alice@a.test in your browser:" in out and opened[0] in out
    assert "Added alice@a.test" in out
    kinds = {kind for (service, kind) in memory_keyring.entries if service == "mua:alice@a.test"}
    assert kinds == {"oauth"}  # a refresh token, no password

    assert await asyncio.to_thread(main, ["accounts", "list", "--json"]) == 0
    (account,) = json.loads(capsys.readouterr().out)
    assert account["oauth"]["issuer"] == issuer_of(world)
    refresh = memory_keyring.entries[("mua:alice@a.test", "oauth")]
    assert refresh not in json.dumps(account)

    code = await asyncio.to_thread(
        main,
        ["send", "--from", "alice@a.test", "--to", "alice@a.test", "--subject", "token",
         "--body", "sent with OAuth2", "--json"],
    )  # fmt: skip
    sent = json.loads(capsys.readouterr().out)
    assert code == 0 and sent["sent"], sent
    assert await asyncio.to_thread(main, ["sync", "alice@a.test", "--json"]) == 0
    capsys.readouterr()

    auth = world.providers["a.test"].auth_server
    assert auth is not None
    auth.authorization.revoke("alice@a.test")
    assert await asyncio.to_thread(main, ["sync", "alice@a.test", "--json"]) == 77
    assert "sign in again" in capsys.readouterr().err
    assert await asyncio.to_thread(main, ["accounts", "remove", "alice@a.test"]) == 0
    assert ("mua:alice@a.test", "oauth") not in memory_keyring.entries


async def test_oauth_without_a_client_id_says_so(monkeypatch, capsys) -> None:
    monkeypatch.delenv("MUA_OAUTH_GOOGLE_CLIENT_ID", raising=False)
    argv = [
        "accounts", "add", "someone@gmail.com", "--oauth", "--no-browser",
        "--imap", "imap.gmail.com:993", "--smtp", "smtp.gmail.com:465",
    ]  # fmt: skip
    assert await asyncio.to_thread(main, argv) == 78
    err = capsys.readouterr().err
    assert "no client ID" in err and "app password" in err


async def test_add_with_oauth_finds_the_issuer_by_discovery(
    world: World, monkeypatch, capsys, memory_keyring: MemoryKeyring
) -> None:
    """No --oauth-issuer: discovery reads the world's autoconfig file (autoconfig.a.test, its
    port from the world's HTTPS record), which names OAuth2 and its issuer."""
    loop = asyncio.get_running_loop()
    browser = Browser(world, world.mailbox("alice@a.test").password)

    def fake_browser(url: str) -> None:  # called in the CLI's thread: drive it from here
        asyncio.run_coroutine_threadsafe(browser._browse(url), loop)

    monkeypatch.setattr("mua.cli.oauth_signin.open_in_browser", fake_browser)
    argv = [
        "accounts", "add", "alice@a.test", "--oauth", "--oauth-client-id", "mua",
        "--nameserver", f"127.0.0.1:{world.dns.port}",
        "--trust-anchor", str(world.zones.trust_anchor_file),
        "--ca-file", str(world.ca.ca_file),
    ]  # fmt: skip
    assert await asyncio.to_thread(main, argv) == 0
    captured = capsys.readouterr()
    assert "Added alice@a.test" in captured.out
    assert f"alice@a.test signs in at {issuer_of(world)}" in captured.err
    assert {kind for (_s, kind) in memory_keyring.entries} == {"oauth"}
    assert await asyncio.to_thread(main, ["accounts", "list", "--json"]) == 0
    (account,) = json.loads(capsys.readouterr().out)
    assert account["oauth"]["issuer"] == issuer_of(world)
