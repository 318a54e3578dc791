"""Every system library the Qt plugins that mua loads link to is installed (issue #12).

Qt's xcb platform plugin (>= 6.5) needs libxcb-cursor0, libxcb-icccm4, libxcb-keysyms1 and
more; without any one of them `mua` aborts at start on a desktop with "could not load the Qt
platform plugin xcb". Offscreen tests never load it, so this test runs `ldd` on the plugins of
the installed PySide6 wheel that the frozen app bundles too, and names each missing library.
scripts/system-deps installs them; tests/packaging/test_frozen.py checks the frozen app's copy.
"""

from __future__ import annotations

import shutil
import sys

import pytest

from tests.packaging.qt_plugins import missing_libraries, plugins, qt_dir, report

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or shutil.which("ldd") is None,
    reason="ldd and ELF plugins are Linux's",
)


def test_the_plugins_mua_bundles_find_every_library_they_link_to() -> None:
    qt = qt_dir()
    found = plugins(qt / "plugins")
    assert {p.name for p in found} >= {"libqxcb.so", "libqwayland.so", "libqoffscreen.so"}
    missing = {p: libs for p in found if (libs := missing_libraries(p, qt / "lib"))}
    assert not missing, report(missing)
