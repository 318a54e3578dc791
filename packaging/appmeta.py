"""What the installers say about mua, in one place, with the version read from the package.

The version is written once, in `mua/__init__.py`; this module reads it from that file's source
(no import of mua, so the spec and the build scripts need nothing but the checkout). Every
generated metadata file (the .desktop entry, the AppStream metainfo, Info.plist, the Inno
Setup defines) is rendered from here, so no version or name is typed twice.

No `__init__.py` in packaging/: the directory must never shadow the `packaging` library.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
NAME = "mua"
# Reverse-DNS identity of the app: AppStream component id and macOS bundle id. A placeholder
# until the project has a home (no homepage URL is published either): change it here only,
# and before the first public release, since systems key installed apps by it.
APP_ID = "io.github.mua.Mua"
SUMMARY = "A mail client that shows how your mail travels"
DESCRIPTION = (
    "mua sends and reads mail over SMTP submission and IMAPS, and for every message shows "
    "each leg of its journey (client, submission server, relays, delivery, mailbox) with "
    "what protected it: cleartext, encryption, authentication, DANE or MTA-STS.",
    "It bundles a whole local mail world, so you can watch a message travel without any "
    "account anywhere.",
)
LICENSE = "MIT"
DEVELOPER = "The mua authors"
# Inno Setup's AppId: fixed forever once released (upgrades and the uninstaller find the
# installed copy by it).
WINDOWS_APP_GUID = "{{5B0C6E5A-3D0E-4F8B-9C55-6D1A3E2B7F41}"
# What opens a .eml file. `mua open FILE` is the entry the installers associate with
# .eml files (the GUI's trace view of that message); see packaging/README.md.
OPEN_EML_ARGS = ("open",)
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
EML_MIME = "message/rfc822"


def version() -> str:
    """`mua.__version__`, read from mua/__init__.py's source."""
    tree = ast.parse((ROOT / "mua" / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets
        ):
            value = ast.literal_eval(node.value)
            if isinstance(value, str):
                return value
    raise LookupError("mua/__init__.py has no __version__ = '...' line")


def release_date() -> str:
    """When the version was set: the date of the last commit that changed mua/__init__.py
    (today's date outside a git checkout, or for an uncommitted change)."""
    import datetime
    import subprocess

    try:
        result = subprocess.run(
            ["git", "log", "-1", "--format=%cs", "--", "mua/__init__.py"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        )
        date = result.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        date = ""
    return date or datetime.date.today().isoformat()


def numeric_version() -> tuple[int, int, int, int]:
    """The version as four numbers (Windows version resources want them): 1.2.3rc1 -> 1.2.3.0."""
    parts: list[int] = []
    for piece in version().split(".")[:4]:
        digits = ""
        for ch in piece:
            if not ch.isdigit():
                break
            digits += ch
        parts.append(int(digits or 0))
    return (*parts, 0, 0, 0, 0)[:4]  # type: ignore[return-value]


def desktop_entry(exec_path: str = NAME, icon: str = NAME) -> str:
    """The freedesktop .desktop entry (installed as mua.desktop, the name the GUI gives Qt)."""
    open_args = " ".join(OPEN_EML_ARGS)
    return "\n".join(
        [
            "[Desktop Entry]",
            "Type=Application",
            "Version=1.4",
            "Name=mua",
            "GenericName=Mail Client",
            f"Comment={SUMMARY}",
            f"Exec={exec_path} {open_args} %f",
            f"TryExec={exec_path}",
            f"Icon={icon}",
            "Terminal=false",
            "Categories=Network;Email;",
            f"MimeType={EML_MIME};",
            "Keywords=mail;email;SMTP;IMAP;TLS;DANE;",
            "StartupNotify=true",
            f"StartupWMClass={NAME}",
            f"X-mua-Version={version()}",
            "",
        ]
    )


def metainfo() -> str:
    """The AppStream metainfo (software centres read it), release = the package version."""
    paragraphs = "\n".join(f"    <p>{escape(p)}</p>" for p in DESCRIPTION)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<component type="desktop-application">
  <id>{APP_ID}</id>
  <metadata_license>CC0-1.0</metadata_license>
  <project_license>{LICENSE}</project_license>
  <name>mua</name>
  <summary>{escape(SUMMARY)}</summary>
  <developer id="io.github.mua">
    <name>{escape(DEVELOPER)}</name>
  </developer>
  <description>
{paragraphs}
  </description>
  <launchable type="desktop-id">{NAME}.desktop</launchable>
  <categories>
    <category>Network</category>
    <category>Email</category>
  </categories>
  <provides>
    <binary>{NAME}</binary>
    <mediatype>{EML_MIME}</mediatype>
  </provides>
  <content_rating type="oars-1.1"/>
  <releases>
    <release version="{version()}" date="{release_date()}"/>
  </releases>
</component>
"""


# The wheels whose native code the app bundles and which set the oldest macOS it runs on (Qt
# 6.8+ wheels are built for macOS 13; Python and the other wheels go back further).
MACOS_FLOOR_DISTRIBUTIONS = ("PySide6-Essentials", "shiboken6")
# LSMinimumSystemVersion when no macOS wheel is installed: the metadata written on Linux or
# Windows for a check. A macOS build always reads the wheels' own tags.
MACOS_MINIMUM_ELSEWHERE = "11.0"


def macos_minimum(tags: list[str]) -> str | None:
    """The oldest macOS that wheels with these tags all run on, as "13.0": the highest
    macosx_X_Y among them (a tag may be a compressed set, "cp39-abi3-macosx_11_0_x86_64.
    macosx_13_0_arm64"); None when no tag is a macOS one."""
    import re

    versions = [
        (int(found[1]), int(found[2]))
        for tag in tags
        for platform in tag.strip().split("-")[-1].split(".")
        if (found := re.fullmatch(r"macosx_(\d+)_(\d+)_\w+", platform))
    ]
    if not versions:
        return None
    major, minor = max(versions)
    return f"{major}.{minor}"


def installed_wheel_tags(names: tuple[str, ...] = MACOS_FLOOR_DISTRIBUTIONS) -> list[str]:
    """The `Tag:` lines of the WHEEL files of these installed distributions."""
    import importlib.metadata

    tags = []
    for name in names:
        try:
            wheel = importlib.metadata.distribution(name).read_text("WHEEL") or ""
        except importlib.metadata.PackageNotFoundError:
            continue
        tags += [line[4:].strip() for line in wheel.splitlines() if line.startswith("Tag:")]
    return tags


def macos_minimum_of_installed_qt() -> str:
    """LSMinimumSystemVersion for the app about to be built: from the installed Qt wheels."""
    import sys

    found = macos_minimum(installed_wheel_tags())
    if found is None and sys.platform == "darwin":
        raise LookupError(
            f"no macOS wheel tag in {MACOS_FLOOR_DISTRIBUTIONS}: cannot tell the oldest macOS"
        )
    return found or MACOS_MINIMUM_ELSEWHERE


def info_plist(minimum_macos: str | None = None) -> dict:
    """Info.plist keys for the macOS .app (PyInstaller's BUNDLE merges them); the oldest
    macOS is the Qt wheels' own unless given."""
    return {
        "CFBundleName": "mua",
        "CFBundleDisplayName": "mua",
        "CFBundleIdentifier": APP_ID,
        "CFBundleShortVersionString": version(),
        "CFBundleVersion": version(),
        "NSHumanReadableCopyright": f"{DEVELOPER}, {LICENSE} licence",
        "NSHighResolutionCapable": True,
        "LSMinimumSystemVersion": minimum_macos or macos_minimum_of_installed_qt(),
        "LSApplicationCategoryType": "public.app-category.productivity",
        "CFBundleDocumentTypes": [
            {
                "CFBundleTypeName": "Email Message",
                "CFBundleTypeRole": "Viewer",
                "LSHandlerRank": "Alternate",
                "LSItemContentTypes": ["com.apple.mail.email"],
                "CFBundleTypeExtensions": ["eml"],
                "CFBundleTypeMIMETypes": [EML_MIME],
            }
        ],
    }


def inno_defines() -> str:
    """An Inno Setup include file: what mua.iss needs to know, generated from here."""
    values = {
        "AppName": "mua",
        "AppVersion": version(),
        "AppVersionNumeric": ".".join(map(str, numeric_version())),
        "AppGuid": WINDOWS_APP_GUID,
        "AppPublisher": DEVELOPER,
        "AppSummary": SUMMARY,
        "AppProgId": "mua.eml",
        "OpenEmlArgs": " ".join(OPEN_EML_ARGS),
    }
    lines = ["; Generated by packaging/appmeta.py from mua/__init__.py: do not edit."]
    lines += [f"#define {key} {json.dumps(value)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def windows_version_info() -> str:
    """A PyInstaller version-resource file (the Details tab of mua.exe's Properties)."""
    nums = numeric_version()
    strings = {
        "CompanyName": DEVELOPER,
        "FileDescription": SUMMARY,
        "FileVersion": version(),
        "InternalName": NAME,
        "LegalCopyright": f"{DEVELOPER}, {LICENSE} licence",
        "OriginalFilename": f"{NAME}.exe",
        "ProductName": NAME,
        "ProductVersion": version(),
    }
    entries = ",\n".join(f"        StringStruct({k!r}, {v!r})" for k, v in strings.items())
    return f"""# Generated by packaging/appmeta.py from mua/__init__.py: do not edit.
VSVersionInfo(
  ffi=FixedFileInfo(filevers={nums}, prodvers={nums}, mask=0x3f, flags=0x0, OS=0x40004,
                    fileType=0x1, subtype=0x0, date=(0, 0)),
  kids=[
    StringFileInfo([StringTable('040904B0', [
{entries}
    ])]),
    VarFileInfo([VarStruct('Translation', [1033, 1200])]),
  ]
)
"""


def write_all(out: Path) -> dict[str, Path]:
    """Render every metadata file into `out`; returns them by role."""
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "desktop": (out / f"{NAME}.desktop", desktop_entry()),
        "metainfo": (out / f"{APP_ID}.metainfo.xml", metainfo()),
        "inno": (out / "version.iss", inno_defines()),
        "winversion": (out / "version_info.txt", windows_version_info()),
    }
    for path, text in files.values():
        path.write_text(text, encoding="utf-8", newline="\n")
    return {role: path for role, (path, _) in files.items()}


if __name__ == "__main__":
    import sys

    # `appmeta.py --version` prints the version (CI names its artefacts with it);
    # `appmeta.py [OUT_DIR]` writes the metadata files (default build/packaging/).
    if sys.argv[1:] == ["--version"]:
        print(version())
    else:
        target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "build" / "packaging"
        for role, path in write_all(target).items():
            print(f"{role}: {path}")
