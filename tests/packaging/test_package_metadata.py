"""The installers' metadata, generated from packaging/appmeta.py: one version, valid files.

No __init__.py in this folder: as a package, tests/packaging would shadow the `packaging`
library that pytest itself imports.
"""

from __future__ import annotations

import importlib.util
import os
import plistlib
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

import mua

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str):
    """A module from packaging/ (a folder of scripts, not an importable package)."""
    saved = list(sys.path)
    sys.path.insert(0, str(ROOT / "packaging"))
    try:
        spec = importlib.util.spec_from_file_location(name, ROOT / "packaging" / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path[:] = saved


appmeta = _load("appmeta")


def require(tool: str) -> str:
    """The tool's path; without it the test skips, and under CI=true fails (system-deps
    installs it, so a missing one there is a broken install step)."""
    path = shutil.which(tool)
    if path is None:
        message = f"{tool} is not installed (scripts/system-deps installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def test_the_version_is_the_packages_own() -> None:
    assert appmeta.version() == mua.__version__
    assert appmeta.numeric_version()[: len(mua.__version__.split("."))] == tuple(
        int(part) for part in mua.__version__.split(".") if part.isdigit()
    )


def test_every_generated_file_carries_that_version(tmp_path: Path) -> None:
    files = appmeta.write_all(tmp_path)
    version = mua.__version__
    assert f"X-mua-Version={version}\n" in files["desktop"].read_text()
    assert f'<release version="{version}" date="' in files["metainfo"].read_text()
    assert f'#define AppVersion "{version}"' in files["inno"].read_text()
    numbers = ", ".join(map(str, appmeta.numeric_version()))
    assert f"filevers=({numbers})" in files["winversion"].read_text()
    plist = plistlib.loads(plistlib.dumps(appmeta.info_plist()))  # only plist types
    assert plist["CFBundleShortVersionString"] == version
    assert plist["CFBundleIdentifier"] == appmeta.APP_ID
    (eml,) = plist["CFBundleDocumentTypes"]
    assert eml["CFBundleTypeExtensions"] == ["eml"]


@pytest.mark.parametrize(
    ("tags", "minimum"),
    [
        (["cp39-abi3-macosx_13_0_universal2"], "13.0"),  # PySide6 6.8+
        (["cp39-abi3-macosx_11_0_universal2", "cp39-abi3-macosx_13_0_universal2"], "13.0"),
        (["cp39-abi3-macosx_10_15_x86_64.macosx_12_0_arm64"], "12.0"),  # a compressed set
        (["cp312-cp312-macosx_10_9_universal2"], "10.9"),
        (["cp310-abi3-manylinux_2_34_x86_64", "cp39-abi3-win_amd64"], None),
        ([], None),
    ],
)
def test_the_oldest_macos_is_the_wheels_own(tags: list[str], minimum: str | None) -> None:
    assert appmeta.macos_minimum(tags) == minimum


def test_info_plist_takes_the_oldest_macos_from_the_installed_qt_wheels() -> None:
    tags = appmeta.installed_wheel_tags()
    assert tags and all(tag.count("-") == 2 for tag in tags), tags  # read from WHEEL files
    expected = appmeta.macos_minimum(tags) or appmeta.MACOS_MINIMUM_ELSEWHERE
    assert appmeta.info_plist()["LSMinimumSystemVersion"] == expected
    assert appmeta.info_plist("13.0")["LSMinimumSystemVersion"] == "13.0"


def test_the_desktop_entry_is_valid_and_opens_eml_files(tmp_path: Path) -> None:
    desktop = appmeta.write_all(tmp_path)["desktop"]
    result = subprocess.run(
        [require("desktop-file-validate"), str(desktop)], capture_output=True, text=True
    )
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout
    entry = dict(line.split("=", 1) for line in desktop.read_text().splitlines() if "=" in line)
    assert entry["MimeType"] == "message/rfc822;"
    assert entry["Exec"] == f"mua {' '.join(appmeta.OPEN_EML_ARGS)} %f"


def test_the_appstream_metainfo_is_valid(tmp_path: Path) -> None:
    metainfo = appmeta.write_all(tmp_path)["metainfo"]
    result = subprocess.run(
        [require("appstreamcli"), "validate", "--no-net", str(metainfo)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_the_icons_are_rendered_from_the_svg_at_every_size(tmp_path: Path) -> None:
    render_icons = _load("render_icons")
    # In a process of its own: rendering needs a QGuiApplication, which this one must not get.
    subprocess.run(
        [sys.executable, str(ROOT / "packaging" / "render_icons.py"), str(tmp_path)],
        check=True,
        capture_output=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    paths = {"hicolor": tmp_path / "hicolor", "ico": tmp_path / "mua.ico"}
    paths["icns"] = tmp_path / "mua.icns"
    for size in appmeta.ICON_SIZES:
        png = paths["hicolor"] / f"{size}x{size}" / "apps" / "mua.png"
        assert _png_size(png.read_bytes()) == (size, size)
    svg = paths["hicolor"] / "scalable" / "apps" / "mua.svg"
    assert svg.read_bytes() == (ROOT / "resources" / "mua.svg").read_bytes()

    ico = paths["ico"].read_bytes()  # ICONDIR, then 16-byte entries pointing at PNGs
    reserved, kind, count = struct.unpack("<HHH", ico[:6])
    assert (reserved, kind, count) == (0, 1, len(render_icons.ICO_SIZES))
    for i, size in enumerate(render_icons.ICO_SIZES):
        width, _h, _c, _r, _p, _b, length, offset = struct.unpack(
            "<BBBBHHII", ico[6 + 16 * i : 22 + 16 * i]
        )
        assert width == (0 if size == 256 else size)
        assert _png_size(ico[offset : offset + length]) == (size, size)

    icns = paths["icns"].read_bytes()  # 'icns', length, then (type, length, PNG) elements
    assert icns[:4] == b"icns" and struct.unpack(">I", icns[4:8])[0] == len(icns)
    seen, at = {}, 8
    while at < len(icns):
        kind, length = icns[at : at + 4], struct.unpack(">I", icns[at + 4 : at + 8])[0]
        seen[kind] = _png_size(icns[at + 8 : at + length])
        at += length
    assert seen == {kind: (size, size) for kind, size in render_icons.ICNS_TYPES}
