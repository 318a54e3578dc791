"""Accounts and their folders for the left pane, with unread counts, from the local cache.

Accounts are the top-level rows; folders go below them in the order people expect (Inbox,
Drafts, Sent, Junk, Trash, then the rest by name), nested by their hierarchy delimiter.
`refresh` updates the rows in place (the cache keeps the counts, so it is cheap): a
selected folder stays selected. Messages dragged from the list onto a folder of the same
account become `messagesDropped`; the window moves them.
"""

from __future__ import annotations

import json

from PySide6.QtCore import QMimeData, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QFont, QIcon, QStandardItem, QStandardItemModel

from mua.core.i18n import N_, _, ngettext
from mua.gui import resources
from mua.gui.message_model import MIME_TYPE
from mua.store.cache import CachedFolder, MailCache

AccountRole = Qt.ItemDataRole.UserRole + 1  # the account's address (every row)
FolderRole = Qt.ItemDataRole.UserRole + 2  # the folder's name (None on account rows)
UnreadRole = Qt.ItemDataRole.UserRole + 3
SortRole = Qt.ItemDataRole.UserRole + 4

_RANK = {"INBOX": 0, "\\Drafts": 1, "\\Sent": 2, "\\Junk": 3, "\\Trash": 4, "\\Archive": 5}
# A special-use folder under its usual name is shown in the user's language (the server's
# name stays the folder's identity; a folder named otherwise is shown as named).
_SPECIAL_NAMES = {
    "\\Drafts": N_("Drafts"),
    "\\Sent": N_("Sent"),
    "\\Junk": N_("Junk"),
    "\\Trash": N_("Trash"),
    "\\Archive": N_("Archive"),
}
_THEME = {
    "INBOX": "mail-inbox",
    "\\Drafts": "document-edit",
    "\\Sent": "mail-send",
    "\\Junk": "mail-mark-junk",
    "\\Trash": "user-trash",
    "\\Archive": "folder-documents",
}


def folder_rank(folder: CachedFolder) -> int:
    return _RANK.get("INBOX" if folder.name == "INBOX" else folder.special_use or "", 9)


def _icon(folder: CachedFolder | None) -> QIcon:
    if folder is None:
        return resources.icon("avatar-default")
    use = "INBOX" if folder.name == "INBOX" else folder.special_use or ""
    return resources.icon(_THEME.get(use, "folder"))


class FolderTreeModel(QStandardItemModel):
    messagesDropped = Signal(str, str, list, str)  # account, from folder, uids, to folder

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setSortRole(SortRole)
        self._items: dict[tuple[str, str | None], QStandardItem] = {}

    def refresh(self, cache: MailCache, accounts: list[tuple[str, str]]) -> None:
        """Show these accounts ((address, label) in order) with their cached folders."""
        wanted: set[tuple[str, str | None]] = set()
        for position, (address, label) in enumerate(accounts):
            key = address.lower()
            wanted.add((key, None))
            item = self._items.get((key, None))
            if item is None:
                item = self._new_item(key, None)
                item.setIcon(_icon(None))
                item.setDropEnabled(False)
                self.appendRow(item)
            bold = QFont()
            bold.setBold(True)
            item.setFont(bold)
            item.setText(label)
            item.setToolTip(address)
            item.setData(f"{position:04d}", SortRole)
            folders = cache.folders(key)
            names = {f.name for f in folders}
            for folder in folders:
                wanted.add((key, folder.name))
                self._show_folder(key, folder, names)
        self._drop([k for k in self._items if k not in wanted])
        self.sort(0)

    def _drop(self, keys: list[tuple[str, str | None]]) -> None:
        """Remove these items with everything under them. Removing a row deletes its
        children in Qt too, so the topmost are found (and every key under them forgotten)
        before anything is removed: a deleted item must never be touched again."""
        doomed = [self._items[k] for k in keys]

        def doomed_or_under(item: QStandardItem | None) -> bool:
            while item is not None:
                if any(item is d for d in doomed):
                    return True
                item = item.parent()
            return False

        tops = [item for item in doomed if not doomed_or_under(item.parent())]
        for key in [k for k, item in self._items.items() if doomed_or_under(item)]:
            del self._items[key]
        for item in tops:
            (item.parent() or self.invisibleRootItem()).removeRow(item.row())

    def _new_item(self, account: str, folder: str | None) -> QStandardItem:
        item = QStandardItem()
        item.setEditable(False)
        item.setDragEnabled(False)
        item.setData(account, AccountRole)
        item.setData(folder, FolderRole)
        self._items[(account, folder)] = item
        return item

    def _show_folder(self, account: str, folder: CachedFolder, names: set[str]) -> None:
        delimiter = folder.delimiter or ""
        parent_name, _sep, leaf = folder.name.rpartition(delimiter) if delimiter else ("", "", "")
        if not (delimiter and parent_name in names):
            parent_name, leaf = "", folder.name
        parent = self._items.get((account, parent_name or None)) or self._items[(account, None)]
        item = self._items.get((account, folder.name))
        if item is not None and item.parent() is not parent:  # moved in the hierarchy
            self._drop([(account, folder.name)])
            item = None
        if item is None:
            item = self._new_item(account, folder.name)
            item.setIcon(_icon(folder))
            item.setDropEnabled(True)
            parent.appendRow(item)
        label = _("Inbox") if folder.name == "INBOX" else leaf
        if not parent_name and _SPECIAL_NAMES.get(folder.special_use or "") == leaf:
            label = _(leaf)
        item.setText(f"{label} ({folder.unread})" if folder.unread else label)
        font = QFont()
        font.setBold(folder.unread > 0)
        item.setFont(font)
        item.setData(folder.unread, UnreadRole)
        item.setData(f"{folder_rank(folder)}:{label.casefold()}", SortRole)
        item.setToolTip(
            ngettext(
                "{folder}: {n} message, {unread} unread",
                "{folder}: {n} messages, {unread} unread",
                folder.total,
            ).format(folder=folder.name, n=folder.total, unread=folder.unread)
        )

    def folder_index(self, account: str, folder: str | None) -> QModelIndex:
        item = self._items.get((account.lower(), folder))
        return item.index() if item is not None else QModelIndex()

    # -- drops --------------------------------------------------------------------------------

    def mimeTypes(self) -> list[str]:
        return [MIME_TYPE]

    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def _drop_target(
        self, data: QMimeData, row: int, parent: QModelIndex | QPersistentModelIndex
    ) -> tuple[dict, str] | None:
        if row != -1 or not parent.isValid() or not data.hasFormat(MIME_TYPE):
            return None
        folder = parent.data(FolderRole)
        payload = json.loads(bytes(data.data(MIME_TYPE).data()))
        if folder is None or payload.get("account") != parent.data(AccountRole):
            return None  # an account row, or another account: not a move
        if folder == payload.get("folder") or not payload.get("uids"):
            return None
        return payload, folder

    def canDropMimeData(self, data, action, row, column, parent) -> bool:
        return self._drop_target(data, row, parent) is not None

    def dropMimeData(self, data, action, row, column, parent) -> bool:
        target = self._drop_target(data, row, parent)
        if target is None:
            return False
        payload, folder = target
        self.messagesDropped.emit(payload["account"], payload["folder"], payload["uids"], folder)
        return True
