"""Build mua's Linux artefacts: `make package` runs this.

1. freeze: PyInstaller with packaging/mua.spec -> dist/mua/ (the one-folder app);
2. stage: that folder plus share/ (the .desktop entry, hicolor icons rendered from the SVG,
   AppStream metainfo) and install.sh -> build/packaging/mua-VERSION-linux-ARCH/;
3. validate the .desktop entry (desktop-file-validate) and the metainfo (appstreamcli);
4. dist/mua-VERSION-linux-ARCH.tar.gz, and dist/mua-VERSION-linux-ARCH.run: one file that
   installs for the current user without root (makeself; there is no appimagetool in the
   package registries this project builds from, see packaging/README.md).

With --if-stale it does nothing when dist/ already holds artefacts built from the same
sources (the digest in dist/mua-package.json), as the frozen-app test wants.
Prints the artefacts as one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import appmeta

ROOT = appmeta.ROOT
DIST = ROOT / "dist"
BUILD = ROOT / "build"
STAMP = DIST / "mua-package.json"
# The sources a build is made from: a change to any of them makes dist/ stale.
SOURCES = ("mua", "resources", "packaging", "pyproject.toml")
BUILD_TOOLS = ("pyinstaller", "PySide6-Essentials")


def log(message: str) -> None:
    print(f"package: {message}", file=sys.stderr, flush=True)


def artefact_names() -> dict[str, str]:
    base = f"mua-{appmeta.version()}-linux-{platform.machine()}"
    return {"stage": base, "tarball": f"{base}.tar.gz", "run": f"{base}.run"}


def sources_digest() -> str:
    """A digest of everything the artefacts are built from, and of the build tools."""
    digest = hashlib.sha256()
    paths: list[Path] = []
    for name in SOURCES:
        path = ROOT / name
        paths += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for path in paths:
        if "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(sys.version.encode())
    for tool in BUILD_TOOLS:
        digest.update(f"{tool}=={importlib.metadata.version(tool)}".encode())
    return digest.hexdigest()


def is_fresh(digest: str) -> bool:
    try:
        stamp = json.loads(STAMP.read_text())
    except (OSError, ValueError):
        return False
    return stamp.get("digest") == digest and all(
        Path(p).exists() for p in stamp.get("artefacts", {}).values()
    )


@contextlib.contextmanager
def build_lock() -> Iterator[None]:
    """One build at a time in this tree (two test runs may want a build at once)."""
    BUILD.mkdir(exist_ok=True)
    with open(BUILD / "package.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def compile_catalogs() -> None:
    """The .mo files the spec ships, from the committed .po files (Babel's compiler)."""
    log("compiling the translations (mua/locale)")
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "compile", "--domain", "mua",
         "--directory", str(ROOT / "mua" / "locale")],
        check=True,
        cwd=ROOT,
    )  # fmt: skip


def freeze() -> Path:
    log("freezing with PyInstaller (packaging/mua.spec)")
    compile_catalogs()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "PyInstaller",
            "--noconfirm",
            "--log-level",
            "WARN",
            "--distpath",
            str(DIST),
            "--workpath",
            str(BUILD / "pyinstaller"),
            str(ROOT / "packaging" / "mua.spec"),
        ],
        check=True,
        cwd=ROOT,
    )
    return DIST / "mua"


def stage(app: Path, target: Path) -> Path:
    """The folder the tarball and the .run hold: the app, share/ and install.sh."""
    if target.exists():
        shutil.rmtree(target)
    # Hard links: the stage costs no copy of the ~150 MB app (a copy where links fail).
    try:
        shutil.copytree(app, target, symlinks=True, copy_function=os.link)
    except OSError:
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(app, target, symlinks=True)
    share = target / "share"
    # packaging/mua.spec wrote the metadata and rendered the icons into build/packaging/.
    generated = BUILD / "packaging"
    meta = appmeta.write_all(generated)
    (share / "applications").mkdir(parents=True)
    shutil.copy2(meta["desktop"], share / "applications" / meta["desktop"].name)
    (share / "metainfo").mkdir()
    shutil.copy2(meta["metainfo"], share / "metainfo" / meta["metainfo"].name)
    shutil.copytree(generated / "icons" / "hicolor", share / "icons" / "hicolor")
    shutil.copy2(ROOT / "packaging" / "linux" / "install.sh", target / "install.sh")
    shutil.copy2(ROOT / "LICENSE", target / "LICENSE")
    return target


def validate(staged: Path) -> None:
    """The freedesktop validators, when installed (scripts/system-deps installs them)."""
    desktop = next((staged / "share" / "applications").glob("*.desktop"))
    metainfo = next((staged / "share" / "metainfo").glob("*.xml"))
    checks = [
        ("desktop-file-validate", [str(desktop)]),
        ("appstreamcli", ["validate", "--no-net", str(metainfo)]),
    ]
    for tool, args in checks:
        if shutil.which(tool) is None:
            log(f"{tool} is not installed: {args[-1]} not validated")
            continue
        result = subprocess.run([tool, *args], capture_output=True, text=True)
        if result.returncode != 0 or (tool == "desktop-file-validate" and result.stdout.strip()):
            raise SystemExit(f"{tool} rejected the metadata:\n{result.stdout}{result.stderr}")


def tarball(staged: Path, out: Path) -> Path:
    log(f"writing {out.name}")
    with tarfile.open(out, "w:gz", compresslevel=6) as tar:
        tar.add(staged, arcname=staged.name)
    return out


def self_extracting(staged: Path, out: Path) -> Path | None:
    """One file that installs without root: `sh mua-...run [-- --prefix DIR]`."""
    if shutil.which("makeself") is None:
        log("makeself not installed (scripts/system-deps installs it): no .run file")
        return None
    log(f"writing {out.name}")
    subprocess.run(
        [
            "makeself",
            "--quiet",
            "--nox11",
            "--gzip",
            "--complevel",
            "6",
            "--sha256",
            "--tar-quietly",
            str(staged),
            str(out),
            f"mua {appmeta.version()} (installs for this user, no root needed)",
            "./install.sh",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return out


def build() -> dict[str, str]:
    names = artefact_names()
    started = time.monotonic()
    app = freeze()
    staged = stage(app, BUILD / "packaging" / names["stage"])
    validate(staged)
    artefacts = {"app": app, "tarball": tarball(staged, DIST / names["tarball"])}
    run = self_extracting(staged, DIST / names["run"])
    if run is not None:
        artefacts["run"] = run
    log(f"done in {time.monotonic() - started:.0f} s")
    return {role: str(path) for role, path in artefacts.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--if-stale", action="store_true", help="skip the build when dist/ is up to date"
    )
    args = parser.parse_args(argv)
    with build_lock():
        digest = sources_digest()
        if args.if_stale and is_fresh(digest):
            log("dist/ is up to date")
            artefacts = json.loads(STAMP.read_text())["artefacts"]
        else:
            STAMP.unlink(missing_ok=True)
            artefacts = build()
            stamp = {"version": appmeta.version(), "digest": digest, "artefacts": artefacts}
            STAMP.write_text(json.dumps(stamp, indent=2) + "\n")
    print(json.dumps(artefacts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
