"""How the scripting commands fail (issue 14, fault 9): a relative --ca-file is kept absolute
and a missing one is named (exit 78); `mua sync` against a closed port says the connection
was refused (exit 69), not that the server "kept dropping the connection"."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mua.cli import main
from mua.core.account import Account
from mua.stack.world import World
from mua.store.config import AccountStore, Settings, SettingsStore
from mua.store.secrets import Secrets
from tests.client_fixtures import memory_keyring, world_account  # noqa: F401
from tests.test_cli_mail import _add

pytestmark = pytest.mark.usefixtures("memory_keyring")


async def test_a_relative_ca_file_is_stored_absolute_and_a_missing_one_is_named(
    world: World, tmp_path: Path, monkeypatch, capsys
) -> None:
    here = tmp_path / "here"
    here.mkdir()
    shutil.copy(world.ca.ca_file, here / "ca.pem")
    monkeypatch.chdir(here)
    monkeypatch.setattr(world.ca, "ca_file", Path("ca.pem"))  # as a user types it
    assert await asyncio.to_thread(_add, world, "bob@b.test", monkeypatch) == 0
    capsys.readouterr()
    stored = AccountStore().get("bob@b.test")
    assert stored is not None
    assert stored.imap.ca_file == here / "ca.pem" and stored.smtp.ca_file == here / "ca.pem"
    monkeypatch.chdir(tmp_path)  # from any other directory the account still works
    assert await asyncio.to_thread(main, ["sync", "bob@b.test"]) == 0
    capsys.readouterr()

    (here / "ca.pem").rename(here / "moved.pem")
    assert await asyncio.to_thread(main, ["sync", "bob@b.test"]) == 78
    err = capsys.readouterr().err
    assert str(here / "ca.pem") in err and "Errno" not in err, err
    monkeypatch.setattr(world.ca, "ca_file", Path("nowhere.pem"))
    assert await asyncio.to_thread(_add, world, "alice@a.test", monkeypatch) == 78
    assert str(tmp_path / "nowhere.pem") in capsys.readouterr().err


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the with block ends


def test_sync_with_the_server_down_says_the_connection_was_refused(
    world: World, tmp_path: Path
) -> None:
    SettingsStore().save(Settings(secrets_backend="encrypted-file"))
    account: Account = world_account(world, "bob@b.test")
    port = _closed_port()
    from dataclasses import replace

    account = replace(account, imap=replace(account.imap, port=port))
    AccountStore().add(account)
    Secrets.encrypted_file("master").set(account.key, "imap", "secret")
    env = dict(os.environ, MUA_MASTER_PASSWORD="master")
    proc = subprocess.run(
        [sys.executable, "-m", "mua", "sync", "bob@b.test"],
        env=env, capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert proc.returncode == 69, proc.stderr
    assert "refused the connection" in proc.stderr, proc.stderr
    assert "kept dropping" not in proc.stderr and "Traceback" not in proc.stderr
