"""The message list as a Qt table model over the local cache, loaded a page at a time.

No widget per row and no full load: `fetchMore` asks `MailCache.page` for the next
`PAGE` rows in the current order (each page a walk along an index), so a folder of
100,000 messages opens at once and scrolls smoothly. Sorting re-queries in the new order.
A search replaces the rows with the cache's matches (and whatever the server adds).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from enum import IntEnum

from PySide6.QtCore import (
    QAbstractTableModel,
    QByteArray,
    QDate,
    QDateTime,
    QLocale,
    QMimeData,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QFont

from mua.core.i18n import _
from mua.core.labels import grade_label
from mua.core.legs import Grade
from mua.gui.list_icons import flags_icon, lock_icon
from mua.gui.theme import human_size
from mua.store.cache import CachedMessage, CachedTrace, MailCache

PAGE = 200
MIME_TYPE = "application/x-mua-messages"  # JSON: {"account", "folder", "uids"}
MessageRole = Qt.ItemDataRole.UserRole + 1  # the row's CachedMessage
GradeRole = Qt.ItemDataRole.UserRole + 2  # the transport badge's Grade


class Column(IntEnum):
    FLAGS = 0
    BADGE = 1
    SENDER = 2
    SUBJECT = 3
    DATE = 4
    SIZE = 5


_ORDER = {
    Column.SENDER: "sender",
    Column.SUBJECT: "subject",
    Column.DATE: "date",
    Column.SIZE: "size",
}
_IN_MEMORY = {
    "sender": lambda m: (m.sender.casefold(), m.uid),
    "subject": lambda m: (m.subject.casefold(), m.uid),
    "date": lambda m: (m.date or 0.0, m.uid),
    "size": lambda m: (m.size, m.uid),
}
# Folders of the user's own outgoing mail: their list shows whom a message went to.
OUTGOING_USES = frozenset({"\\Sent", "\\Drafts"})
OUTGOING_NAMES = frozenset({"sent", "sent items", "sent messages", "drafts", "outbox"})


def is_outgoing(name: str | None, special_use: str | None, delimiter: str | None = None) -> bool:
    """A Sent, Drafts or Outbox folder: by its SPECIAL-USE attribute (RFC 6154), else by
    its name (the last part of it, as servers without SPECIAL-USE commonly name them)."""
    if special_use in OUTGOING_USES:
        return True
    leaf = (name or "").rsplit(delimiter, 1)[-1] if delimiter else (name or "")
    return leaf.casefold() in OUTGOING_NAMES


def worst_grade(trace: CachedTrace | None) -> Grade:
    """The badge: the worst grade among the journey's known legs (observed ones included);
    legs inside one server count as green; nothing known is UNKNOWN (grey)."""
    if trace is None:
        return Grade.UNKNOWN
    legs = [*trace.observed_legs, *((trace.trace or {}).get("legs") or [])]
    grades = {leg.get("grade") for leg in legs}
    for grade in (Grade.RED, Grade.AMBER, Grade.GREEN):
        if grade.value in grades:
            return grade
    return Grade.GREEN if Grade.INTERNAL.value in grades else Grade.UNKNOWN


class MessageListModel(QAbstractTableModel):
    # a badge was asked for a message whose journey nobody has worked out yet: the window
    # fetches the headers of `take_untraced()` in the background
    untraced = Signal()

    def __init__(self, cache: MailCache, parent=None) -> None:
        super().__init__(parent)
        self.cache = cache
        self.account: str | None = None
        self.folder: str | None = None
        self.order = "date"
        self.descending = True
        self.search_text = ""
        self.outgoing = False  # a Sent-like folder: the sender column shows "To"
        self._rows: list[CachedMessage] = []
        self._uids: dict[int, int] | None = None  # uid -> row, rebuilt when needed
        self._total = 0
        self._grades: dict[str, Grade] = {}
        self._untraced: dict[str, CachedMessage] = {}  # message id -> message, to trace
        self._asked: set[str] = set()  # handed out once: never asked for again
        self._bold = QFont()
        self._bold.setBold(True)
        self._today = QDate.currentDate()
        self._locale = QLocale()

    # -- what is shown ------------------------------------------------------------------------

    def set_folder(self, account: str | None, folder: str | None) -> None:
        self.account, self.folder, self.search_text = account, folder, ""
        cached = self.cache.folder(account, folder) if account and folder else None
        outgoing = cached is not None and is_outgoing(
            cached.name, cached.special_use, cached.delimiter
        )
        if outgoing != self.outgoing:
            self.outgoing = outgoing
            self.headerDataChanged.emit(Qt.Orientation.Horizontal, Column.SENDER, Column.SENDER)
        self._reload(PAGE)

    def refresh(self) -> None:
        """Re-read from the cache (after a sync), keeping as many rows loaded as before."""
        if self.search_text:
            self.set_search(self.search_text)
        else:
            self._reload(max(PAGE, len(self._rows)))

    def set_search(self, text: str) -> None:
        """Show the cached messages of this folder matching every word of `text` (all
        messages again when `text` is empty)."""
        self.search_text = text.strip()
        if not self.search_text:
            self._reload(PAGE)
            return
        self.beginResetModel()
        found = []
        if self.account and self.folder:
            found = self.cache.search(self.account, self.folder, self.search_text, limit=5000)
        self._rows = self._sorted(found)
        self._total = len(self._rows)
        self._changed()
        self.endResetModel()

    def add_results(self, messages: Iterable[CachedMessage]) -> None:
        """Add search results found elsewhere (the server's SEARCH) that are not shown yet."""
        known = self._uid_rows()
        new = [m for m in messages if m.uid not in known]
        if not new:
            return
        self.beginResetModel()
        self._rows = self._sorted([*self._rows, *new])
        self._total = len(self._rows)
        self._changed()
        self.endResetModel()

    def _reload(self, count: int) -> None:
        self.beginResetModel()
        self._rows, self._total = [], 0
        if self.account and self.folder:
            self._total = self.cache.count(self.account, self.folder)
            self._rows = self._page(0, min(count, self._total) or PAGE)
        self._changed()
        self.endResetModel()

    def _page(self, offset: int, limit: int) -> list[CachedMessage]:
        assert self.account and self.folder
        return self.cache.page(
            self.account,
            self.folder,
            offset=offset,
            limit=limit,
            order=self.order,
            descending=self.descending,
        )

    def _sorted(self, rows: list[CachedMessage]) -> list[CachedMessage]:
        return sorted(rows, key=_IN_MEMORY[self.order], reverse=self.descending)

    def _changed(self) -> None:
        self._uids = None
        self._grades.clear()
        self._today = QDate.currentDate()

    def _uid_rows(self) -> dict[int, int]:
        if self._uids is None:
            self._uids = {m.uid: row for row, m in enumerate(self._rows)}
        return self._uids

    # -- lookups and updates ------------------------------------------------------------------

    def message_at(self, row: int) -> CachedMessage | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, uid: int) -> int | None:
        return self._uid_rows().get(uid)

    def update_messages(self, uids: Iterable[int]) -> None:
        """Re-read these messages' envelopes (flags) from the cache and repaint their rows."""
        if not (self.account and self.folder):
            return
        for uid in uids:
            row = self.row_of(uid)
            fresh = self.cache.message(self.account, self.folder, uid)
            if row is None or fresh is None:
                continue
            self._rows[row] = fresh
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(Column) - 1))

    def remove_uids(self, uids: Iterable[int]) -> None:
        for row in sorted(
            (r for u in set(uids) if (r := self.row_of(u)) is not None), reverse=True
        ):
            self.beginRemoveRows(QModelIndex(), row, row)
            del self._rows[row]
            self._total -= 1
            self._uids = None
            self.endRemoveRows()

    def forget_grade(self, message_id: str | None) -> None:
        """The message's trace changed: recompute its badge."""
        if message_id and self._grades.pop(message_id, None) is not None:
            top, bottom = self.index(0, Column.BADGE), self.index(len(self._rows) - 1, Column.BADGE)
            self.dataChanged.emit(top, bottom, [Qt.ItemDataRole.DecorationRole])

    def grade_of(self, message: CachedMessage) -> Grade:
        if not message.message_id:
            return Grade.UNKNOWN
        grade = self._grades.get(message.message_id)
        if grade is None:
            trace = self.cache.trace(message.account, message.message_id)
            grade = worst_grade(trace)
            self._grades[message.message_id] = grade
            if trace is None and message.message_id not in self._asked:
                self._untraced[message.message_id] = message
                self.untraced.emit()
        return grade

    def take_untraced(self, limit: int) -> list[CachedMessage]:
        """Up to `limit` shown messages of one folder that need a journey worked out (each
        handed out once, so a message whose headers cannot be read is not asked again)."""
        batch: list[CachedMessage] = []
        for message_id, message in list(self._untraced.items()):
            if len(batch) == limit:
                break
            del self._untraced[message_id]
            here = ((self.account or "").lower(), self.folder)
            if (message.account.lower(), message.folder) != here:
                continue  # the folder changed meanwhile
            self._asked.add(message_id)
            batch.append(message)
        return batch

    # -- QAbstractTableModel ------------------------------------------------------------------

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(Column)

    def canFetchMore(self, parent=QModelIndex()) -> bool:  # noqa: B008
        return not parent.isValid() and not self.search_text and len(self._rows) < self._total

    def fetchMore(self, parent=QModelIndex()) -> None:  # noqa: B008
        if not self.canFetchMore(parent):
            return
        known = self._uid_rows()
        page = [m for m in self._page(len(self._rows), PAGE) if m.uid not in known]
        if not page:
            self._total = len(self._rows)  # the cache has fewer rows than it had
            return
        self.beginInsertRows(QModelIndex(), len(self._rows), len(self._rows) + len(page) - 1)
        self._rows.extend(page)
        self._uids = None
        self.endInsertRows()

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> object:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        message = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(message, column)
        if role == Qt.ItemDataRole.FontRole:
            return None if message.seen else self._bold
        if role == Qt.ItemDataRole.DecorationRole:
            if column == Column.FLAGS:
                return flags_icon(not message.seen, "\\Flagged" in message.flags)
            if column == Column.BADGE:
                return lock_icon(self.grade_of(message))
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(message, column)
        if role == Qt.ItemDataRole.AccessibleTextRole and column in (Column.FLAGS, Column.BADGE):
            return self._tooltip(message, column)  # the icons, in words, for screen readers
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (Column.SIZE, Column.DATE):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == MessageRole:
            return message
        if role == GradeRole:
            return self.grade_of(message)
        return None

    def _display(self, message: CachedMessage, column: int) -> str | None:
        if column == Column.SENDER:
            return message.recipients if self.outgoing else message.sender
        if column == Column.SUBJECT:
            return message.subject or _("(no subject)")
        if column == Column.DATE:
            when = QDateTime.fromSecsSinceEpoch(int(message.date or 0))
            if when.date() == self._today:
                return self._locale.toString(when.time(), QLocale.FormatType.ShortFormat)
            if when.date().year() == self._today.year():
                return self._locale.toString(when.date(), "d MMM")
            return self._locale.toString(when.date(), QLocale.FormatType.ShortFormat)
        if column == Column.SIZE:
            return human_size(message.size)
        return None

    def _tooltip(self, message: CachedMessage, column: int) -> str | None:
        if column == Column.SENDER:
            return message.recipients if self.outgoing else message.sender_address
        if column == Column.BADGE:
            return _("Transport security of its journey: {grade}").format(
                grade=grade_label(self.grade_of(message))
            )
        if column == Column.FLAGS:
            states = [_("unread") if not message.seen else _("read")]
            if "\\Flagged" in message.flags:
                states.append(_("flagged"))
            return ", ".join(states)
        if column == Column.SUBJECT and message.preview:
            return message.preview
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> object:
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            sender = _("To") if self.outgoing else _("From")
            names = ["", "", sender, _("Subject"), _("Date"), _("Size")]
            return names[section]
        if role in (Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.AccessibleTextRole):
            tips = [_("Unread and flagged"), _("Transport security"), "", "", "", ""]
            return tips[section] or None  # the icon columns' names, also for screen readers
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        key = _ORDER.get(Column(column)) if 0 <= column < len(Column) else None
        if key is None:
            return
        self.order, self.descending = key, order == Qt.SortOrder.DescendingOrder
        if self.search_text:
            self.beginResetModel()
            self._rows = self._sorted(self._rows)
            self._changed()
            self.endResetModel()
        else:
            self._reload(max(PAGE, len(self._rows)))

    # -- drag and drop ------------------------------------------------------------------------

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        base = super().flags(index)
        return base | Qt.ItemFlag.ItemIsDragEnabled if index.isValid() else base

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def mimeTypes(self) -> list[str]:
        return [MIME_TYPE]

    def mimeData(self, indexes: Iterable[QModelIndex]) -> QMimeData:
        uids = sorted({self._rows[i.row()].uid for i in indexes if i.isValid()})
        data = QMimeData()
        payload = {"account": self.account, "folder": self.folder, "uids": uids}
        data.setData(MIME_TYPE, QByteArray(json.dumps(payload).encode()))
        return data
