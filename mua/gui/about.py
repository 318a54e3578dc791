"""Help > About mua: the version (from the one place it is set, `mua.__version__`), what
it runs on, and where it keeps its files (what a bug report needs)."""

from __future__ import annotations

import html
import platform

import PySide6
from PySide6.QtCore import Qt, qVersion
from PySide6.QtWidgets import QMessageBox, QWidget

from mua import __version__
from mua.core.i18n import _
from mua.gui.close_key import close_on_standard_key
from mua.gui.resources import app_icon
from mua.store import paths


def about_text() -> str:
    """The dialog's text, as rich text (the paths are escaped)."""
    places = [
        (_("Settings and accounts"), paths.config_dir()),
        (_("Window state"), paths.window_state_file()),
        (_("Mail cache"), paths.cache_dir()),
        (_("Data"), paths.data_dir()),
        (_("Logs"), paths.log_dir()),
    ]
    rows = "".join(
        f"<tr><td>{html.escape(name)}:&nbsp;</td><td><code>{html.escape(str(where))}</code>"
        "</td></tr>"
        for name, where in places
    )
    licence = _("MIT licence.")
    what = _(
        "A mail client that shows how your mail travels: every leg of a message's "
        "journey and what protected it."
    )
    return (
        f"<h3>mua {html.escape(__version__)}</h3>"
        f"<p>{html.escape(what)}</p>"
        f"<p>Python {html.escape(platform.python_version())}, "
        f"PySide6 {html.escape(PySide6.__version__)}, Qt {html.escape(qVersion())}, "
        f"{html.escape(platform.system())} {html.escape(platform.machine())}</p>"
        f"<table>{rows}</table>"
        f"<p>{html.escape(licence)}</p>"
    )


def show_about(parent: QWidget) -> QMessageBox:
    """Show the dialog, not modal; returns it (tests read it)."""
    box = QMessageBox(parent)
    box.setWindowTitle(_("About mua"))
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setText(about_text())
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    icon = app_icon()
    if icon is not None:
        box.setIconPixmap(icon.pixmap(64, 64))
    box.setModal(False)
    close_on_standard_key(box)
    box.show()
    return box
