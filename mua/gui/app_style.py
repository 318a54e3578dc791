"""The application's style: the platform's (or the one chosen with `-style`), except that
dialog buttons (OK, Cancel, Close, Yes, No...) carry no icons. Some styles and desktops
(Fusion on KDE, "dialogbuttonbox-buttons-have-icons") put a small stock icon on each; mua's
dialogs (Preferences, the account wizard, About, message boxes) show words only."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication, QProxyStyle, QStyle


class PlainDialogButtons(QProxyStyle):
    """The base style, with SH_DialogButtonBox_ButtonsHaveIcons answered "no"."""

    def styleHint(self, hint, option=None, widget=None, returnData=None) -> int:
        if hint == QStyle.StyleHint.SH_DialogButtonBox_ButtonsHaveIcons:
            return 0
        return super().styleHint(hint, option, widget, returnData)


def install_app_style(app: QApplication, base: QStyle | None = None) -> PlainDialogButtons:
    """Wrap `base` (by default the style the application uses now: the platform's, or the
    one `-style` chose) and make it the application's style; call before any dialog is
    created (buttons take their icons when made)."""
    if base is None:
        base = app.style()
        if isinstance(base, PlainDialogButtons):
            return base  # installed already
    style = PlainDialogButtons(base)  # takes `base` over (the app no longer deletes it)
    app.setStyle(style)
    return style
