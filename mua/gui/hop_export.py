"""The hop diagram as a file: PNG (at any pixel density) or SVG, always in one row, without
hover or selection. `hop_diagram.HopDiagram.render_png` / `render_svg` call these."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QPainter
from PySide6.QtSvg import QSvgGenerator

from mua.core.i18n import _


def png(diagram, path: str | Path, scale: float = 2) -> Path:
    with diagram.in_one_row() as size:
        w, h = int(size.width() * scale), int(size.height() * scale)
        image = QImage(w, h, QImage.Format.Format_ARGB32_Premultiplied)
        image.setDevicePixelRatio(scale)
        painter = QPainter(image)
        diagram.paint_on(painter, size.width(), size.height())
        painter.end()
    # PySide6's stub types the format as bytes, but save() takes only a str at run time
    if not image.save(str(path), "PNG"):  # type: ignore[call-overload]
        raise OSError(f"could not write {path}")
    return Path(path)


def svg(diagram, path: str | Path) -> Path:
    with diagram.in_one_row() as size:
        generator = QSvgGenerator()
        generator.setFileName(str(path))
        generator.setSize(size)
        generator.setResolution(round(diagram.logicalDpiY()))  # fonts in points, as on screen
        generator.setViewBox(QRectF(0, 0, size.width(), size.height()))
        generator.setTitle(_("How this message travelled"))
        trace = diagram.trace()
        generator.setDescription((trace.subject or "") if trace else "")
        painter = QPainter()
        if not painter.begin(generator):
            raise OSError(f"could not write {path}")
        diagram.paint_on(painter, size.width(), size.height())
        painter.end()
    return Path(path)
