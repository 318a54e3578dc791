"""Render resources/mua.svg into every icon the installers need, at build time.

- freedesktop PNGs: OUT/hicolor/NxN/apps/mua.png for each size in appmeta.ICON_SIZES, and
  the SVG itself as hicolor/scalable/apps/mua.svg;
- OUT/mua.ico for Windows (PNG-compressed entries, 16..256: what Vista and later read);
- OUT/mua.icns for macOS (PNG entries, 16..1024 with the @2x variants).

Qt's own SVG renderer draws them (PySide6 is already a dependency; offscreen, no display
needed), and the .ico and .icns containers are written here: both are a short header and a
table of PNGs, so no Pillow or iconutil is needed on any system.

Usage: python packaging/render_icons.py OUT_DIR
"""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import appmeta

SVG = appmeta.ROOT / "resources" / "mua.svg"
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
# ICNS element types holding PNG data, by pixel size (Apple's "icp4".."ic14"; @2x share a
# pixel size with a larger 1x entry but are separate elements).
ICNS_TYPES = (
    (b"icp4", 16),
    (b"icp5", 32),
    (b"icp6", 64),
    (b"ic07", 128),
    (b"ic08", 256),
    (b"ic09", 512),
    (b"ic10", 1024),
    (b"ic11", 32),
    (b"ic12", 64),
    (b"ic13", 256),
    (b"ic14", 512),
)


def render_png(size: int) -> bytes:
    """The SVG drawn at size x size pixels, as PNG bytes (transparent background)."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    if QGuiApplication.instance() is None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        render_png.app = QGuiApplication([])  # type: ignore[attr-defined]  # kept alive
    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        raise ValueError(f"{SVG} is not an SVG Qt can draw")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise OSError(f"could not encode the {size}px icon as PNG")
    return bytes(data.data())


def ico(pngs: dict[int, bytes]) -> bytes:
    """A Windows .ico holding the given PNGs (ICONDIR, one ICONDIRENTRY each, the data)."""
    sizes = sorted(pngs)
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = len(header) + 16 * len(sizes)
    entries, blobs = b"", b""
    for size in sizes:
        data = pngs[size]
        dim = 0 if size >= 256 else size  # 0 means 256
        entries += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(data), offset)
        blobs += data
        offset += len(data)
    return header + entries + blobs


def icns(pngs: dict[int, bytes]) -> bytes:
    """A macOS .icns holding the given PNGs ('icns', total length, then type+length+data)."""
    body = b"".join(
        kind + struct.pack(">I", 8 + len(pngs[size])) + pngs[size] for kind, size in ICNS_TYPES
    )
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def render_all(out: Path) -> dict[str, Path]:
    """Write the hicolor tree, mua.ico and mua.icns under `out`; returns the main paths."""
    sizes = sorted({*appmeta.ICON_SIZES, *ICO_SIZES, *(size for _, size in ICNS_TYPES)})
    pngs = {size: render_png(size) for size in sizes}
    for size in appmeta.ICON_SIZES:
        target = out / "hicolor" / f"{size}x{size}" / "apps" / f"{appmeta.NAME}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(pngs[size])
    scalable = out / "hicolor" / "scalable" / "apps" / f"{appmeta.NAME}.svg"
    scalable.parent.mkdir(parents=True, exist_ok=True)
    scalable.write_bytes(SVG.read_bytes())
    (out / f"{appmeta.NAME}.ico").write_bytes(ico({s: pngs[s] for s in ICO_SIZES}))
    (out / f"{appmeta.NAME}.icns").write_bytes(icns(pngs))
    return {
        "hicolor": out / "hicolor",
        "ico": out / f"{appmeta.NAME}.ico",
        "icns": out / f"{appmeta.NAME}.icns",
    }


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else appmeta.ROOT / "build" / "icons"
    for role, path in render_all(target).items():
        print(f"{role}: {path}")
