"""A screen reader's view of the app: `mua open FILE.eml` on a virtual X server with Qt's
AT-SPI bridge on, driven through pyatspi as Orca would (issue #12).

The in-process tests (test_accessibility.py) ask Qt for its accessible tree; this one checks
that the tree reaches the desktop's accessibility bus: the journey diagram is a list named
"How this message travelled", each leg a list item named in words, and the keyboard (real
key presses through the X server) moves the focus from leg to leg and opens one.

pyatspi is a Debian package for the system Python, not a wheel: `atspi_probe.py` runs under
/usr/bin/python3 inside a private D-Bus session (`dbus-run-session`) and starts, then stops,
Xvfb, the AT-SPI bus and the app. Without those packages (scripts/system-deps installs them)
the test skips and says why; under CI=true it fails instead.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_cli_trace import SAMPLE

pytestmark = pytest.mark.slow

PROBE = Path(__file__).with_name("atspi_probe.py")
SYSTEM_PYTHON = "/usr/bin/python3"
PACKAGES = "xvfb, at-spi2-core, python3-pyatspi, dbus (dbus-run-session) and xdotool"


def _missing() -> list[str]:
    missing = [tool for tool in ("Xvfb", "dbus-run-session", "xdotool") if not shutil.which(tool)]
    if not Path("/usr/libexec/at-spi-bus-launcher").exists():
        missing.append("at-spi-bus-launcher")
    has_pyatspi = Path(SYSTEM_PYTHON).exists() and (
        subprocess.run(
            [SYSTEM_PYTHON, "-c", "import pyatspi"], capture_output=True, timeout=30
        ).returncode
        == 0
    )
    return missing if has_pyatspi else [*missing, "pyatspi"]


@pytest.fixture
def atspi_tools() -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("AT-SPI is the Linux desktop's accessibility bus")
    if missing := _missing():
        reason = f"{', '.join(missing)} missing: scripts/system-deps installs {PACKAGES}"
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail(f"{reason}; CI=true, so this is a failure", pytrace=False)
        pytest.skip(reason)


def _app_env(home: Path) -> dict[str, str]:
    """No platform forced (make test exports QT_QPA_PLATFORM=offscreen: the probe sets xcb),
    no display or bus of the caller's, every file of the user's under `home`."""
    dropped = ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(
        HOME=str(home),
        MUA_HOME=str(home / "mua"),
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
    )
    for name in ("CONFIG", "DATA", "CACHE", "STATE"):
        env[f"XDG_{name}_HOME"] = str(home / name.lower())
    return env


@pytest.mark.usefixtures("atspi_tools")
def test_a_screen_reader_finds_each_leg_by_its_name_and_follows_the_keys(tmp_path: Path) -> None:
    eml = tmp_path / "sample.eml"
    eml.write_text(SAMPLE)
    command = [
        "dbus-run-session", "--", SYSTEM_PYTHON, str(PROBE),
        "--leg", "Leg 2 of 2:", "--window", "sample.eml", "--within", "60",
        "--", sys.executable, "-m", "mua", "open", str(eml),
    ]  # fmt: skip
    probe = subprocess.Popen(
        command,
        env=_app_env(tmp_path / "home"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: ended whole if it hangs
    )
    try:
        out, err = probe.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        os.killpg(probe.pid, signal.SIGKILL)
        out, err = probe.communicate(timeout=30)
        pytest.fail(f"the AT-SPI probe did not finish:\n{err[-3000:]}", pytrace=False)
    assert out.strip(), err[-3000:]
    found = json.loads(out.strip().splitlines()[-1])
    assert found["found"], (found, err[-3000:])
    assert probe.returncode == 0, err[-3000:]

    first = (
        "Leg 1 of 2: MUA to MSA, SMTP-submission, encrypted TLSv1.3, verification unknown, "
        "! Acceptable (amber), claimed upstream, unverifiable"
    )
    second = (
        "Leg 2 of 2: MTA to MX, SMTP, encrypted TLSv1.3 STARTTLS, verification unknown, "
        "! Acceptable (amber), recorded by your provider"
    )
    assert found["application"] == "mua"
    assert found["leg"] == {"name": second, "role": "list item"}
    assert {"focusable", "selectable", "showing"} <= set(found["states"])
    assert found["list"] == {"name": "How this message travelled", "role": "list", "children": 2}
    assert found["items"] == [first, second]
    assert found["focused"] == [first, second]  # focus on the list, then the Right key
    assert found["focus_events"] == [first, second]  # and a screen reader was told each time
    assert found["selected"] == second  # Return opened it
