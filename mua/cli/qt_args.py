"""Qt's own command-line options (`mua -style fusion`, `mua -reverse`, `mua -platform
offscreen`...): taken out of the arguments before mua's parser sees them and handed to the
QApplication of the desktop app or the `mua open` viewer, which understand them.

The lists are QGuiApplication's and QApplication's documented options; each may be written
with one dash or two, and an option's value may follow it or be joined with "=".
Everything after a lone "--" is mua's."""

from __future__ import annotations

from collections.abc import Sequence

# Options taking a value, and flags.
WITH_VALUE = frozenset(
    {
        "platform", "platformpluginpath", "platformtheme", "plugin", "qmljsdebugger",
        "qwindowgeometry", "qwindowicon", "qwindowtitle", "style", "stylesheet", "session",
        "display", "geometry", "title", "name", "visual", "fontengine", "bg", "fg", "btn",
        "font", "background", "foreground", "button",
    }
)  # fmt: skip
FLAGS = frozenset({"reverse", "widgetcount", "nograb", "dograb", "sync", "testability"})


def _option(token: str) -> tuple[str, bool]:
    """(the option's name without dashes, whether its value is joined with "=")."""
    name = token.lstrip("-")
    return name.partition("=")[0], "=" in name


def split_qt_args(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """(mua's arguments, Qt's arguments), each in the order given."""
    ours: list[str] = []
    qt: list[str] = []
    tokens = list(argv)
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token == "--":
            ours.extend(tokens[index:])
            break
        is_option = token.startswith("-") and not token.startswith("---")
        name, joined = _option(token) if is_option else ("", False)
        if name in FLAGS and not joined:
            qt.append(token)
        elif name in WITH_VALUE and (joined or index + 1 < len(tokens)):
            qt.append(token)
            if not joined:
                index += 1
                qt.append(tokens[index])
        else:
            ours.append(token)
        index += 1
    return ours, qt


def platform_chosen(qt_args: Sequence[str]) -> bool:
    """Whether the Qt arguments name a platform plugin (`-platform offscreen`, say)."""
    return any(_option(token)[0] == "platform" for token in qt_args if token.startswith("-"))
