"""Draw the app icon: a house outline and a chat bubble on a calm teal tile.

    python scripts/make_icon.py                    # writes resources/icon.png, .icns
    python scripts/make_icon.py --iconset /tmp/x   # also the PNGs iconutil wants

Every size is painted from the same vector drawing (no downscaling of the big
PNG), so the 16 and 32 px versions stay crisp. The .icns file is assembled
here with struct, so no macOS tools are needed: it is an 'icns' header and one
PNG chunk per size. Runs offscreen (QT_QPA_PLATFORM=offscreen), on any OS.
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QGuiApplication,
    QImage,
    QLinearGradient,
    QPainter,
    QPainterPath,
    QPainterPathStroker,
)

ROOT = Path(__file__).resolve().parent.parent
RESOURCES = ROOT / "resources"

# The drawing lives on a 1024 canvas; Apple's grid puts the tile at 824 px
# with a 100 px margin that holds the shadow.
CANVAS = 1024.0
# Sizes up to this get the simplified drawing.
SMALL = 32
TILE = QRectF(100, 100, 824, 824)
TILE_RADIUS = 185.0

TEAL_TOP = QColor("#63BFB0")
TEAL_BOTTOM = QColor("#2D7F8A")
HOUSE = QColor("#FFFFFF")
BUBBLE = QColor("#FFD27F")
DOTS = QColor("#2D7F8A")
DOT_X, DOT_Y, DOT_STEP, DOT_R = 512.0, 563.0, 62.0, 22.0

# The ICNS chunk types that hold PNG data, with their pixel sizes; the Retina
# types (e.g. ic11 = 16 pt at 2x) repeat a size under their own code.
ICNS_CHUNKS: tuple[tuple[bytes, int], ...] = (
    (b"icp4", 16),
    (b"icp5", 32),
    (b"ic11", 32),  # 16@2x
    (b"ic12", 64),  # 32@2x
    (b"ic07", 128),
    (b"ic13", 256),  # 128@2x
    (b"ic08", 256),
    (b"ic14", 512),  # 256@2x
    (b"ic09", 512),
    (b"ic10", 1024),  # 512@2x
)
ICONSET_NAMES: tuple[tuple[str, int], ...] = tuple(
    (f"icon_{base}x{base}{suffix}.png", base * scale)
    for base in (16, 32, 128, 256, 512)
    for suffix, scale in (("", 1), ("@2x", 2))
)


def draw(painter: QPainter, small: bool = False) -> None:
    """Paint the icon on the 1024 canvas (the painter is already scaled).

    `small` drops the dots and thickens the lines, as the 16 and 32 px versions
    of Mac icons do, so the shapes still read at a few pixels.
    """
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    _draw_shadow(painter)
    _draw_tile(painter)

    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(HOUSE)
    painter.drawPath(_house_shape(small))
    painter.setBrush(BUBBLE)
    painter.drawPath(_bubble_path())
    if not small:
        painter.setBrush(DOTS)
        for x in (DOT_X - DOT_STEP, DOT_X, DOT_X + DOT_STEP):
            painter.drawEllipse(QPointF(x, DOT_Y), DOT_R, DOT_R)


def _draw_shadow(painter: QPainter) -> None:
    # A tiny tile, smoothly scaled up, blurs into a soft shadow below the tile.
    scale = 1 / 32
    mask = QImage(32, 32, QImage.Format.Format_ARGB32_Premultiplied)
    mask.fill(Qt.GlobalColor.transparent)
    shadow = QPainter(mask)
    shadow.setRenderHint(QPainter.RenderHint.Antialiasing)
    shadow.scale(scale, scale)
    shadow.setPen(Qt.PenStyle.NoPen)
    shadow.setBrush(QColor(0, 0, 0, 90))
    shadow.drawRoundedRect(TILE.translated(0, 14), TILE_RADIUS, TILE_RADIUS)
    shadow.end()
    painter.drawImage(QRectF(0, 0, CANVAS, CANVAS), mask)


def _draw_tile(painter: QPainter) -> None:
    gradient = QLinearGradient(TILE.topLeft(), TILE.bottomLeft())
    gradient.setColorAt(0.0, TEAL_TOP)
    gradient.setColorAt(1.0, TEAL_BOTTOM)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(gradient)
    painter.drawRoundedRect(TILE, TILE_RADIUS, TILE_RADIUS)


def _house_shape(small: bool) -> QPainterPath:
    # Roof and walls as one stroked line; the eaves overhang the walls a little.
    line = QPainterPath()
    line.moveTo(226, 494)
    line.lineTo(512, 222)
    line.lineTo(798, 494)
    line.moveTo(318, 420)
    line.lineTo(318, 790)
    line.lineTo(706, 790)
    line.lineTo(706, 420)
    stroker = QPainterPathStroker()
    stroker.setWidth(84 if small else 64)
    stroker.setCapStyle(Qt.PenCapStyle.RoundCap)
    stroker.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    return stroker.createStroke(line).simplified()


def _bubble_path() -> QPainterPath:
    # The conversation happens inside the home; the tail points down-left.
    body = QPainterPath()
    body.addRoundedRect(QRectF(380, 474, 264, 178), 70, 70)
    tail = QPainterPath()
    tail.moveTo(428, 620)
    tail.lineTo(410, 718)
    tail.lineTo(520, 640)
    tail.closeSubpath()
    return body.united(tail).simplified()


def render(size: int) -> QImage:
    """The icon as a size x size ARGB image."""
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.scale(size / CANVAS, size / CANVAS)
    draw(painter, small=size <= SMALL)
    painter.end()
    return image


def png_bytes(image: QImage) -> bytes:
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise RuntimeError("Qt could not encode the icon as PNG.")
    return bytes(data.data())


def icns_bytes(pngs: dict[int, bytes]) -> bytes:
    """An .icns file: 'icns' + total length, then (type, length, PNG) chunks."""
    chunks = b"".join(
        kind + struct.pack(">I", len(pngs[size]) + 8) + pngs[size]
        for kind, size in ICNS_CHUNKS
    )
    return b"icns" + struct.pack(">I", len(chunks) + 8) + chunks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESOURCES, help="output folder")
    parser.add_argument("--iconset", type=Path, help="also write an .iconset here")
    args = parser.parse_args(argv)

    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    sizes = {size for _, size in ICNS_CHUNKS}
    pngs = {size: png_bytes(render(size)) for size in sorted(sizes)}

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "icon.png").write_bytes(pngs[1024])
    (args.out / "icon.icns").write_bytes(icns_bytes(pngs))
    if args.iconset:
        args.iconset.mkdir(parents=True, exist_ok=True)
        for name, size in ICONSET_NAMES:
            (args.iconset / name).write_bytes(pngs[size])
    print(f"Wrote {args.out / 'icon.png'} and {args.out / 'icon.icns'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
