"""Demo mode: the embedded world in the background, alice and bob signed in.

Plain Python (no Qt), so it is tested on its own. The demo keeps its own profile (accounts,
cache, Outbox and the world itself) under mua's data directory, apart from real accounts,
and its passwords only for the session (the world makes them; no keyring is touched).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mua import durable
from mua.client.engine import Engine
from mua.core.account import Account, ServerSettings
from mua.core.content import ContentVerdict
from mua.core.legs import Leg, Trace, TraceStatus
from mua.core.tls_facts import Security
from mua.store import paths
from mua.store.cache import MailCache
from mua.store.config import AccountStore
from mua.store.outbox import Outbox
from mua.store.secrets import Secrets

if TYPE_CHECKING:  # the world's modules are imported when it starts, after the first paint
    from mua.stack.thread import WorldThread
    from mua.stack.world import WorldOptions

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


def _remember_dkim_keys(world: WorldThread) -> None:
    """The world's DKIM keys, looked up through its validating resolver and kept in the key
    cache, so that the journey shows each message's content verdict without asking DNS in
    the GUI thread."""
    from mua.net.dkim_check import remember_keys
    from mua.store.key_cache import KeyCache

    running = world.world
    names = [
        f"{key.selector}._domainkey.{provider.domain}"
        for provider in running.providers.values()
        for key in provider.dkim.keys
    ]
    try:
        world.call(remember_keys(running.resolver(), names, KeyCache()))
    except Exception:  # the verdicts then say "could not check", which is true
        log.exception("could not look up the demo world's DKIM keys")


class ScenarioJourneys:
    """The journeys of the Demo menu's messages by Message-ID, as their scenario computed
    them (each ran in a world of its own; mua.stack.scenario_mail), so that opening a copy
    in Bob's Inbox, a bounce in Alice's or her Sent copy shows the scenario's legs. Kept in
    a JSON file beside the demo's cache: the messages stay across restarts, so do these."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._traces: dict[str, dict[str, Any]] | None = None

    def _load(self) -> dict[str, dict[str, Any]]:
        if self._traces is None:
            try:
                self._traces = json.loads(self.path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                self._traces = {}
            except (OSError, ValueError):
                log.warning("%s is unreadable: the scenarios' journeys are lost", self.path)
                self._traces = {}
        return self._traces

    def get(self, message_id: str) -> Trace | None:
        data = self._load().get(message_id.strip())
        if data is None:
            return None
        legs = [Leg.from_json(leg) for leg in data["legs"]]
        status = TraceStatus(data["status"])
        content = data.get("content")
        return Trace(
            status,
            legs,
            subject=data.get("subject"),
            message_id=data.get("message_id"),
            content=ContentVerdict.from_json(content) if content else None,
        )

    def remember(self, message_ids: list[str], trace: Trace) -> None:
        traces = self._load()
        for message_id in message_ids:
            traces[message_id.strip()] = data = trace.to_json()
            if trace.content is not None:  # its note's translation too (mua.core.i18n)
                data["content"] = trace.content.to_record()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        durable.write_atomic(self.path, json.dumps(traces).encode("utf-8"))


@dataclass
class DemoSession:
    world: WorldThread | None  # None until start_world
    engine: Engine
    accounts: list[Account]
    settings: dict[str, Any]
    journeys: ScenarioJourneys | None = None
    secrets: Secrets | None = None
    ready: bool = False  # the world runs and the accounts point at it
    directory: Path | None = None
    options: WorldOptions | None = None

    @classmethod
    def start(
        cls, directory: Path | None = None, options: WorldOptions | None = None
    ) -> DemoSession:
        """The session with its world running (what `prepare` then `start_world` do)."""
        session = cls.prepare(directory, options)
        session.start_world()
        return session

    @classmethod
    def prepare(
        cls, directory: Path | None = None, options: WorldOptions | None = None
    ) -> DemoSession:
        """The session before its world runs: the engine over the demo's profile (its cache,
        and the accounts of the last run, if any), no passwords yet. The app shows its
        window with this, then calls `start_world` off the GUI thread."""
        directory = directory or demo_dir()
        secrets = Secrets.session_only()
        engine = Engine(
            accounts=AccountStore(directory / "accounts.toml"),
            secrets=secrets,
            cache=MailCache(directory / "cache.sqlite3"),
            outbox=Outbox(directory / "outbox"),
        )
        journeys = ScenarioJourneys(directory / "scenario-journeys.json")
        return cls(None, engine, [], {}, journeys, secrets, directory=directory, options=options)

    def start_world(self) -> None:
        """Start the world and wait until it listens, then point the accounts at it (its
        ports and passwords) and cache its DKIM keys. Blocks: any thread but the GUI's."""
        from mua.stack.thread import WorldThread

        assert self.directory is not None
        self.world = WorldThread(self.directory / "world", self.options)  # makes keys, zones
        settings = self.world.start()
        try:
            store, secrets = self.engine.accounts, self.secrets
            assert secrets is not None
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
        except BaseException:
            self.world.stop()
            raise
        _remember_dkim_keys(self.world)
        self.accounts, self.settings = accounts, settings
        self.ready = True

    async def aclose(self) -> None:
        await self.engine.aclose()
        if self.ready and self.world is not None:  # one that failed to start stopped itself
            self.world.stop()
