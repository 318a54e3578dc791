"""The main window's message actions: flags, move, delete, compose, reply, forward, add
account. A mixin of MainWindow (mua/gui/main_window.py), split out to keep one idea a file."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QInputDialog,
)

from mua.core.i18n import _
from mua.gui.window_parts import WindowParts
from mua.store.cache import CachedMessage

if TYPE_CHECKING:
    from email.message import EmailMessage

    from mua.client.engine import SavedDraft
    from mua.core.compose import Draft

log = logging.getLogger(__name__)


class MailActions(WindowParts):
    """Message actions for MainWindow (it provides engine, bridge, the selection and the
    models they update)."""

    def _change_flags(
        self, flag: str, add: bool, chosen: list[CachedMessage] | None = None
    ) -> None:
        chosen = self.selected_messages() if chosen is None else chosen
        if not chosen:
            return
        account, folder, uids = chosen[0].account, chosen[0].folder, [m.uid for m in chosen]

        def done(_result) -> None:
            if (account, folder) == (self.account, self.folder):
                self.messages.update_messages(uids)
            self.refresh_folders()
            self._update_actions()

        change = self.engine.set_flags(account, folder, uids, [flag], add=add)
        self.bridge.run(_("Changing flags"), change, done, self._failed)

    def set_read(self, read: bool) -> None:
        self._change_flags("\\Seen", read)

    def toggle_read(self) -> None:
        chosen = self.selected_messages()
        self._change_flags("\\Seen", not all(m.seen for m in chosen), chosen)

    def toggle_flag(self) -> None:
        chosen = self.selected_messages()
        self._change_flags("\\Flagged", not all("\\Flagged" in m.flags for m in chosen), chosen)

    def delete_selected(self) -> None:
        chosen = self.selected_messages()
        if chosen and self.account and self.folder:
            trash = self._special_folder(chosen[0].account, "\\Trash")
            self._remove(chosen, self.engine.delete(self.account, self.folder, self._uids(chosen)),
                         trash if trash != self.folder else None)  # fmt: skip

    def move_selected(self, destination: str | None = None) -> None:
        chosen = self.selected_messages()
        if not chosen or not self.account or not self.folder:
            return
        if destination is None:
            names = [
                f.name for f in self.engine.cache.folders(self.account) if f.name != self.folder
            ]
            destination, ok = QInputDialog.getItem(
                self, _("Move To"), _("Move the messages to:"), names, 0, False
            )
            if not ok:
                return
        self._move(self.account, self.folder, self._uids(chosen), destination)

    def _move(self, account: str, folder: str, uids: list[int], destination: str) -> None:
        chosen = [m for u in uids if (m := self.engine.cache.message(account, folder, u))]
        self._remove(chosen, self.engine.move(account, folder, uids, destination), destination)

    @staticmethod
    def _uids(chosen: list[CachedMessage]) -> list[int]:
        return [m.uid for m in chosen]

    def _remove(self, chosen: list[CachedMessage], job, destination: str | None) -> None:
        if not chosen:
            job.close()
            return
        account, folder, uids = chosen[0].account, chosen[0].folder, self._uids(chosen)
        first = min((r for u in uids if (r := self.messages.row_of(u)) is not None), default=None)

        def done(_result) -> None:
            if (account, folder) == (self.account, self.folder):
                self.messages.remove_uids(uids)
                after = self.messages.message_at(min(first or 0, self.messages.rowCount() - 1))
                if first is not None and after is not None:
                    self.select_uids([after.uid], after.uid)
            self.refresh_folders()
            if destination:
                self.sync(account, [destination])

        self.bridge.run(_("Moving messages"), job, done, self._failed)

    def _special_folder(self, account: str, use: str) -> str | None:
        found = (f.name for f in self.engine.cache.folders(account) if f.special_use == use)
        return next(found, None)

    # -- composing ----------------------------------------------------------------------------

    def _original(self) -> EmailMessage | None:
        import email.policy  # email's parsers and the compose model load on first use
        from email.message import EmailMessage

        if self.raw is None:
            return None
        from mua.core.mime import parse_bytes

        message = parse_bytes(self.raw, policy=email.policy.default)
        return message if isinstance(message, EmailMessage) else None

    def compose(self, draft: Draft | None = None) -> object:
        from mua.core.compose import Draft

        if draft is None:
            sender = self.account or next(iter(self.accounts()), "")
            draft = Draft(sender=sender)
        return self.compose_opener(draft)

    def reply(self, *, all_recipients: bool = False) -> object:
        from mua.core.compose import reply_draft

        original = self._original()
        if original is None or not self.account:
            return None
        return self.compose(reply_draft(original, self.account, reply_all=all_recipients))

    def forward(self) -> object:
        from mua.core.compose import Attachment, Draft

        original = self._original()
        if original is None or not self.account:
            return None
        subject = str(original.get("Subject", ""))
        body = original.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        intro = _("-------- Forwarded message --------")
        head = "\n".join(
            f"{h}: {original[h]}" for h in ("From", "Date", "Subject", "To") if original[h]
        )
        attachments = tuple(
            Attachment(a.name, a.data, a.content_type)
            for a in (self.reader.message.attachments if self.reader.message else [])
        )
        return self.compose(Draft(
            sender=self.account,
            subject=subject if subject.lower().startswith("fwd:") else f"Fwd: {subject}",
            text=f"\n\n{intro}\n{head}\n\n{text}",
            attachments=attachments,
        ))  # fmt: skip

    def _open_compose(self, draft: Draft | None, saved: SavedDraft | None = None) -> object:
        """A compose window of its own (owned by this one, deleted when closed); `saved` is
        where the draft being edited is kept in Drafts."""
        from mua.gui.compose_window import ComposeWindow

        sender = draft.sender if draft is not None else self.account or ""
        lookup = None
        if self.demo is not None and self.demo.settings:  # its MX ports and trust anchor
            from mua.gui.compose_logic import TravelLookup

            lookup = TravelLookup.from_demo_settings(self.demo.settings)
        window = ComposeWindow(
            self.engine, self.bridge, sender, draft, lookup=lookup, saved=saved, parent=self
        )
        window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        window.reported.connect(lambda text: self.statusBar().showMessage(text, 8000))
        window.drafts_changed.connect(lambda account, folder: self.sync(account, [folder]))
        window.show()
        return window

    def compose_windows(self) -> list:
        """The compose windows open now, oldest first."""
        from mua.gui.compose_window import ComposeWindow

        return [w for w in self.findChildren(ComposeWindow) if w.isVisible()]

    def close_compose_windows(self) -> bool:
        """Close every compose window, as the main window closes; one with unsaved changes
        asks the user first and stays open meanwhile (False: the main window stays too)."""
        for window in self.compose_windows():
            window.close()
        return not self.compose_windows()

    def open_draft(self, index=None) -> None:
        """Double-click or Enter on a message in a Drafts folder: edit it in a compose window
        (the one already editing it, when there is one). Other folders: nothing here."""
        row = index.row() if index is not None else self.message_view.currentIndex().row()
        message = self.messages.message_at(row)
        if message is None or message.folder != self._special_folder(message.account, "\\Drafts"):
            return
        key = (message.account, message.folder, message.uid)
        for window in self.compose_windows():
            copy = window.saved_copy()
            if copy is not None and (copy.account, copy.folder, copy.uid) == key:
                window.raise_()
                window.activateWindow()
                return
        raw = self.engine.cache.body(*key)
        if raw is not None:
            self._edit_draft(key, raw)
            return
        self.bridge.run(
            _("Reading the draft"),
            self.engine.body(*key),
            lambda data: self._edit_draft(key, data),
            self._failed,
        )

    def _edit_draft(self, key: tuple[str, str, int], raw: bytes) -> object:
        import email.policy

        from mua.client.engine import SavedDraft
        from mua.core.compose import draft_from_message
        from mua.core.mime import parse_bytes

        message = parse_bytes(raw, policy=email.policy.default)
        draft = draft_from_message(message, key[0])
        return self._open_compose(draft, SavedDraft(*key))

    def add_account(self) -> object:
        """The account wizard; a saved account appears in the folder tree."""
        from mua.gui.wizard import AccountWizard
        from mua.gui.wizard_logic import demo_discover_options
        from mua.gui.wizard_oauth import demo_oauth_options

        wizard = AccountWizard(
            self.bridge,
            accounts=self.engine.accounts,
            secrets=self.engine.secrets,
            # demo mode: discovery asks the demo world's DNS, not the Internet's
            discover_options=demo_discover_options(self.demo.settings) if self.demo else None,
            # demo mode: the world's authorization servers, for "Sign in with my browser"
            oauth_options=demo_oauth_options(self.demo.settings) if self.demo else None,
            parent=self,
        )
        wizard.account_saved.connect(lambda _account: self.refresh_all())
        wizard.show()
        return wizard
