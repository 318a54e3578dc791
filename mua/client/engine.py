"""What the CLI and the GUI drive: accounts, the cache, the Outbox and sync, as async calls.

Every network step runs in a worker thread (imapclient is synchronous); each account has
one IMAP connection and runs one command at a time on it (an asyncio.Lock per account, in
the spirit of Vorta's per-repository job queue), so callers never block and never interleave
commands on a connection.
"""

from __future__ import annotations

import asyncio
import email
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from mua.client.oauth_accounts import OAuthAccounts
from mua.client.sending import SavedDraft as SavedDraft  # where callers have found it
from mua.client.sending import Sending
from mua.core.account import Account
from mua.core.i18n import T_, TN_
from mua.store import paths
from mua.store.cache import MailCache
from mua.store.config import AccountStore, ConfigError, Settings, SettingsStore
from mua.store.outbox import Outbox

# The protocol stacks (imapclient, aiosmtplib) and keyring load on first use, not when the
# app starts: they are most of the engine's import time (bench/startup.py).
if TYPE_CHECKING:
    from mua.client.outbox_sender import OutboxSender
    from mua.client.pop3_sync import Pop3Sync
    from mua.client.sync import AccountSync, FolderSync
    from mua.core.tls_facts import TlsFacts
    from mua.store.pop3_state import Pop3State
    from mua.store.secrets import Secrets, ServiceKind

log = logging.getLogger(__name__)
T = TypeVar("T")


class MissingPassword(LookupError):
    def __init__(self, account: Account, service: str) -> None:
        super().__init__(
            T_(
                "No {service} password is stored for {address}; add the account again with its "
                "password.",
                service=service.upper(),
                address=account.address,
            )
        )


