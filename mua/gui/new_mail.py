"""The main window's syncing and new mail: sync jobs, IDLE slices with backoff, desktop
notifications. A mixin of MainWindow (mua/gui/main_window.py)."""

from __future__ import annotations

import logging

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QSystemTrayIcon

from mua.core.i18n import _, ngettext
from mua.gui.window_parts import WindowParts

log = logging.getLogger(__name__)

MAX_BACKOFF = 60.0  # seconds between attempts to get IDLE back after an error


class NewMail(WindowParts):
    """Syncing and new mail for MainWindow (it provides engine, bridge, accounts(), the
    status bar and the list it refreshes)."""

    def _start(self) -> None:
        for address in self.accounts():
            self.sync(address, first=True)

    def _demo_running(self) -> bool:
        """False while demo mode's world is still starting (its accounts' ports and
        passwords are not known yet)."""
        return self.demo is None or getattr(self.demo, "ready", True)

    def refresh_all(self) -> None:
        for address in self.accounts():
            self.sync(address)

    def sync(self, address: str, folders: list[str] | None = None, *, first=False, notify=False):
        if self._closing or not self._demo_running():
            return  # a demo world still starting: mua.gui.demo_start calls _start after
        self._syncing += 1
        self._update_status(address, _("synchronising…"))

        def done(results) -> None:
            self._syncing -= 1
            self._update_status(address, _("online"))
            self.refresh_folders()
            if address.lower() == (self.account or "").lower():
                self._refresh_list()
            added = sum(r.added for r in results if r.folder == "INBOX")
            if notify and added:
                self._notify(address, added)
            if first:
                self._watch(address)

        def failed(message: str) -> None:
            self._syncing -= 1
            self._update_status(address, _("offline"), message)
            # an OAuth2 sign-in the provider refused; the OAuth client (httpx2, authlib,
            # aiohttp: about 250 ms) loads only then, not at start-up
            from mua.gui import sign_in_again

            sign_in_again.offer(self, address)
            if first:
                self._watch(address)

        self.bridge.run(_("Synchronising {address}").format(address=address),
                        self.engine.sync(address, folders), done, failed)  # fmt: skip

    def _watch(self, address: str) -> None:
        """One IDLE slice on INBOX; a change syncs it; errors back off, then retry."""
        if self._closing or self.engine.accounts.get(address) is None:  # closing, or removed
            return
        wait = self.engine.wait_for_change(address, "INBOX", self.idle_slice)

        def heard(changed: bool) -> None:
            if self._backoff.pop(address, None) is not None:
                self._update_status(address, _("online"))
            if changed:
                self.sync(address, ["INBOX"], notify=True)
            self._watch(address)

        def lost(message: str) -> None:
            delay = self._backoff.get(address, 1.0)
            self._backoff[address] = min(delay * 2, MAX_BACKOFF)
            self._update_status(address, _("offline"), message)
            QTimer.singleShot(int(delay * 1000), self, lambda: self._watch(address))

        self._idle[address] = self.bridge.run(_("Waiting for new mail"), wait, heard, lost)

    def _notify(self, address: str, count: int) -> None:
        text = ngettext(
            "{n} new message for {address}", "{n} new messages for {address}", count
        ).format(n=count, address=address)
        self.newMail.emit(address, count)
        if QSystemTrayIcon.isSystemTrayAvailable():
            if self._tray is None:
                self._tray = QSystemTrayIcon(self.windowIcon(), self)
                self._tray.show()
            self._tray.showMessage("mua", text)
        self.statusBar().showMessage(text, 10_000)
