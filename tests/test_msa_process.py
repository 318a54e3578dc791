"""The MSAs in a process of their own (mua/stack/msa_process.py), as `mua stack` runs them:
a password and a token submission are delivered to bob's IMAP INBOX, a revoked token is
refused (the parent's authorization server decides), and the child ends with its parent."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from imapclient import IMAPClient

from mua.net.oauth import SignInAgain
from mua.net.sasl_oauth import BearerAuth
from mua.net.submission import submit
from mua.stack.msa_process import FROZEN_ARGUMENT
from mua.stack.world import World
from tests.conftest import eventually, fast_options
from tests.stackhelp import send
from tests.test_oauth_mail import note, signed_in, smtp_endpoint


@pytest.fixture
async def split_world(tmp_path: Path) -> AsyncIterator[World]:
    async with World(tmp_path / "world", replace(fast_options(), msa_process=True)) as w:
        yield w


def _bobs_subjects(world: World) -> list[str]:
    b = world.providers["b.test"]
    assert b.ports is not None
    client = IMAPClient(
        "127.0.0.1", b.ports.imap_implicit, ssl_context=world.ca.client_context(), timeout=5
    )
    try:
        client.login("bob", world.mailbox("bob@b.test").password)
        client.select_folder("INBOX", readonly=True)
        fetched = client.fetch(client.search("ALL"), ["BODY.PEEK[HEADER.FIELDS (SUBJECT)]"])
        return sorted(
            v[b"BODY[HEADER.FIELDS (SUBJECT)]"].decode().strip().removeprefix("Subject: ")
            for v in fetched.values()
        )
    finally:
        client.logout()


async def _subjects_arrived(world: World, count: int) -> list[str]:
    async def poll() -> list[str]:
        deadline = time.monotonic() + 20
        while True:
            subjects = await asyncio.to_thread(_bobs_subjects, world)
            if len(subjects) >= count or time.monotonic() > deadline:
                return subjects
            await asyncio.sleep(0.1)

    return await poll()


@pytest.mark.slow
async def test_password_and_token_submissions_are_delivered_and_revocation_holds(
    split_world: World,
) -> None:
    world = split_world
    assert world.providers["a.test"].msa is None  # not in this process
    assert world.msa_process is not None and world.msa_process.pid != os.getpid()
    result = await send(world, "alice@a.test", ["bob@b.test"], subject="with a password")
    assert result.auth == "PLAIN"

    keeper = await signed_in(world)
    result = await submit(
        smtp_endpoint(world),
        note("with a token"),
        username="alice@a.test",
        password=None,
        bearer=BearerAuth.from_tokens(keeper, "OAUTHBEARER"),
        timeout=20,
    )
    assert result.auth == "OAUTHBEARER"
    assert await _subjects_arrived(world, 2) == ["with a password", "with a token"]
    legs = [e for e in world.events.read() if e["event"] == "leg"]
    assert {(e["leg"], e["side"]) for e in legs} >= {("submission", "server"), ("relay", "client")}

    auth = world.providers["a.test"].auth_server
    assert auth is not None
    auth.authorization.revoke("alice@a.test")
    with pytest.raises(SignInAgain, match="sign in again"):
        await submit(
            smtp_endpoint(world),
            note("after revocation"),
            username="alice@a.test",
            password=None,
            bearer=BearerAuth.from_tokens(keeper),
            timeout=20,
        )


ROOT = Path(__file__).resolve().parent.parent
_PARENT = """
import asyncio, json, sys
from pathlib import Path
from mua.stack.world import World, WorldOptions

async def main():
    world = World(Path(sys.argv[1]), WorldOptions(msa_process=True))
    await world.start()
    print(json.dumps({"child": world.msa_process.pid}), flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone for our purpose (its parent, the killed world, never reaped it)
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX signals")
async def test_killing_the_world_ends_the_msa_process(tmp_path: Path) -> None:
    parent = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _PARENT,
        str(tmp_path / "world"),
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        assert parent.stdout is not None
        child = json.loads(await parent.stdout.readline())["child"]
        assert _alive(child)
        parent.kill()  # no chance to stop the child in order
        await parent.wait()
        await eventually(lambda: not _alive(child), what="the MSA process to end")
    finally:
        if parent.returncode is None:
            parent.kill()
            await parent.wait()


def test_the_frozen_app_starts_the_child_with_the_argument_it_passes() -> None:
    # A frozen build has no `python -m`: its launcher runs the child's main for this argument.
    launcher = (ROOT / "packaging" / "launcher.py").read_text()
    assert f'sys.argv[1:] == ["{FROZEN_ARGUMENT}"]' in launcher


def _niceness(pid: int) -> set[int]:
    """The niceness of every thread of process `pid` (field 19 of /proc/PID/task/TID/stat)."""
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        stat = (task / "stat").read_text()
        found.add(int(stat.rpartition(")")[2].split()[16]))
    return found


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc")
async def test_mua_stack_delivers_at_a_lower_priority_than_its_msa_process_accepts(
    tmp_path: Path,
) -> None:
    """`mua stack`: the parent (MTA, MX, MDA, IMAP) yields the CPU to the MSA child, so a
    burst of submissions is not slowed by the deliveries it causes (yield_to_acceptance)."""
    stack = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mua",
        "stack",
        "--json",
        "--dir",
        str(tmp_path / "world"),
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        assert stack.stdout is not None
        settings = json.loads(await asyncio.wait_for(stack.stdout.readline(), 60))
        assert settings["accounts"]
        children = f"/proc/{stack.pid}/task/{stack.pid}/children"
        child = int(Path(children).read_text().split()[0])  # noqa: ASYNC240 (/proc: no disk)
        assert _niceness(stack.pid) == {min(19, os.getpriority(os.PRIO_PROCESS, 0) + 10)}
        assert _niceness(child) == {os.getpriority(os.PRIO_PROCESS, 0)}
    finally:
        stack.send_signal(signal.SIGTERM)
        await asyncio.wait_for(stack.wait(), 30)
