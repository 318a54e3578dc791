"""Demo mode: the embedded world in the background, alice and bob signed in.

Plain Python (no Qt), so it is tested on its own. The demo keeps its own profile (accounts,
cache, Outbox and the world itself) under mua's data directory, apart from real accounts,
and its passwords only for the session (the world makes them; no keyring is touched).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mua.client.engine import Engine
from mua.core.account import Account, ServerSettings
from mua.core.tls import Security
from mua.stack.thread import WorldThread
from mua.stack.world import WorldOptions
from mua.store import paths
from mua.store.cache import MailCache
from mua.store.config import AccountStore
from mua.store.outbox import Outbox
from mua.store.secrets import Secrets

log = logging.getLogger(__name__)


def demo_dir() -> Path:
    return paths.data_dir() / "demo"


def accounts_from_settings(settings: dict[str, Any]) -> list[Account]:
    """The world's accounts as mua accounts: implicit TLS to 127.0.0.1, names verified."""
    ca_file = Path(settings["ca_file"])
    accounts = []
    for entry in settings["accounts"]:
        imap, smtp = entry["imap"], entry["smtp"]
        accounts.append(
            Account(
                address=entry["address"],
                display_name=entry["username"].title(),
                imap=ServerSettings(
                    "127.0.0.1",
                    imap["implicit_tls_port"],
                    Security.IMPLICIT,
                    entry["username"],
                    ca_file,
                    imap["host"],
                ),
                smtp=ServerSettings(
                    "127.0.0.1",
                    smtp["implicit_tls_port"],
                    Security.IMPLICIT,
                    entry["username"],
                    ca_file,
                    smtp["host"],
                ),
                nameserver=f"{settings['dns']['host']}:{settings['dns']['port']}",
                provider_hosts=(entry["address"].rpartition("@")[2],),
            )
        )
    return accounts


@dataclass
class DemoSession:
    world: WorldThread
    engine: Engine
    accounts: list[Account]
    settings: dict[str, Any]

    @classmethod
    def start(
        cls, directory: Path | None = None, options: WorldOptions | None = None
    ) -> DemoSession:
        directory = directory or demo_dir()
        world = WorldThread(directory / "world", options)
        settings = world.start()
        try:
            secrets = Secrets.session_only()
            store = AccountStore(directory / "accounts.toml")
            accounts = accounts_from_settings(settings)
            for account in accounts:
                if store.get(account.address) is None:
                    store.add(account)
                else:
                    store.update(account)  # ports may differ from the last run
                password = next(
                    a["password"] for a in settings["accounts"] if a["address"] == account.address
                )
                secrets.set(account.key, "imap", password)
                secrets.set(account.key, "smtp", password)
            engine = Engine(
                accounts=store,
                secrets=secrets,
                cache=MailCache(directory / "cache.sqlite3"),
                outbox=Outbox(directory / "outbox"),
            )
        except BaseException:
            world.stop()
            raise
        return cls(world, engine, accounts, settings)

    async def aclose(self) -> None:
        await self.engine.aclose()
        self.world.stop()
