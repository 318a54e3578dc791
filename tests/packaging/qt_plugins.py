"""Which system libraries Qt's plugins fail to find (`ldd`), for the wheel and the frozen app.

PyInstaller's Qt hooks collect these plugin folders for QtGui, QtWidgets, QtSvg and QtNetwork
(PyInstaller/utils/hooks/qt/_modules_info.py); the tests check the ones the wheel ships.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
from pathlib import Path

# The plugin folders PyInstaller collects for the Qt modules mua imports (its
# PyInstaller/utils/hooks/qt/_modules_info.py), wherever the wheel ships them.
PLUGIN_FOLDERS = (
    "accessiblebridge",
    "egldeviceintegrations",
    "generic",
    "iconengines",
    "imageformats",
    "platforms",
    "platforminputcontexts",
    "platformthemes",
    "xcbglintegrations",
    "wayland-decoration-client",
    "wayland-graphics-integration-client",
    "wayland-shell-integration",
    "networkaccess",
    "networkinformation",
    "tls",
    "styles",
)
# Which Debian package provides each library the plugins need beyond the ones every system has:
# the hint in a failure (scripts/system-deps lists them).
DEBIAN_PACKAGE = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libwayland-client.so.0": "libwayland-client0",
    "libwayland-cursor.so.0": "libwayland-cursor0",
    "libwayland-egl.so.1": "libwayland-egl1",
    "libgtk-3.so.0": "libgtk-3-0",
    "libgdk-3.so.0": "libgtk-3-0",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libOpenGL.so.0": "libopengl0",
    "libfontconfig.so.1": "libfontconfig1",
    "libdbus-1.so.3": "libdbus-1-3",
}
NOT_FOUND = re.compile(r"^\s*(\S+) => not found", re.MULTILINE)


def qt_dir() -> Path:
    """The wheel's Qt folder, found without importing (and loading) Qt."""
    spec = importlib.util.find_spec("PySide6")
    assert spec is not None and spec.origin is not None, "PySide6 is not installed"
    return Path(spec.origin).resolve().parent / "Qt"


def plugins(root: Path) -> list[Path]:
    """The plugin files under `root` (a Qt `plugins/` folder) in the bundled folders."""
    return sorted(p for folder in PLUGIN_FOLDERS for p in (root / folder).glob("*.so"))


def missing_libraries(plugin: Path, qt_lib: Path, search: Path | None = None) -> set[str]:
    """What `ldd` finds missing for `plugin`, except Qt libraries the wheel does not ship.

    A `libQt6*` library comes from the wheel (the plugin's RUNPATH), never from the system:
    one absent from `qt_lib` belongs to a Qt module PySide6-Essentials leaves out (Qt Virtual
    Keyboard's input context, the eglfs KMS integration of embedded devices), whose plugin Qt
    never loads for mua and no system package could supply.

    `search` is looked in first, as the frozen app's launcher sets LD_LIBRARY_PATH to its
    `_internal/` folder."""
    env = {**os.environ, "LD_LIBRARY_PATH": str(search)} if search else None
    result = subprocess.run(
        ["ldd", str(plugin)], capture_output=True, text=True, timeout=60, env=env
    )
    found = set(NOT_FOUND.findall(result.stdout))
    return {lib for lib in found if not (lib.startswith("libQt6") and not (qt_lib / lib).exists())}


def report(missing: dict[Path, set[str]]) -> str:
    lines = []
    for plugin, libs in sorted(missing.items()):
        named = ", ".join(f"{lib} (Debian: {DEBIAN_PACKAGE.get(lib, '?')})" for lib in sorted(libs))
        lines.append(f"{plugin.parent.name}/{plugin.name} needs {named}")
    return "missing system libraries (add them to scripts/system-deps):\n" + "\n".join(lines)
