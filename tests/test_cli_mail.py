"""The scripting commands against the demo world, as a script would use them."""

from __future__ import annotations

import io
import json

import pytest

from mua.cli import main
from mua.stack.world import World
from tests.client_fixtures import memory_keyring  # noqa: F401
from tests.conftest import eventually, maildir_messages

pytestmark = pytest.mark.usefixtures("memory_keyring")


def _add(world: World, address: str, monkeypatch, *, password: str | None = None) -> int:
    monkeypatch.setattr(
        "sys.stdin", io.StringIO((password or world.mailbox(address).password) + "\n")
    )
    return main(
        [
            "accounts", "add", address,
            "--nameserver", f"127.0.0.1:{world.dns.port}",
            "--trust-anchor", str(world.zones.trust_anchor_file),
            "--ca-file", str(world.ca.ca_file),
            "--username", world.mailbox(address).user,
            "--password-stdin",
        ]
    )  # fmt: skip


def _json(capsys) -> object:
    return json.loads(capsys.readouterr().out)


async def test_add_by_discovery_then_send_sync_list_and_read(
    world: World, monkeypatch, capsys
) -> None:
    import asyncio

    run = lambda argv: asyncio.to_thread(main, argv)  # noqa: E731  (the CLI blocks)
    assert await asyncio.to_thread(_add, world, "alice@a.test", monkeypatch) == 0
    assert "Added alice@a.test" in capsys.readouterr().out
    assert await asyncio.to_thread(_add, world, "bob@b.test", monkeypatch) == 0
    capsys.readouterr()
    assert await run(["accounts", "list", "--json"]) == 0
    accounts = _json(capsys)
    assert [a["address"] for a in accounts] == ["alice@a.test", "bob@b.test"]
    assert accounts[0]["imap"]["security"] == "implicit"  # RFC 8314: implicit TLS first
    assert accounts[0]["smtp"]["server_name"] == "smtp.a.test"
    assert "password" not in json.dumps(accounts)

    code = await run(
        ["send", "--from", "alice@a.test", "--to", "bob@b.test", "--subject", "From the CLI",
         "--body", "Hello from a script.", "--json"]
    )  # fmt: skip
    sent = _json(capsys)
    assert code == 0 and sent["sent"] and sent["tls"]["version"] == "TLSv1.3"
    await eventually(lambda: maildir_messages(world, "bob@b.test"))

    assert await run(["sync", "bob@b.test", "--json"]) == 0
    report = _json(capsys)
    inbox = next(f for f in report["accounts"][0]["folders"] if f["folder"] == "INBOX")
    assert inbox["added"] == 1
    assert await run(["list", "bob@b.test", "--json"]) == 0
    (row,) = _json(capsys)
    assert row["subject"] == "From the CLI" and row["from"]["address"] == "alice@a.test"
    assert await run(["read", "bob@b.test", str(row["uid"])]) == 0
    out = capsys.readouterr().out
    assert "Subject: From the CLI" in out and "Hello from a script." in out


async def test_script_facing_errors_and_exit_codes(world: World, monkeypatch, capsys) -> None:
    import asyncio

    code = await asyncio.to_thread(_add, world, "alice@a.test", monkeypatch, password="wrong")
    assert code == 77
    err = capsys.readouterr().err
    assert err.startswith("mua: ") and "wrong" not in err and err.count("\n") == 1
    assert await asyncio.to_thread(main, ["list", "nobody@a.test"]) == 78
    assert "no account nobody@a.test" in capsys.readouterr().err
    assert await asyncio.to_thread(main, ["accounts", "list", "--json"]) == 0
    assert _json(capsys) == []  # nothing was saved for the failed add
