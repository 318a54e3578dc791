"""The main window's parts as its mixins see them, for the type checker only.

MainWindow is one QMainWindow put together from mixins by idea (mail_actions, new_mail,
journey_view, window_menus, window_settings), each using what the window and the others
provide. `WindowParts` names those things with their types; each mixin derives from it.
At run time it is plain `object`, so the classes and their order are what they were.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable
    from typing import Any

    from PySide6.QtCore import QSettings, QTimer, Signal
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QMainWindow, QSplitter, QSystemTrayIcon, QTabWidget, QTreeView

    from mua.client.engine import Engine
    from mua.core.compose import Draft
    from mua.core.legs import Trace
    from mua.gui.bridge import Bridge
    from mua.gui.demo_profile import DemoSession
    from mua.gui.folder_model import FolderTreeModel
    from mua.gui.journey_view import JourneyTab
    from mua.gui.message_model import MessageListModel
    from mua.gui.ports_table_window import PortsTableWindow
    from mua.gui.reader import ReaderView
    from mua.store.cache import CachedMessage
    from mua.store.config import ReaderPosition, Settings

    class WindowParts(QMainWindow):
        newMail = Signal(str, int)
        settingsChanged = Signal(object)
        idle_slice: float

        # built by MainWindow
        engine: Engine
        bridge: Bridge
        demo: DemoSession | None
        settings: Settings
        qsettings: QSettings
        trace_provider: Callable[[str, str, int, bytes], Trace | None] | None
        compose_opener: Callable[[Draft | None], object]
        account: str | None
        folder: str | None
        shown: tuple[str, str, int] | None
        raw: bytes | None
        folders: FolderTreeModel
        folder_view: QTreeView
        messages: MessageListModel
        message_view: QTreeView
        reader: ReaderView
        hop_panel: JourneyTab
        tabs: QTabWidget
        content: QSplitter
        _closing: bool
        _state: dict[str, tuple[str, str]]
        _idle: dict[str, asyncio.Task[Any]]  # each account's IDLE job
        _backoff: dict[str, float]
        _syncing: int
        _tray: QSystemTrayIcon | None
        _widened: list[int] | None
        _tracing: bool
        _trace_timer: QTimer
        _poll: QTimer

        # the actions (mua.gui.window_menus), one per entry of its table
        act_new: QAction
        act_reply: QAction
        act_reply_all: QAction
        act_forward: QAction
        act_delete: QAction
        act_toggle_read: QAction
        act_mark_read: QAction
        act_mark_unread: QAction
        act_flag: QAction
        act_move: QAction
        act_refresh: QAction
        act_find: QAction
        act_add_account: QAction
        act_preferences: QAction
        act_quit: QAction
        act_right: QAction
        act_below: QAction
        act_html: QAction
        act_journey: QAction
        act_welcome: QAction
        act_about: QAction
        act_about_qt: QAction

        # the Demo menu's, in demo mode (mua.gui.scenarios)
        scenario_actions: list[QAction]
        ports_table_action: QAction
        ports_table: PortsTableWindow

        # MainWindow's methods
        def accounts(self) -> list[str]: ...
        def refresh_folders(self) -> None: ...
        def select_uids(self, uids: list[int], current: int | None = None) -> None: ...
        def selected_messages(self) -> list[CachedMessage]: ...
        def _refresh_list(self) -> None: ...
        def _failed(self, message: str) -> None: ...
        def _update_status(
            self, address: str | None = None, state: str = "", problem: str = ""
        ) -> None: ...

        # the mixins', used by one another
        def compose(self, draft: Draft | None = None) -> object: ...
        def reply(self, *, all_recipients: bool = False) -> object: ...
        def forward(self) -> object: ...
        def delete_selected(self) -> None: ...
        def move_selected(self, destination: str | None = None) -> None: ...
        def set_read(self, read: bool) -> None: ...
        def toggle_read(self) -> None: ...
        def toggle_flag(self) -> None: ...
        def add_account(self) -> object: ...
        def refresh_all(self) -> None: ...
        def sync(
            self,
            address: str,
            folders: list[str] | None = None,
            *,
            first: bool = False,
            notify: bool = False,
        ) -> None: ...
        def preferences(self) -> object: ...
        def set_reader_position(self, position: ReaderPosition) -> None: ...
        def _about(self) -> None: ...
        def _show_position(self) -> None: ...
        def _update_actions(self) -> None: ...

else:
    WindowParts = object
