"""The main window's commands: its actions (text, shortcut, icon), the menu bar, the toolbar
with the search field, which actions the selection enables, and the search they run (this
folder from the cache at once, then the server). A mixin of MainWindow
(mua/gui/main_window.py), split out to keep one idea a file."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QLineEdit, QSizePolicy, QWidget

from mua.core.i18n import _
from mua.gui import resources
from mua.gui.edit_actions import EditActions
from mua.gui.welcome import show_welcome
from mua.gui.window_parts import WindowParts

# name, text, slot, shortcut, icon (freedesktop name), checkable
ActionRow = tuple[str, str, Callable[..., object], QKeySequence.StandardKey | str | None,
                  str | None, bool]  # fmt: skip


class WindowMenus(WindowParts):
    """Actions, menus and the toolbar for MainWindow (it provides the views, the reader and
    the slots the actions call)."""

    def _build_actions(self) -> None:
        key = QKeySequence.StandardKey
        table: list[ActionRow] = [  # name, text, slot, shortcut, icon (freedesktop name), checkable
            ("new", _("&New Message"), lambda: self.compose(), key.New,
             "mail-message-new", False),
            ("reply", _("&Reply"), lambda: self.reply(), "Ctrl+R",
             "mail-reply-sender", False),
            ("reply_all", _("Reply &All"), lambda: self.reply(all_recipients=True),
             "Ctrl+Shift+R", "mail-reply-all", False),
            ("forward", _("&Forward"), self.forward, "Ctrl+L",
             "mail-forward", False),
            ("delete", _("&Delete"), self.delete_selected, key.Delete,
             "edit-delete", False),
            ("toggle_read", _("Toggle Read"), self.toggle_read, "M", None, False),
            ("mark_read", _("Mark as &Read"), lambda: self.set_read(True), None, None, False),
            ("mark_unread", _("Mark as &Unread"), lambda: self.set_read(False), "Ctrl+U",
             None, False),
            ("flag", _("F&lag"), self.toggle_flag, "S", "mail-mark-important", False),
            ("move", _("&Move To…"), lambda: self.move_selected(), "Ctrl+Shift+M", None,
             False),
            ("refresh", _("&Get Messages"), self.refresh_all, key.Refresh,
             "view-refresh", False),
            ("find", _("&Find"), self._focus_search, key.Find, None, False),
            ("add_account", _("&Add Account…"), self.add_account, None, None, False),
            ("preferences", _("&Preferences…"), lambda: self.preferences(),
             key.Preferences, None, False),
            ("quit", _("&Quit"), self.close, key.Quit, None, False),
            ("right", _("Reader on the &Right"), lambda: self.set_reader_position("right"),
             None, None, True),
            ("below", _("Reader &Below"), lambda: self.set_reader_position("bottom"), None,
             None, True),
            ("html", _("Prefer &HTML"), self.reader.set_prefer_html, None, None, True),
            ("journey", _("Show &Journey"), lambda: self.tabs.setCurrentIndex(1),
             "Ctrl+J", "mua-journey", False),
            ("welcome", _("&Welcome…"), lambda: show_welcome(self), None, None, False),
            ("about", _("&About mua"), self._about, None, None, False),
            ("about_qt", _("About &Qt"), QApplication.aboutQt, None, None, False),
        ]  # fmt: skip
        for name, text, slot, shortcut, icon, checkable in table:
            action = QAction(text, self, checkable=checkable)
            if shortcut is not None:
                action.setShortcut(QKeySequence(shortcut))
            if icon is not None:
                action.setIcon(resources.icon(icon))
            action.triggered.connect(slot)
            setattr(self, f"act_{name}", action)
        self.act_html.setChecked(self.reader.prefer_html)
        self.act_preferences.setMenuRole(QAction.MenuRole.PreferencesRole)  # macOS: app menu
        self.act_html.toggled.connect(lambda on: self.qsettings.setValue("reader/prefer_html", on))
        self.edit_actions = EditActions(self)  # Undo ... Select All, on the focus widget
        edit = self.edit_actions.actions()
        bar = self.menuBar()
        for title, actions in (
            (
                _("&File"),
                [self.act_new, None, self.act_refresh, self.act_add_account, None, self.act_quit],
            ),
            (_("&Edit"), [*edit[:2], None, *edit[2:5], None, edit[5], None,
                self.act_find, None, self.act_preferences]),
            (_("&View"), [self.act_right, self.act_below, None, self.act_html,
                self.act_journey]),
            (_("&Message"), [self.act_reply, self.act_reply_all, self.act_forward, None,
                self.act_toggle_read, self.act_mark_read, self.act_mark_unread, self.act_flag,
                None, self.act_move, self.act_delete]),
            (_("&Help"), [self.act_welcome, None, self.act_about, self.act_about_qt]),
        ):  # fmt: skip
            menu = bar.addMenu(title)
            for entry in actions:
                menu.addSeparator() if entry is None else menu.addAction(entry)
        self._show_position()
        toolbar = self.addToolBar(_("Main"))
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for tool in (self.act_refresh, None, self.act_new, self.act_reply, self.act_reply_all,
                       self.act_forward, None, self.act_flag, self.act_delete):  # fmt: skip
            toolbar.addSeparator() if tool is None else toolbar.addAction(tool)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        toolbar.addWidget(spacer)
        self.search = QLineEdit(placeholderText=_("Search this folder  (Ctrl+F)"))
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName(_("Search this folder"))
        self.search.setMaximumWidth(280)
        toolbar.addWidget(self.search)
        self._search_timer = QTimer(self, singleShot=True, interval=250)
        self._search_timer.timeout.connect(self._run_search)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        self.message_view.addActions([self.act_reply, self.act_forward, self.act_toggle_read,
                                      self.act_flag, self.act_move, self.act_delete])  # fmt: skip
        self.message_view.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self._update_actions()

    def _focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def _run_search(self) -> None:
        text = self.search.text()
        self.messages.set_search(text)
        if text.strip() and self.account and self.folder:  # local first, then the server
            account, folder = self.account, self.folder
            self.bridge.run(
                _("Searching the server"),
                self.engine.search(account, folder, text),
                lambda uids: self._server_found((account, folder), text, uids),
            )

    def _server_found(self, where: tuple[str, str], text: str, uids: list[int]) -> None:
        if where == (self.account, self.folder) and text == self.search.text():
            found = (self.engine.cache.message(*where, uid) for uid in uids)
            self.messages.add_results(m for m in found if m is not None)

    def _update_actions(self) -> None:
        chosen = bool(self.selected_messages())
        one = self.raw is not None
        for action in (self.act_delete, self.act_toggle_read, self.act_mark_read,
                       self.act_mark_unread, self.act_flag, self.act_move):  # fmt: skip
            action.setEnabled(chosen)
        for action in (self.act_reply, self.act_reply_all, self.act_forward):
            action.setEnabled(one)
