"""Look helpers the views share."""

from __future__ import annotations

from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QLabel

SECONDARY_ALPHA = 0.62


def muted(label: QLabel, wrap: bool = True) -> QLabel:
    """`label` as secondary text: the palette's own text colour, lighter, so it
    follows light and dark mode."""
    palette = label.palette()
    color = palette.color(QPalette.ColorRole.WindowText)
    color.setAlphaF(SECONDARY_ALPHA)
    palette.setColor(QPalette.ColorRole.WindowText, color)
    label.setPalette(palette)
    label.setWordWrap(wrap)
    return label


def emphasized(label: QLabel, scale: float) -> QLabel:
    """`label` in a larger, semi-bold font: a heading or a headline figure."""
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * scale)
    font.setWeight(font.Weight.DemiBold)
    label.setFont(font)
    return label
