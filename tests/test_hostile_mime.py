"""A message of ~1,000 nested multiparts (anyone can mail one): every reader of it shows
what it can and says the rest is too deeply nested, none raises RecursionError."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mua.cli import main
from mua.stack.world import World
from tests.client_fixtures import make_engine, memory_keyring, world_account  # noqa: F401
from tests.imap_wire import ImapWire


def nested_message(depth: int = 1000) -> bytes:
    """About 45 KB: `depth` multipart/mixed parts, each inside the one before."""
    head = (
        "From: Mallory <mallory@m.test>\r\nTo: bob@b.test\r\nSubject: nested\r\n"
        "Message-ID: <nested@m.test>\r\nMIME-Version: 1.0\r\n"
    )
    opening = "".join(f'Content-Type: multipart/mixed; boundary="{i}"\r\n\r\n--{i}\r\n'
                      for i in range(depth))  # fmt: skip
    inner = "Content-Type: text/plain\r\n\r\nAt the bottom.\r\n"
    closing = "".join(f"\r\n--{i}--\r\n" for i in reversed(range(depth)))
    return (head + opening + inner + closing).encode()


def _run(args: list[str], home: Path, *, display: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if display or k not in (
        "DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}  # fmt: skip
    env.update(MUA_HOME=str(home), HOME=str(home), XDG_CONFIG_HOME=str(home / "xdg"))
    return subprocess.run(
        [sys.executable, "-m", "mua", *args], env=env, capture_output=True, text=True, timeout=90
    )


@pytest.mark.parametrize("command", [["trace"], ["trace", "--json"], ["open"]])
def test_cli_commands_survive_a_deeply_nested_file(tmp_path: Path, command) -> None:
    eml = tmp_path / "nested.eml"
    eml.write_bytes(nested_message())
    # `mua open` without a display prints the journey as `mua trace` does
    proc = _run([command[0], str(eml), *command[1:]], tmp_path, display=command != ["open"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "RecursionError" not in proc.stderr and "Traceback" not in proc.stderr
    if "--json" in command:
        assert json.loads(proc.stdout)["message_id"] == "<nested@m.test>"
    else:
        assert "too deeply nested" in proc.stdout


def _deliver(world: World, raw: bytes) -> None:
    world.providers["b.test"].mda.deliver("bob", raw)


async def test_imap_bodystructure_of_a_deeply_nested_message(world: World) -> None:
    _deliver(world, nested_message())
    b = world.providers["b.test"]
    wire = await ImapWire.open(b.ports.imap_implicit, world.ca.client_context())
    try:
        bob = world.mailbox("bob@b.test")
        assert (await wire.command("L", f"LOGIN {bob.user} {bob.password}"))[-1].startswith("L OK")
        assert (await wire.command("S", "SELECT INBOX"))[-1].startswith("S OK")
        for item in ("BODYSTRUCTURE", "BODY", "BODY.PEEK[1.1.1]", "BODY.PEEK[TEXT]"):
            reply = await wire.command("F", f"FETCH 1 ({item})")
            assert reply[-1].startswith("F OK"), (item, reply[-3:])
        reply = await wire.command("Q", 'SEARCH BODY "bottom"')
        assert reply[-1].startswith("Q OK"), reply
    finally:
        await wire.close()


@pytest.mark.usefixtures("memory_keyring")
async def test_sync_and_read_of_a_deeply_nested_message(
    world: World, tmp_path: Path, monkeypatch, capsys
) -> None:
    _deliver(world, nested_message())
    engine = make_engine(world, tmp_path, "bob@b.test")
    try:
        await engine.sync("bob@b.test")
        (row,) = engine.cache.page(engine.accounts.get("bob@b.test").key, "INBOX")
        assert row.subject == "nested"
        raw = await engine.body("bob@b.test", "INBOX", row.uid)
        assert raw.startswith(b"From: Mallory")
    finally:
        engine.close()
    from mua.store.config import AccountStore

    AccountStore().add(world_account(world, "bob@b.test"))
    from mua.store.secrets import Secrets

    account = AccountStore().get("bob@b.test")
    Secrets().set(account.key, "imap", world.mailbox("bob@b.test").password)
    assert await asyncio.to_thread(main, ["sync", "bob@b.test"]) == 0
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["read", "bob@b.test", str(row.uid)]) == 0
    out = capsys.readouterr().out
    assert "Subject: nested" in out and "too deeply nested" in out


async def test_the_mx_takes_a_deeply_nested_message(world: World, connect) -> None:
    """Mailed in from outside: the MX (which checks DKIM/DMARC on it) delivers it."""
    from tests.conftest import eventually, maildir_messages

    wire = await connect(world.providers["b.test"].ports.mx)
    await wire.send("EHLO mta.m.test")
    assert (await wire.send("MAIL FROM:<mallory@m.test>")).startswith("250")
    assert (await wire.send("RCPT TO:<bob@b.test>")).startswith("250")
    assert (await wire.send("DATA")).startswith("354")
    assert (await wire.send(nested_message() + b".\r\n")).startswith("250")
    (raw,) = await eventually(lambda: maildir_messages(world, "bob@b.test"))
    assert b"At the bottom." in raw


def _rfc822_chain(depth: int) -> bytes:
    text = "Subject: inner\r\n\r\nbottom\r\n"
    for i in range(depth):
        text = f"Content-Type: message/rfc822\r\nSubject: level {i}\r\n\r\n" + text
    return text.encode()


def _digest_chain(depth: int) -> bytes:  # a digest's parts are message/rfc822 by default
    return "".join(
        f'Content-Type: multipart/digest; boundary="d{i}"\r\n\r\n--d{i}\r\n\r\n'
        for i in range(depth)
    ).encode()


@pytest.mark.parametrize("raw", [nested_message(), _rfc822_chain(1000), _digest_chain(1000)])
@pytest.mark.parametrize("policy", ["compat32", "default"])
def test_parsing_caps_the_depth_and_the_result_can_be_walked_and_written(raw, policy) -> None:
    import email.policy

    from mua.core.mime import MAX_DEPTH, parse_bytes, too_deeply_nested

    message = parse_bytes(raw, policy=getattr(email.policy, policy))
    assert too_deeply_nested(message)
    assert MAX_DEPTH < len(list(message.walk())) <= 2 * MAX_DEPTH + 2
    assert message.as_bytes()  # the writer recurses too
    shallow = parse_bytes(nested_message(MAX_DEPTH - 1), policy=getattr(email.policy, policy))
    assert not too_deeply_nested(shallow)
    assert b"At the bottom." in shallow.as_bytes()
