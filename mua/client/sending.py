"""The engine's outgoing side: the Outbox, the copy in Sent, and drafts in Drafts.

A part of `mua.client.engine.Engine` (its base class), apart to keep one idea a file: it
uses the engine's accounts, cache, Outbox and per-account command lock (`_run`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from mua.core.account import Account
from mua.store.cache import MailCache
from mua.store.config import AccountStore
from mua.store.outbox import Outbox, OutboxEntry

if TYPE_CHECKING:
    from email.message import EmailMessage

    from mua.client.oauth_accounts import OAuthAccounts
    from mua.client.outbox_sender import OutboxSender, SendOutcome
    from mua.client.pop3_sync import Pop3Sync
    from mua.client.sync import AccountSync
    from mua.core.compose import Draft
    from mua.store.secrets import ServiceKind

log = logging.getLogger(__name__)
T = TypeVar("T")


class Sending:
    """Engine's methods for mail that leaves: queue, send, file in Sent and Drafts."""

    accounts: AccountStore
    cache: MailCache
    outbox: Outbox
    oauth: OAuthAccounts
    timeout: float
    _sender: OutboxSender | None

    if TYPE_CHECKING:  # the engine's own

        def account(self, address: str) -> Account: ...
        def password(self, account: Account, service: ServiceKind) -> str: ...
        def _sync_for(self, account: Account) -> AccountSync | Pop3Sync: ...
        async def _run(self, account: Account, fn: Callable[..., T], *args: Any) -> T: ...

    @property
    def sender(self) -> OutboxSender:
        if self._sender is None:
            from mua.client.outbox_sender import OutboxSender

            self._sender = OutboxSender(
                self.outbox,
                account=self.accounts.get,
                password=lambda account: self.password(account, "smtp"),
                bearer=self.oauth.bearer,
                cache=self.cache,
                save_to_sent=self._save_to_sent,
                timeout=self.timeout,
            )
        return self._sender

    # -- sending ------------------------------------------------------------------------------

    def queue(self, draft: Draft) -> OutboxEntry:
        """Put a message into the Outbox (durably) and return its entry; nothing is sent yet."""
        from mua.core.compose import Draft, build_message  # email's parsers: not at start-up

        account = self.account(draft.sender)
        if not draft.sender_name and account.display_name:
            draft = Draft(**{**draft.__dict__, "sender_name": account.display_name})
        message = build_message(draft)
        return self.outbox.add(
            account.key,
            message.as_bytes(),
            message_id=str(message["Message-ID"]),
            subject=draft.subject,
        )

    async def send(self, draft: Draft, *, draft_copy: SavedDraft | None = None) -> SendOutcome:
        """Send through the Outbox. The draft's saved copy (`draft_copy`) leaves Drafts once
        the message is sent or safely queued for a retry; a permanent failure keeps it."""
        outcome = await self.sender.send(self.queue(draft))
        if draft_copy is not None and (outcome.sent or not outcome.entry.failed):
            try:
                await self.discard_draft(draft_copy)
            except Exception as exc:  # the message went: a stale draft is no reason to fail
                log.warning("sent, but could not remove the draft from Drafts: %s", exc)
        return outcome

    async def flush_outbox(self) -> list[SendOutcome]:
        return await self.sender.send_due()

    async def _save_to_sent(self, account: Account, message: bytes) -> bool:
        sync = self._sync_for(account)

        def save() -> bool:
            sent = sync.folder_with_use("\\Sent")
            if sent is None:
                sync.sync_folder_list()
                sent = sync.folder_with_use("\\Sent")
            if sent is None:
                return False
            sync.append(sent, message, ["\\Seen"])
            return True

        return await self._run(account, save)

    async def save_draft(
        self, draft: Draft, *, replacing: SavedDraft | None = None
    ) -> SavedDraft | None:
        """File the draft in the account's Drafts folder; None when it has none. A copy saved
        before (`replacing`) is then removed for good, so saving again replaces it: APPEND
        first, so that a failure never loses both. The cache follows the server."""
        account = self.account(draft.sender)
        sync = self._sync_for(account)

        def save() -> SavedDraft | None:
            drafts = sync.folder_with_use("\\Drafts")
            if drafts is None:
                sync.sync_folder_list()
                drafts = sync.folder_with_use("\\Drafts")
            if drafts is None:
                return None
            from mua.core.compose import build_message

            message = build_message(draft) if draft.recipients else _draft_message(draft)
            uid = sync.append(drafts, message.as_bytes(), ["\\Draft", "\\Seen"])
            if same_account and replacing is not None and replacing.uid is not None:
                sync.expunge(replacing.folder, [replacing.uid])
            sync.sync_folder(drafts)
            if uid is None:  # no APPENDUID (no UIDPLUS): found by its Message-ID instead
                mid = str(message["Message-ID"])
                rows = self.cache.page(account.key, drafts, limit=100_000)
                uid = next((r.uid for r in rows if r.message_id == mid), None)
            return SavedDraft(account.key, drafts, uid)

        same_account = replacing is None or replacing.account == account.key
        saved = await self._run(account, save)
        if saved is not None and replacing is not None and not same_account:
            await self.discard_draft(replacing)  # the From changed: the old copy is elsewhere
        return saved

    async def discard_draft(self, saved: SavedDraft) -> None:
        """Remove a saved draft for good (it was sent, or the user discarded it)."""
        if saved.uid is None:
            return
        account = self.account(saved.account)
        sync = self._sync_for(account)
        await self._run(account, sync.expunge, saved.folder, [saved.uid])


@dataclass(frozen=True)
class SavedDraft:
    """Where a draft's copy is on the server: saving again or sending removes it."""

    account: str
    folder: str
    uid: int | None  # None: the server did not say and it could not be found


def _draft_message(draft: Draft) -> EmailMessage:
    """A draft may have no recipients yet; build it without that check."""
    from mua.core.compose import Draft, build_message

    placeholder = Draft(**{**draft.__dict__, "to": (draft.sender,)})
    message = build_message(placeholder)
    del message["To"]
    return message
