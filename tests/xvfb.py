"""A virtual X server for tests that start the app on the xcb platform, as on a desktop."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest

TOOLS = ("Xvfb", "xdotool", "xwininfo", "import")


def require_x_tools() -> None:
    """Skip (fail under CI=true) without Linux and the tools scripts/system-deps installs."""
    absent = [tool for tool in TOOLS if shutil.which(tool) is None]
    if not sys.platform.startswith("linux") or absent:
        message = f"needs an X server and tools scripts/system-deps installs: {absent}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@contextlib.contextmanager
def xvfb() -> Iterator[str]:
    """A fresh Xvfb ("-nolisten tcp") on a display number it picks itself (-displayfd: no race
    for a free one); yields DISPLAY once the server accepts clients."""
    require_x_tools()
    read_end, write_end = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    os.close(write_end)
    try:
        with os.fdopen(read_end) as numbers:
            number = numbers.readline().strip()  # written once the server accepts clients
        assert number.isdigit(), server.stderr.read().decode() if server.stderr else "Xvfb died"
        yield f":{number}"
    finally:
        server.terminate()
        server.communicate(timeout=30)
