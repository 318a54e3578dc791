"""Dovecot and Postfix for the session, an isolated mua per test, server logs on failure.

Without root, or without the Debian packages (`scripts/system-deps` installs them), the tests
skip and say why; under CI=true they fail instead, so a broken install step cannot hide.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest

from mua.client.engine import Engine
from mua.store.cache import MailCache
from mua.store.config import AccountStore
from mua.store.outbox import Outbox
from mua.store.secrets import Secrets
from tests.client_fixtures import MemoryKeyring
from tests.interop.servers import (
    MailServers,
    ServerFailed,
    missing_binaries,
    missing_users,
    tail,
)

_SERVERS_KEY = pytest.StashKey[MailServers]()


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        pytest.fail(
            f"{reason}; CI=true, so this is a failure: the interop suite must run in CI "
            "(scripts/system-deps installs dovecot-imapd and postfix).",
            pytrace=False,
        )
    pytest.skip(reason)


@pytest.fixture(scope="session")
def servers(request: pytest.FixtureRequest) -> Iterator[MailServers]:
    """Dovecot (IMAPS) and Postfix (submission) for carol@interop.test, stopped at the end."""
    if missing := missing_binaries():
        _unavailable(
            f"{', '.join(missing)} not installed: run scripts/system-deps (as root) to get "
            "Debian's dovecot-imapd and postfix"
        )
    if os.geteuid() != 0:
        _unavailable("Dovecot and Postfix must be started as root (as in CI)")
    if missing := missing_users():
        _unavailable(f"the system users {', '.join(missing)} are missing; reinstall the packages")
    try:
        started = MailServers.start()
    except ServerFailed as exc:
        pytest.fail(f"the interop mail servers did not start:\n{exc}", pytrace=False)
    request.config.stash[_SERVERS_KEY] = started
    try:
        yield started
    finally:
        del request.config.stash[_SERVERS_KEY]
        started.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """A failed test's report carries the tail of each server log (shown under -ra)."""
    report = yield
    servers = item.config.stash.get(_SERVERS_KEY, None)
    if report.failed and servers is not None and "servers" in getattr(item, "fixturenames", ()):
        for path in servers.log_files:
            report.sections.append((f"interop server log {path.name}", tail(path)))
    return report


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """MUA_HOME under tmp_path and an in-memory keyring (the previous one restored after)."""
    path = tmp_path / "home"
    monkeypatch.setenv("MUA_HOME", str(path))
    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    try:
        yield path
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def engine(home: Path) -> Iterator[Engine]:
    """The client engine over this test's MUA_HOME, with the in-memory keyring."""
    (home / "cache").mkdir(parents=True, exist_ok=True)
    engine = Engine(
        accounts=AccountStore(),
        secrets=Secrets(),
        cache=MailCache(home / "cache" / "mail.sqlite3"),
        outbox=Outbox(home / "data" / "outbox"),
        timeout=15.0,
    )
    try:
        yield engine
    finally:
        engine.close()
