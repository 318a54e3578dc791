"""An isolated mua profile (MUA_HOME, in-memory keyring) with the demo world's accounts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

from mua.client.engine import Engine
from mua.core.account import Account, ServerSettings
from mua.core.tls_facts import Security
from mua.stack.world import World
from mua.store.cache import MailCache
from mua.store.config import AccountStore
from mua.store.outbox import Outbox
from mua.store.secrets import Secrets
from tests.conftest import eventually


class MemoryKeyring(KeyringBackend):
    """A keyring in a dict that lives and dies with the test; the OS keychain is never
    touched. The one in-memory backend every test uses."""

    priority = -1  # type: ignore[assignment]  # loadable by name, never chosen by detection

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.entries.pop((service, username), None) is None:
            raise PasswordDeleteError("no such password")


@pytest.fixture
def memory_keyring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MemoryKeyring]:
    monkeypatch.setenv("MUA_HOME", str(tmp_path / "home"))
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def world_account(
    world: World,
    address: str,
    *,
    imap: Security = Security.IMPLICIT,
    smtp: Security = Security.IMPLICIT,
    ca_file: Path | None = None,
) -> Account:
    provider = world.providers[address.rpartition("@")[2]]
    ports = provider.ports
    assert ports is not None
    user = world.mailbox(address).user
    ca = ca_file or world.ca.ca_file
    imap_port = ports.imap_implicit if imap is Security.IMPLICIT else ports.imap_starttls
    smtp_port = (
        ports.submission_implicit if smtp is Security.IMPLICIT else ports.submission_starttls
    )
    return Account(
        address=address,
        display_name=address.split("@")[0].title(),
        imap=ServerSettings("127.0.0.1", imap_port, imap, user, ca, provider.imap_host),
        smtp=ServerSettings("127.0.0.1", smtp_port, smtp, user, ca, provider.smtp_host),
    )


def make_engine(
    world: World, tmp_path: Path, *addresses: str, password: str | None = None
) -> Engine:
    """An engine with these world accounts configured and their passwords in the keyring."""
    accounts = AccountStore(tmp_path / "accounts.toml")
    secrets = Secrets()
    for address in addresses:
        account = world_account(world, address)
        accounts.add(account)
        for service in ("imap", "smtp"):
            secrets.set(account.key, service, password or world.mailbox(address).password)
    return Engine(
        accounts=accounts,
        secrets=secrets,
        cache=MailCache(tmp_path / "cache.sqlite3"),
        outbox=Outbox(tmp_path / "outbox"),
        timeout=10.0,
    )


def idle_sent(engine: Engine, address: str) -> bool:
    """Whether the account's IDLE connection has selected its folder and sent IDLE
    (imapclient keeps the command's tag): what arrives from then on, the server reports,
    at the start of the IDLE or during it."""
    idler = engine._idlers.get(address.lower())
    session = idler.connected_session if idler is not None else None
    return session is not None and session.client._idle_tag is not None


async def idling(engine: Engine, address: str) -> None:
    """Wait until `idle_sent`."""
    await eventually(lambda: idle_sent(engine, address), what=f"the IDLE of {address}")
