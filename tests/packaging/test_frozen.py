"""The frozen app as a user gets it: built by packaging/linux.py (what `make package` runs)
when dist/ holds no build of these sources, then run from dist/ and from its installers.

The build takes ~40 s on two cores; later runs reuse it while the sources are unchanged
(dist/mua-package.json holds their digest).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import struct
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import mua
from tests.packaging.qt_plugins import missing_libraries, plugins, qt_dir, report
from tests.xvfb import xvfb

ROOT = Path(__file__).resolve().parents[2]
# The build runs in the first test's setup: this module's timeout covers it.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
ROLES = [("MUA", "MSA"), ("MSA", "MTA"), ("MTA", "MX"), ("MX", "MDA"), ("MDA", "MS"), ("MS", "MUA")]
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


@pytest.fixture(scope="module")
def artefacts() -> dict[str, Path]:
    result = subprocess.run(
        [sys.executable, str(ROOT / "packaging" / "linux.py"), "--if-stale"],
        capture_output=True,
        text=True,
        timeout=840,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return {role: Path(path) for role, path in json.loads(result.stdout).items()}


@pytest.fixture
def frozen(artefacts: dict[str, Path]) -> Path:
    return artefacts["app"] / "mua"


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "MUA_HOME": str(home), "QT_QPA_PLATFORM": "offscreen", **extra}
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        env[name] = str(home / name.lower())
    return env


def _until(condition: Callable[[], object], timeout: float = 60.0) -> None:
    """Poll `condition` every 0.1 s until it holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"nothing happened within {timeout:g} s"
        time.sleep(0.1)


def _run(command: list[str], home: Path, **kwargs) -> subprocess.CompletedProcess[str]:
    kwargs.setdefault("timeout", 120)
    return subprocess.run(command, env=_env(home), capture_output=True, text=True, **kwargs)


