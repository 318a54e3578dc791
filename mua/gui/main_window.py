"""The main window: folders on the left, the message list, the reader beside or below it.

Everything network-bound goes through the engine and the one Bridge (mua.gui.bridge); the
window only reacts to results. New mail is heard with IMAP IDLE (the engine keeps a second
connection per account for it, so waiting never holds up what the user does): each IDLE
slice is one bridge job, errors back off and retry, and a change syncs INBOX and notifies.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QMainWindow,
    QProgressBar,
    QSplitter,
    QSystemTrayIcon,
    QTabWidget,
    QTreeView,
)

from mua.client.engine import Engine
from mua.core.i18n import _, translated
from mua.core.legs import Endpoint, Grade, Leg, Protocol, Role, Source, Trace
from mua.gui.folder_model import AccountRole, FolderRole, FolderTreeModel
from mua.gui.journey_view import JourneyTab, JourneyView
from mua.gui.list_icons import lock_icon
from mua.gui.mail_actions import MailActions
from mua.gui.message_model import Column, MessageListModel
from mua.gui.new_mail import NewMail
from mua.gui.reader import ReaderView
from mua.gui.window_menus import WindowMenus
from mua.gui.window_settings import WindowSettings, app_settings, restore_geometry
from mua.store.cache import CachedMessage
from mua.store.config import Settings

if TYPE_CHECKING:
    from mua.core.compose import Draft


TraceProvider = Callable[[str, str, int, bytes], Trace | None]  # account, folder, uid, raw


class MainWindow(MailActions, NewMail, JourneyView, WindowMenus, WindowSettings, QMainWindow):
    newMail = Signal(str, int)  # account, how many new messages in its INBOX
    closed = Signal()  # the user closed the window: the app then shuts down
    settingsChanged = Signal(object)  # Settings, after the user changed one here

    idle_slice = 300.0  # seconds per IDLE command (servers end IDLE after 30 minutes)

    def __init__(self, engine: Engine, bridge, *, settings: Settings | None = None, demo=None):
        super().__init__()
        self.engine, self.bridge, self.demo = engine, bridge, demo
        self.settings = settings or Settings()
        self.qsettings = app_settings()  # in mua's config directory (MUA_HOME moves it)
        self.trace_provider: TraceProvider | None = None
        self.compose_opener: Callable[[Draft | None], object] = self._open_compose
        self.account: str | None = None
        self.folder: str | None = None
        self.shown: tuple[str, str, int] | None = None
        self.raw: bytes | None = None
        self._closing = False
        self._restoring = False  # re-selecting after a refresh: the reader stays as it is
        self._state: dict[str, tuple[str, str]] = {}  # account -> (state, problem)
        self._idle = {}
        self._backoff: dict[str, float] = {}
        self._syncing = 0
        self._tray: QSystemTrayIcon | None = None
        self._widened: list[int] | None = None  # the user's split, while the journey is wider
        self.folders = FolderTreeModel(self)
        self.messages = MessageListModel(engine.cache, self)
        self._tracing = False
        self._trace_timer = QTimer(self, singleShot=True, interval=150)
        self._trace_timer.timeout.connect(self._trace_shown)
        self.messages.untraced.connect(self._trace_timer.start)
        self._build_views()
        self._build_actions()
        self._build_status()
        self._restore()
        self.folders.messagesDropped.connect(self._move)
        self.refresh_folders()
        self._poll = QTimer(self, interval=self.settings.check_interval_minutes * 60_000)
        self._poll.timeout.connect(self.refresh_all)
        self._poll.start()
        QTimer.singleShot(0, self._start)

    # -- building -----------------------------------------------------------------------------

    def _build_views(self) -> None:
        self.folder_view = QTreeView(headerHidden=True, uniformRowHeights=True)
        self.folder_view.setModel(self.folders)
        self.folder_view.setAccessibleName(_("Folders"))
        self.folder_view.setDragDropMode(QAbstractItemView.DragDropMode.DropOnly)
        self.folder_view.setDropIndicatorShown(True)
        self.folder_view.selectionModel().currentChanged.connect(self._folder_chosen)
        view = self.message_view = QTreeView(rootIsDecorated=False, uniformRowHeights=True)
        view.setModel(self.messages)
        view.setAccessibleName(_("Messages"))
        view.setAlternatingRowColors(True)
        view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        view.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        view.setAllColumnsShowFocus(True)
        header = view.header()
        header.setStretchLastSection(False)
        header.setSortIndicator(Column.DATE, Qt.SortOrder.DescendingOrder)
        view.setSortingEnabled(True)
        for column, width in ((Column.FLAGS, 36), (Column.BADGE, 26)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Fixed)
            header.resizeSection(column, width)
        header.resizeSection(Column.SENDER, 130)
        header.setSectionResizeMode(Column.SUBJECT, QHeaderView.ResizeMode.Stretch)
        header.resizeSection(Column.DATE, 80)
        header.resizeSection(Column.SIZE, 64)
        view.selectionModel().selectionChanged.connect(self._selection_changed)
        view.activated.connect(self.open_draft)  # double-click or Enter: edit a draft
        self.reader = ReaderView(
            prefer_html=bool(self.qsettings.value("reader/prefer_html", True, type=bool)),
            allowed_senders=set(json.loads(str(self.qsettings.value("reader/senders", "[]")))),
            load_remote=self.settings.load_remote_content,
        )
        self.reader.senderAllowed.connect(self._remember_sender)
        self.hop_panel = JourneyTab()
        self.tabs = QTabWidget(documentMode=True)
        self.tabs.setAccessibleName(_("Message and journey"))
        self.tabs.addTab(self.reader, _("Message"))
        self.tabs.addTab(self.hop_panel, _("Journey"))
        self.tabs.currentChanged.connect(lambda _index: self._fit_journey())
        self.tabs.setMinimumWidth(320)  # not the widest line of a page: the list needs room
        self.content = QSplitter(self._orientation())
        self.content.addWidget(view)
        self.content.addWidget(self.tabs)
        self.content.setStretchFactor(1, 1)
        # the user dragged the handle: that split is theirs, not to be restored later
        self.content.splitterMoved.connect(lambda *_: setattr(self, "_widened", None))
        self.content.setSizes([500, 660])
        self.main_splitter = QSplitter(Qt.Orientation.Horizontal)
        self.main_splitter.addWidget(self.folder_view)
        self.main_splitter.addWidget(self.content)
        self.main_splitter.setStretchFactor(1, 1)
        self.main_splitter.setSizes([220, 1000])
        self.setCentralWidget(self.main_splitter)

    def _build_status(self) -> None:
        status = self.statusBar()
        self.progress = QProgressBar(maximum=0, textVisible=False)
        self.progress.setMaximumWidth(120)
        self.progress.setMaximumHeight(14)
        self.progress.hide()
        self.state_label = QLabel()
        self.security_icon = QLabel()
        self.security_label = QLabel()
        if self.demo is not None:  # mua.gui.demo_start says "Starting…" here meanwhile
            self.demo_label = QLabel(_("Demo world on this computer"))
            status.addPermanentWidget(self.demo_label)
        for widget in (self.progress, self.state_label, self.security_icon, self.security_label):
            status.addPermanentWidget(widget)
        self._update_status()

    def _restore(self) -> None:
        restore_geometry(self, self.qsettings.value("window/geometry"))  # if it fits the screen
        for key, splitter in (("main", self.main_splitter), ("content", self.content)):
            state = self.qsettings.value(f"window/{key}")
            if state is not None:
                splitter.restoreState(state)
        self.content.setOrientation(self._orientation())

    def closeEvent(self, event) -> None:
        if not self.close_compose_windows():  # one asks about unsaved changes: stay open
            event.ignore()
            return
        self.qsettings.setValue("window/geometry", self.saveGeometry())
        self.qsettings.setValue("window/main", self.main_splitter.saveState())
        self.qsettings.setValue("window/content", self.content.saveState())
        self.qsettings.sync()
        self._closing = True
        super().closeEvent(event)
        self.closed.emit()

    async def aclose(self) -> None:
        """Stop listening for new mail and wait for the window's other jobs; the app awaits
        this before closing the engine."""
        self._closing = True
        self._poll.stop()
        self.engine.stop_idling()
        for task in self._idle.values():
            task.cancel()  # the engine's aclose shuts the IDLE connection itself
        await self.bridge.drain()

    # -- folders and the list -----------------------------------------------------------------

    def accounts(self) -> list[str]:
        return [a.address for a in self.engine.accounts.load()]

    def refresh_folders(self) -> None:
        accounts = self.engine.accounts.load()
        self.folders.refresh(self.engine.cache, [(a.address, a.address) for a in accounts])
        self.folder_view.expandAll()
        current = self.folder_view.currentIndex()
        if accounts and (not current.isValid() or current.data(FolderRole) is None):
            account = current.data(AccountRole) if current.isValid() else accounts[0].address
            inbox = self.folders.folder_index(account, "INBOX")  # an account shows its Inbox
            if inbox.isValid() or not current.isValid():
                self.folder_view.setCurrentIndex(
                    inbox if inbox.isValid() else self.folders.index(0, 0)
                )

    def select_folder(self, account: str, folder: str) -> bool:
        index = self.folders.folder_index(account, folder)
        if index.isValid():
            self.folder_view.setCurrentIndex(index)
        return index.isValid()

    def _folder_chosen(self, current, _previous=None) -> None:
        self.account, self.folder = current.data(AccountRole), current.data(FolderRole)
        self.search.blockSignals(True)
        self.search.clear()
        self.search.blockSignals(False)
        self.messages.set_folder(self.account, self.folder)
        self._clear_reader()
        label = current.data(Qt.ItemDataRole.DisplayRole) or ""
        self.setWindowTitle(" — ".join(p for p in ("mua", self.account, label) if p))
        self._update_status()
        if self.account and self.folder and not self._closing:
            self.sync(self.account, [self.folder])

    def _refresh_list(self) -> None:
        """Re-read the list after a sync, keeping the selection, the scroll position and the
        reader as they are (unless the message shown is gone)."""
        chosen = [m.uid for m in self.selected_messages()]
        current = self.messages.message_at(self.message_view.currentIndex().row())
        position = self.message_view.verticalScrollBar().value()
        self._restoring = True
        try:
            self.messages.refresh()
            self.select_uids(chosen, current.uid if current else None)
        finally:
            self._restoring = False
        self.message_view.verticalScrollBar().setValue(position)
        if self.shown and self.messages.row_of(self.shown[2]) is None:
            self._clear_reader()
        self._update_actions()

    def select_uids(self, uids: list[int], current: int | None = None) -> None:
        selection = QItemSelection()
        for uid in uids:
            row = self.messages.row_of(uid)
            if row is not None:
                selection.select(
                    self.messages.index(row, 0), self.messages.index(row, len(Column) - 1)
                )
        model = self.message_view.selectionModel()
        row = self.messages.row_of(current) if current is not None else None
        if row is not None:
            model.setCurrentIndex(
                self.messages.index(row, 0), QItemSelectionModel.SelectionFlag.NoUpdate
            )
        model.select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)

    def selected_messages(self) -> list[CachedMessage]:
        rows = sorted(i.row() for i in self.message_view.selectionModel().selectedRows())
        return [m for r in rows if (m := self.messages.message_at(r)) is not None]

    # -- reading ------------------------------------------------------------------------------

    def _clear_reader(self) -> None:
        self.shown, self.raw = None, None
        self.reader.clear()
        self.hop_panel.set_trace(None)

    def _selection_changed(self, *_args) -> None:
        if self._restoring:
            return
        self._update_actions()
        chosen = self.selected_messages()
        if len(chosen) != 1:
            if not chosen:
                self._clear_reader()
            return
        message = chosen[0]
        key = (message.account, message.folder, message.uid)
        if key == self.shown:
            return
        self.shown, self.raw = key, None
        raw = self.engine.cache.body(*key)
        if raw is not None:
            self._display(key, raw)
            return
        self.statusBar().showMessage(_("Loading the message…"))
        self.bridge.run(
            _("Reading the message"),
            self.engine.body(*key),
            lambda data: self._display(key, data),
            self._failed,
        )

    def _display(self, key: tuple[str, str, int], raw: bytes) -> None:
        if key != self.shown:
            return  # another message was chosen meanwhile
        self.statusBar().clearMessage()
        self.raw = raw
        self.reader.show_message(raw)
        self._update_actions()
        message = self.engine.cache.message(*key)
        if self.trace_provider is not None:
            self.hop_panel.set_trace(self._journey(key, raw, message))
            self._fit_journey()
        if message is not None and not message.seen:
            self._change_flags("\\Seen", True, [message])  # reading it makes it read

    # -- status -------------------------------------------------------------------------------

    def _failed(self, message: str) -> None:
        self.statusBar().showMessage(message, 10_000)

    def _update_status(self, address: str | None = None, state: str = "", problem: str = ""):
        self.progress.setVisible(self._syncing > 0)
        if address is not None and state:
            self._state[address.lower()] = (state, problem)
        account = (self.account or "").lower()
        state, problem = self._state.get(account, (_("not connected"), ""))
        self.state_label.setText(f"{account}: {state}" if account else "")
        self.state_label.setToolTip(problem)
        settings = self.engine.accounts.get(account) if account else None
        if settings is not None and settings.pop3 is not None:  # downloads: no open session
            tls, protocol = self.engine.pop3_tls(account), Protocol.POP3
        else:
            tls, protocol = (self.engine.imap_tls(account) if account else None), Protocol.IMAP
        if tls is None:
            self.security_icon.setPixmap(lock_icon(Grade.UNKNOWN).pixmap(16, 16))
            self.security_label.setText(
                _("POP3: no download yet") if protocol is Protocol.POP3 else _("IMAP: no session")
            )
            return
        leg = Leg(Endpoint(Role.MS), Endpoint(Role.MUA), protocol, tls, Source.OBSERVED)
        self.security_icon.setPixmap(lock_icon(leg.grade).pixmap(16, 16))
        summary = translated(tls.summary())
        self.security_label.setText(
            _("POP3: {security}").format(security=summary)
            if protocol is Protocol.POP3
            else _("IMAP: {security}").format(security=summary)
        )
        self.security_label.setToolTip(tls.cipher or "")
