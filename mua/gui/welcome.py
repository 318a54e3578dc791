"""The welcome note: shown by itself on the first start in demo mode only (remembered in the
window's settings), and whenever the user asks for it (Help > Welcome…)."""

from __future__ import annotations

from mua.core.i18n import _

SHOWN_KEY = "welcome/shown"


def show_welcome_once(window):
    """The welcome, unless this profile has seen it already; the box, or None."""
    if window.qsettings.value(SHOWN_KEY, False, type=bool):
        return None
    return show_welcome(window)


def show_welcome(window):
    """A short welcome, not modal: the app works behind it (asyncio keeps running). One box
    at a time: asking again brings the open one forward."""
    from PySide6.QtWidgets import QMessageBox

    box = getattr(window, "welcome", None)
    if box is not None and box.isVisible():
        box.raise_()
        box.activateWindow()
        return box
    if window.demo is not None:
        text = _(
            "You are signed in as alice@a.test on a small mail world that runs on this "
            "computer (bob@b.test is your second account). Send Bob a message, then open it "
            "in his Inbox and look at its Journey: every leg, and what protected it. The "
            "Demo menu sends a sample message under other scenarios (STARTTLS, cleartext, "
            "an attacker...): it lands in Bob's Inbox (a bounce in Alice's) and its journey "
            "opens here, to compare."
        )
    else:
        text = _(
            "Open a message and choose its Journey tab (Ctrl+J) to see how it travelled: "
            "every leg from the sender to you, whether it was encrypted, and who says so. "
            "The badge beside each message in the list is its weakest leg."
        )
    box = QMessageBox(QMessageBox.Icon.Information, _("Welcome to mua"), text, parent=window)
    box.setModal(False)
    box.show()
    window.welcome = box
    window.qsettings.setValue(SHOWN_KEY, True)
    window.qsettings.sync()
    return box
