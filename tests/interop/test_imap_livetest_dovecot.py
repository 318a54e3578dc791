"""imapclient's own live test suite against Dovecot and the world's IMAP server in one run:
the world passes every test that Dovecot passes (issue 14), and the list of tests that
tests/test_imap_livetest.py lets the world not pass holds none that Dovecot passes.

Dovecot is started for this test alone (its own directory and account, no Postfix), so the
suite's folders never meet the other interop tests' mail."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from mua.stack.ca import LocalCA
from mua.stack.world import World
from tests.imap_livetest import TIMING, run_livetest, write_ini
from tests.interop.servers import IMAP_NAME, Dovecot, missing_binaries, missing_users
from tests.test_imap_livetest import NOT_PASSED_BY_DOVECOT, livetest_world

pytestmark = [pytest.mark.interop, pytest.mark.slow]

ADDRESS = "livetest@interop.test"


@pytest.fixture
def dovecot() -> Iterator[tuple[Dovecot, str, Path]]:
    reason = None
    if missing := missing_binaries():
        reason = f"{', '.join(missing)} not installed (scripts/system-deps installs them)"
    elif os.geteuid() != 0:
        reason = "Dovecot must be started as root (as in CI)"
    elif missing := missing_users():
        reason = f"the system users {', '.join(missing)} are missing"
    if reason:
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail(f"{reason}; CI=true, so the interop suite must run", pytrace=False)
        pytest.skip(reason)
    # Not under pytest's tmp_path: its parents are closed to Dovecot's unprivileged users.
    root = Path(tempfile.mkdtemp(prefix="mua-livetest-"))
    os.chmod(root, 0o755)
    (root / "logs").mkdir()
    ca = LocalCA(root / "ca", organization="mua livetest")
    password = secrets.token_urlsafe(18)
    server = Dovecot(root, ca.server_cert(IMAP_NAME), {ADDRESS: password})
    try:
        server.start()
        yield server, password, ca.ca_file
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


async def test_the_world_passes_every_livetest_dovecot_passes(
    dovecot: tuple[Dovecot, str, Path], world: World, tmp_path: Path
) -> None:
    server, password, ca_file = dovecot
    ini = write_ini(
        tmp_path / "dovecot.ini", port=server.port, username=ADDRESS, password=password,
        ca_file=ca_file,
    )  # fmt: skip
    theirs, their_report = await run_livetest(ini)
    ours, our_report = await livetest_world(world, tmp_path)
    assert len(theirs) > 50, their_report[-3000:]
    dovecot_passes = {name for name, verdict in theirs.items() if verdict == "ok"} - TIMING
    missing = {name: ours.get(name) for name in dovecot_passes if ours.get(name) != "ok"}
    assert not missing, f"{missing}\n{our_report[-6000:]}"
    assert not NOT_PASSED_BY_DOVECOT & dovecot_passes, "Dovecot passes these now: tighten"