def test_version_is_the_packages_own(frozen: Path, tmp_path: Path) -> None:
    result = _run([str(frozen), "--version"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"mua {mua.__version__}"


def test_demo_delivers_the_message_end_to_end(frozen: Path, tmp_path: Path) -> None:
    result = _run([str(frozen), "demo", "--headless", "--json"], tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]
    trace = json.loads(result.stdout)  # exactly one document
    assert trace["status"] == "delivered"
    assert [(leg["from"]["role"], leg["to"]["role"]) for leg in trace["legs"]] == ROLES
    assert trace["legs"][2]["tls"]["verified_by"] == "dane"
    assert "Traceback" not in result.stderr


def test_the_frozen_app_carries_the_translations(frozen: Path, tmp_path: Path) -> None:
    """mua's Russian catalog and Qt's own (qtbase_ru.qm, for Qt's dialogs) are in the bundle."""
    env = {**_env(tmp_path), "LANG": "ru_RU.UTF-8"}
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        env.pop(name, None)
    result = subprocess.run(
        [str(frozen), "demo", "--headless"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "Статус: доставлено" in result.stdout
    assert "Поставлено в очередь на диске" in result.stdout  # a note, from the event log
    assert list(frozen.parent.rglob("mua/locale/qt/qtbase_ru.qm"))


@pytest.mark.parametrize("scenario", ["strip", "requiretls-strip"])
def test_attack_scenarios_have_their_expected_outcome(
    frozen: Path, tmp_path: Path, scenario: str
) -> None:
    result = _run([str(frozen), "demo", "--headless", "--scenario", scenario], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr[-4000:]


def test_the_mail_commands_work_against_the_frozen_world(frozen: Path, tmp_path: Path) -> None:
    """What the frozen app imports lazily (imapclient, aiosmtplib, dnspython's DNSSEC, the
    encrypted password file of keyrings.alt with Cryptodome) is there: add, send, sync, list."""
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    (home / "config" / "settings.toml").write_text('secrets_backend = "encrypted-file"\n')
    world = tmp_path / "world"
    stack = subprocess.Popen(
        [str(frozen), "stack", "--dir", str(world), "--json"],
        env=_env(tmp_path / "stack-home"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert stack.stdout is not None
        line = stack.stdout.readline()  # the settings, once the world is up
        assert line.startswith("{"), line + stack.stderr.read() if stack.stderr else line
        settings = json.loads(line)
        alice = next(a for a in settings["accounts"] if a["address"] == "alice@a.test")
        env = _env(home, MUA_MASTER_PASSWORD="frozen test")

        def mua_cmd(*argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [str(frozen), *argv], env=env, input=stdin, capture_output=True, text=True,
                timeout=120,
            )  # fmt: skip

        added = mua_cmd(
            "accounts", "add", "alice@a.test",
            "--nameserver", f"127.0.0.1:{settings['dns']['port']}",
            "--trust-anchor", settings["trust_anchor_file"],
            "--ca-file", settings["ca_file"],
            "--username", alice["username"], "--password-stdin",
            stdin=alice["password"] + "\n",
        )  # fmt: skip
        assert added.returncode == 0, added.stdout + added.stderr
        sent = mua_cmd(
            "send", "--from", "alice@a.test", "--to", "alice@a.test",
            "--subject", "From the frozen app", "--body", "Hello.", "--json",
        )  # fmt: skip
        assert sent.returncode == 0, sent.stdout + sent.stderr
        assert json.loads(sent.stdout)["tls"]["verified"] is True
        deadline = time.monotonic() + 30
        while True:  # the message is delivered to alice's own INBOX through the MX
            assert mua_cmd("sync", "--json").returncode == 0
            listed = mua_cmd("list", "alice@a.test", "--json")
            subjects = [row["subject"] for row in json.loads(listed.stdout)]
            if "From the frozen app" in subjects or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert "From the frozen app" in subjects
    finally:
        stack.send_signal(signal.SIGTERM)
        _out, err = stack.communicate(timeout=30)
    assert stack.returncode == 0, err[-4000:]
    assert "Traceback" not in err


def test_open_an_eml_as_the_file_association_does(frozen: Path, tmp_path: Path) -> None:
    """`mua open FILE.eml`: offscreen, its window until killed; with no display at all, the
    journey as text."""
    eml = tmp_path / "sample.eml"
    eml.write_text(
        "Received: from mx.example.net (mx.example.net [192.0.2.10])\r\n"
        "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))\r\n"
        "\tby mail.example.com (Postfix) with ESMTPS id 4ABC; Sat, 28 Nov 2026 10:00:05 +0000\r\n"
        "Subject: sample\r\n\r\nbody\r\n"
    )
    env = _env(tmp_path)
    env["QT_LOGGING_RULES"] = "qt.widgets.painting=true"  # says when the window is flushed
    stderr_file = tmp_path / "stderr.txt"
    with open(stderr_file, "w") as err:
        proc = subprocess.Popen([str(frozen), "open", str(eml)], env=env, stderr=err)
    try:
        _until(
            lambda: (
                proc.poll() is not None
                or re.search(r"Flushing QRegion.* of MessageFileWindow\(", stderr_file.read_text())
            )
        )
        assert proc.poll() is None, stderr_file.read_text()  # painted, and open
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    assert "Traceback" not in stderr_file.read_text()
    env.pop("QT_LOGGING_RULES")
    for name in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
        env.pop(name, None)
    text = subprocess.run(
        [str(frozen), "open", str(eml)], env=env, capture_output=True, text=True, timeout=60
    )
    assert text.returncode == 0, text.stderr
    assert "No display found" in text.stderr and "TLSv1.3" in text.stdout


def test_the_gui_starts_offscreen_and_keeps_running(frozen: Path, tmp_path: Path) -> None:
    """`mua` with no command, as the menu entry starts it: demo mode (no account), its main
    window painted, still running 5 s after start, no traceback anywhere."""
    home = tmp_path / "home"
    stderr_file = tmp_path / "stderr.txt"
    env = _env(home)  # QT_QPA_PLATFORM=offscreen counts as a display
    env["QT_LOGGING_RULES"] = "qt.widgets.painting=true"  # says when the window is flushed
    started = time.monotonic()
    with open(stderr_file, "w") as err:
        proc = subprocess.Popen(
            [str(frozen)], env=env, stdout=subprocess.PIPE, stderr=err, text=True
        )
    try:
        painted = None
        while time.monotonic() - started < 60 and proc.poll() is None:
            text = stderr_file.read_text(errors="replace")
            if painted is None and re.search(r"Flushing QRegion.* of MainWindow\(", text):
                painted = time.monotonic() - started
            if painted is not None and time.monotonic() - started >= 5:
                break
            time.sleep(0.1)
        alive = proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    errors = stderr_file.read_text(errors="replace")
    log = "\n".join(p.read_text() for p in (home / "logs").glob("*.log"))
    assert alive, f"exited {proc.returncode}:\n{errors[-4000:]}"
    assert painted is not None, "the main window was never painted"
    assert "No display found" not in errors  # the GUI, not the terminal demo
    assert "Traceback" not in errors and "Traceback" not in log, errors[-4000:] + log
    assert " ERROR " not in log and " CRITICAL " not in log, log
    assert (home / "data" / "demo" / "world" / "ca" / "ca.pem").exists()
    assert out == "" or "Traceback" not in out


def test_the_gui_starts_on_x11_with_the_bundled_xcb_plugin(
    frozen: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a virtual X display, with the xcb platform plugin (not offscreen): what
    packaging/smoke.py checks of qwindows and qcocoa on the CI's Windows and macOS runners."""
    with xvfb() as display:
        for name, value in _env(tmp_path / "home").items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("DISPLAY", display)
        monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
        _smoke().smoke_gui(frozen)  # raises SystemExit with the app's stderr on failure


def _smoke():
    """packaging/smoke.py (a script beside appmeta.py, not an importable package)."""
    sys.path.insert(0, str(ROOT / "packaging"))
    try:
        spec = importlib.util.spec_from_file_location("smoke", ROOT / "packaging" / "smoke.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(ROOT / "packaging"))


def test_the_bundled_qt_plugins_find_every_library_they_link_to(frozen: Path) -> None:
    """What the frozen app loads from the system (libxcb-cursor0, libxcb-icccm4, ...) is
    installed by scripts/system-deps, and nothing it needs from its own folder is missing."""
    internal = frozen.parent / "_internal"
    found = plugins(internal / "PySide6" / "Qt" / "plugins")
    assert {p.name for p in found} >= {"libqxcb.so", "libqwayland.so", "libqoffscreen.so"}
    wheel_lib = qt_dir() / "lib"  # a Qt library the wheel lacks is excused, as there
    missing = {p: libs for p in found if (libs := missing_libraries(p, wheel_lib, internal))}
    assert not missing, report(missing)


def _members(tarball: Path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(tarball) as tar:
        return {m.name: m for m in tar.getmembers()}


def test_the_tarball_holds_the_app_its_desktop_entry_and_icons(
    artefacts: dict[str, Path],
) -> None:
    tarball = artefacts["tarball"]
    top = tarball.name.removesuffix(".tar.gz")
    assert top == f"mua-{mua.__version__}-linux-{os.uname().machine}"
    members = _members(tarball)
    for name in (
        "mua",
        "install.sh",
        "LICENSE",
        "_internal/LICENSE",
        "_internal/resources/mua.svg",
        "share/applications/mua.desktop",
        "share/icons/hicolor/scalable/apps/mua.svg",
    ):
        assert f"{top}/{name}" in members, name
    assert members[f"{top}/mua"].mode & 0o111 and members[f"{top}/install.sh"].mode & 0o111
    assert any(n.startswith(f"{top}/share/metainfo/") for n in members)
    with tarfile.open(tarball) as tar:
        for size in ICON_SIZES:
            png = tar.extractfile(f"{top}/share/icons/hicolor/{size}x{size}/apps/mua.png")
            assert png is not None
            assert struct.unpack(">II", png.read(24)[16:24]) == (size, size)
    # Only the Qt modules mua uses (and the libraries they need), no QML, Quick or WebEngine.
    qt_libs = {m.split("/")[-1].split(".")[0] for m in members if "/PySide6/Qt/lib/libQt6" in m}
    assert {"libQt6Core", "libQt6Gui", "libQt6Widgets", "libQt6Svg", "libQt6Network"} <= qt_libs
    assert not {lib for lib in qt_libs if re.match(r"libQt6(Qml|Quick|Pdf|WebEngine)", lib)}
    assert not [m for m in members if "/Qt/translations/" in m]


@pytest.fixture
def installed(artefacts: dict[str, Path], tmp_path: Path) -> Iterator[Path]:
    """The self-extracting .run, installed into a temporary prefix as a user would."""
    if "run" not in artefacts:
        message = "makeself is not installed (scripts/system-deps installs it): no .run"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    prefix = tmp_path / "prefix"
    result = subprocess.run(
        ["sh", str(artefacts["run"]), "--quiet", "--", "--prefix", str(prefix)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    yield prefix


def test_the_run_file_installs_for_the_user_and_uninstalls(installed: Path, tmp_path: Path) -> None:
    version = _run([str(installed / "bin" / "mua"), "--version"], tmp_path)
    assert version.stdout.strip() == f"mua {mua.__version__}"
    desktop = (installed / "share" / "applications" / "mua.desktop").read_text()
    assert f'\nExec="{installed}/lib/mua/mua" ' in desktop
    assert (installed / "share" / "icons" / "hicolor" / "48x48" / "apps" / "mua.png").exists()
    removed = subprocess.run(
        ["sh", str(installed / "lib" / "mua" / "install.sh"), "--uninstall"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert removed.returncode == 0, removed.stderr
    assert not (installed / "bin" / "mua").exists() and not (installed / "lib" / "mua").exists()
    assert not (installed / "share" / "applications" / "mua.desktop").exists()
    assert not list((installed / "share").rglob("mua.png"))