class Engine(Sending):
    def __init__(
        self,
        *,
        accounts: AccountStore,
        secrets: Secrets,
        cache: MailCache,
        outbox: Outbox,
        timeout: float = 30.0,
        body_cache_bytes: int = Settings().body_cache_bytes,
    ) -> None:
        """`body_cache_bytes`: how much of the cache the bodies of IMAP messages may take
        (Settings.body_cache_megabytes); beyond it, the least recently fetched are evicted
        after each message read, and fetched again when next opened."""
        self.accounts = accounts
        self.secrets = secrets
        self.cache = cache
        self.outbox = outbox
        self.timeout = timeout
        self.body_cache_bytes = body_cache_bytes
        self._syncs: dict[str, AccountSync | Pop3Sync] = {}
        self._sender: OutboxSender | None = None
        self._idlers: dict[str, AccountSync | Pop3Sync] = {}  # a second connection, for IDLE
        # Worker threads outside the account locks (IDLE, eviction): aclose waits for them.
        self._unlocked: set[asyncio.Future[Any]] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        self._pop3_state: Pop3State | None = None  # opened on a POP3 account's first use
        self.oauth = OAuthAccounts(secrets, timeout)  # OAuth2 accounts' tokens (issue 17)

    @classmethod
    def open(cls, secrets: Secrets, *, timeout: float = 30.0) -> Engine:
        """The engine over mua's usual files (MUA_HOME moves them), keeping as many bodies
        as settings.toml says (a settings file that does not parse: the default)."""
        try:
            settings = SettingsStore().load()
        except (ConfigError, OSError) as exc:
            log.warning("using the default body cache size: %s", exc)
            settings = Settings()
        cache_dir = paths.cache_dir()
        cache_dir.mkdir(parents=True, exist_ok=True)
        return cls(
            accounts=AccountStore(),
            secrets=secrets,
            cache=MailCache(cache_dir / "mail.sqlite3"),
            outbox=Outbox(paths.data_dir() / "outbox"),
            timeout=timeout,
            body_cache_bytes=settings.body_cache_bytes,
        )

    def close(self) -> None:
        """Log out and close, blocking: for callers outside an event loop (the CLI)."""
        for sync in [*self._syncs.values(), *self._idlers.values()]:
            sync.close()
        self._syncs.clear()
        self._idlers.clear()
        self._close_pop3_state()
        self.cache.close()

    def _close_pop3_state(self) -> None:
        if self._pop3_state is not None:
            self._pop3_state.close()
            self._pop3_state = None

    async def aclose(self) -> None:
        """Log out of every account (in worker threads, one per account) and close."""
        syncs = list(self._syncs.items())
        idlers = list(self._idlers.values())
        self._syncs.clear()
        self._idlers.clear()
        for key, sync in syncs:
            async with self._locks.setdefault(key, asyncio.Lock()):
                await asyncio.to_thread(sync.close)
        for idler in idlers:  # possibly inside IDLE: shut the socket, don't wait for it
            await asyncio.to_thread(idler.abort)
        if self._unlocked:  # the IDLE threads end once their socket is gone
            await asyncio.wait(list(self._unlocked), timeout=self.timeout)
        self._close_pop3_state()
        self.cache.close()  # only now: no worker thread uses it any more

    # -- accounts -----------------------------------------------------------------------------

    def password(self, account: Account, service: ServiceKind) -> str:
        value = self.secrets.get(account.key, service)
        if value is None:
            raise MissingPassword(account, service)
        return value

    def account(self, address: str) -> Account:
        account = self.accounts.get(address)
        if account is None:
            raise LookupError(
                T_(
                    "There is no account {address}; add it with `mua accounts add`.",
                    address=address,
                )
            )
        return account

    async def remove_account(self, address: str) -> None:
        """Forget an account: log out, then drop its settings, passwords and cached mail.

        Refuses (ValueError, one sentence) while the Outbox still holds messages from it:
        removing the account would strand them, and nothing is ever lost silently.
        """
        account = self.account(address)
        waiting = self.outbox.entries(account.key)
        if waiting:
            raise ValueError(
                TN_(
                    "{address} still has {n} message waiting in the Outbox; send or delete it "
                    "before removing the account.",
                    "{address} still has {n} messages waiting in the Outbox; send or delete "
                    "them before removing the account.",
                    len(waiting),
                    address=account.address,
                )
            )
        async with self._locks.setdefault(account.key, asyncio.Lock()):
            idler, sync = self._idlers.pop(account.key, None), self._syncs.pop(account.key, None)
            if idler is not None:  # possibly inside IDLE: shut the socket, don't wait
                await asyncio.to_thread(idler.abort)
            if sync is not None:
                await asyncio.to_thread(sync.close)
        self.accounts.remove(account.address)
        for service in ("imap", "smtp"):
            self.secrets.delete(account.key, service)
        self.cache.forget_account(account.key)
        if account.pop3 is not None:
            self._pop3(account)  # opened here if need be
            assert self._pop3_state is not None
            self._pop3_state.forget_account(account.key)
        log.info("removed the account %s", account.address)

    def _sync_for(self, account: Account) -> AccountSync | Pop3Sync:
        sync = self._syncs.get(account.key)
        if sync is None:
            sync = self._new_sync(account)
            self._syncs[account.key] = sync
        return sync

    def _new_sync(self, account: Account) -> AccountSync | Pop3Sync:
        """An IMAP account's AccountSync, or a POP3 account's Pop3Sync (same methods)."""
        if account.pop3 is not None:
            return self._pop3(account)
        from mua.client.sync import AccountSync

        return AccountSync(
            account,
            lambda: self.password(account, "imap"),
            self.cache,
            timeout=self.timeout,
            token=self.oauth.thread_token(account) if account.oauth is not None else None,
        )

    def _pop3(self, account: Account) -> Pop3Sync:
        from mua.client.pop3_sync import Pop3Sync
        from mua.store.pop3_state import Pop3State

        if self._pop3_state is None:
            self._pop3_state = Pop3State(self.cache.path.parent / "pop3.sqlite3")
        return Pop3Sync(
            account,
            lambda: self.password(account, "imap"),  # the incoming server's password
            self.cache,
            self._pop3_state,
            timeout=self.timeout,
            token=self.oauth.thread_token(account) if account.oauth is not None else None,
        )

    async def _run(self, account: Account, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        lock = self._locks.setdefault(account.key, asyncio.Lock())
        async with lock:
            return await _until_the_thread_ends(asyncio.to_thread(fn, *args, **kwargs))

    def imap_tls(self, address: str) -> TlsFacts | None:
        """What protected this account's IMAP session, when one is open (else None)."""
        sync = self._syncs.get(address.lower())
        session = sync.connected_session if sync is not None else None
        return session.tls if session is not None else None

    def pop3_tls(self, address: str) -> TlsFacts | None:
        """What protected this POP3 account's last download session (None before one)."""
        sync = self._syncs.get(address.lower())
        tls: TlsFacts | None = getattr(sync, "last_tls", None)
        return tls

    # -- reading ------------------------------------------------------------------------------

    async def sync(self, address: str, folders: Iterable[str] | None = None) -> list[FolderSync]:
        account = self.account(address)
        sync = self._sync_for(account)
        if folders is None:
            return await self._run(account, sync.sync_all)
        return [await self._run(account, sync.sync_folder, name) for name in folders]

    async def body(self, address: str, folder: str, uid: int) -> bytes:
        account = self.account(address)
        sync = self._sync_for(account)

        def read() -> bytes:
            raw = sync.body(folder, uid)  # fetched and cached, unless it was cached
            self.evict_bodies()
            return raw

        raw = await self._run(account, read)
        self.learn_provider_host(account, raw)
        return raw

    def evict_bodies(self) -> int:
        """Drop the least recently fetched bodies of IMAP accounts beyond `body_cache_bytes`;
        how many went. A POP3 account's are its mail (the server may have none left): kept.
        Blocking: from a worker thread, or a caller outside the event loop."""
        imap = [a.key for a in self.accounts.load() if a.pop3 is None]
        dropped = self.cache.evict_bodies(keep_bytes=self.body_cache_bytes, accounts=imap)
        if dropped:
            log.info("evicted %d bodies from the cache", dropped)
        return dropped

    async def set_body_cache_bytes(self, limit: int) -> int:
        """A new limit for the cached bodies (Preferences); a lower one evicts at once."""
        self.body_cache_bytes = limit
        dropped: int = await _until_the_thread_ends(self._unlocked_thread(self.evict_bodies))
        return dropped

    def _unlocked_thread(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        work = asyncio.ensure_future(asyncio.to_thread(fn, *args))
        self._unlocked.add(work)
        work.add_done_callback(self._unlocked.discard)
        return work

    async def headers(self, address: str, folder: str, uids: list[int]) -> dict[int, bytes]:
        """The header sections of messages (for their journeys, before they are read)."""
        account = self.account(address)
        return await self._run(account, self._sync_for(account).headers, folder, uids)

    def learn_provider_host(self, account: Account, raw: bytes) -> Account:
        """The topmost Received field of a message in the user's mailbox was written by the
        user's own provider (its last hop delivered it there), so its `by` host belongs to
        the provider: remembered for the trace's trust boundary (editable in the account)."""
        from mua.core.received import received_hops

        message = email.message_from_bytes(raw.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n")
        hops = received_hops(message)
        host = (hops[0].by_host or "").lower().rstrip(".") if hops else ""
        known = {account.domain, *account.provider_hosts}
        if not host or any(host == k or host.endswith("." + k) for k in known):
            return account
        learned = account.with_changes(provider_hosts=(*account.provider_hosts, host))
        try:
            self.accounts.update(learned)
        except Exception:  # learning is a nicety: never fail a read for it
            log.warning("could not remember %s as a provider host", host, exc_info=True)
            return account
        return learned

    async def search(self, address: str, folder: str, text: str) -> list[int]:
        """UIDs of the messages the server finds for `text` in `folder`."""
        account = self.account(address)
        return await self._run(account, self._sync_for(account).search, folder, text)

    async def set_flags(
        self, address: str, folder: str, uids: Iterable[int], flags: Iterable[str], *, add: bool
    ) -> None:
        account = self.account(address)
        sync = self._sync_for(account)
        await self._run(account, sync.set_flags, folder, list(uids), list(flags), add=add)

    async def move(self, address: str, folder: str, uids: Iterable[int], destination: str) -> None:
        account = self.account(address)
        await self._run(account, self._sync_for(account).move, folder, list(uids), destination)

    async def delete(self, address: str, folder: str, uids: Iterable[int]) -> None:
        account = self.account(address)
        await self._run(account, self._sync_for(account).delete, folder, list(uids))

    async def wait_for_change(self, address: str, folder: str, timeout: float) -> bool:
        """IDLE on a connection of its own, outside the command lock, so that sending,
        reading and syncing go on while it waits (RFC 2177 allows one IDLE per connection)."""
        account = self.account(address)
        idler = self._idlers.get(account.key)
        if idler is None:
            idler = self._new_sync(account)
            self._idlers[account.key] = idler
        from mua.client.sync import AccountSync

        # Here, before the thread starts: an abort from now on (a cancel, stop_idling, the
        # engine's close) ends this wait even if its thread has not begun it yet.
        idler.resume()
        if isinstance(idler, AccountSync):
            # The cache's record of the folder, read here (the IDLE thread never touches
            # the cache): the connection's first SELECT compares with it, so mail since the
            # last sync is news at once rather than at the next poll.
            cached = self.cache.folder(account.key, folder)
            work = self._unlocked_thread(idler.wait_for_change, folder, timeout, cached)
        else:  # POP3 has no IDLE: nothing to compare
            work = self._unlocked_thread(idler.wait_for_change, folder, timeout)
        # An aborted IDLE ends with a socket error: consumed here, whoever still waits.
        work.add_done_callback(lambda f: f.cancelled() or f.exception())
        # Cancelling an IDLE drops its connection, so that its thread ends now rather than
        # when the IDLE would have timed out; the next wait_for_change reconnects.
        # (An IDLE thread never touches the cache, so waiting for it can be bounded.)
        return await _until_the_thread_ends(work, on_cancel=idler.abort, patience=5.0)

    def stop_idling(self) -> None:
        """Drop every IDLE connection now: their threads end and any wait_for_change
        raises; the next one reconnects. For a quick, clean shutdown."""
        for idler in self._idlers.values():
            idler.abort()


async def _until_the_thread_ends(
    work: Awaitable[T], on_cancel: Callable[[], object] | None = None, patience: float | None = None
) -> T:
    """Await a worker thread's result. Cancelling the caller does not stop the thread, so
    on cancellation this still waits for it to end before letting the cancellation through:
    whoever holds a lock around it keeps it until the thread no longer uses the connection
    or the cache (closing SQLite under a running thread crashes the process)."""
    future = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        if on_cancel is not None:
            on_cancel()
        await asyncio.wait([future], timeout=patience)
        if future.done() and not future.cancelled() and future.exception() is not None:
            log.debug("a cancelled worker ended with %r", future.exception())
        raise
