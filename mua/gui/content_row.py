"""The content row under the journey's legs: whether the message read is the message that was
sent (DKIM, checked by the client; mua.core.content), beside the transport grades and never
mixed into them."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel, QSizePolicy, QVBoxLayout, QWidget

from mua.core.content import ContentStatus, ContentVerdict
from mua.core.i18n import N_, _, translated
from mua.core.labels import source_label
from mua.core.legs import Grade
from mua.gui.theme import GRADE_GLYPHS, grade_colour

# How each verdict is drawn: the transport grades' colours and signs, for a like meaning.
_LOOK = {
    ContentStatus.INTACT: Grade.GREEN,
    ContentStatus.ALTERED: Grade.RED,
    ContentStatus.UNALIGNED: Grade.RED,
    ContentStatus.KEY_GONE: Grade.AMBER,
    ContentStatus.UNSIGNED: Grade.AMBER,
    ContentStatus.UNKNOWN: Grade.UNKNOWN,
}
_WORDS = {
    ContentStatus.INTACT: N_("intact"),
    ContentStatus.ALTERED: N_("altered after signing"),
    ContentStatus.UNALIGNED: N_("signed by an unrelated domain"),
    ContentStatus.KEY_GONE: N_("key gone"),
    ContentStatus.UNSIGNED: N_("unsigned"),
    ContentStatus.UNKNOWN: N_("not checked"),
}


def content_words(verdict: ContentVerdict) -> str:
    """The verdict in a few words, in the current language ("intact", "key gone")."""
    return _(_WORDS[verdict.verdict])


class ContentRow(QFrame):
    """One line: the sign and word of the verdict, its sentence, and whose word it is."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.text = QLabel(self)  # the sign (a glyph, coloured) and the words, wrapped
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 3, 6, 3)
        layout.addWidget(self.text)
        self.verdict: ContentVerdict | None = None
        self.set_content(None)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        """As tall as the wrapped sentence (the panel's layout gives a row its one-line hint)."""
        layout = self.layout()
        assert layout is not None  # made in __init__
        margins = layout.contentsMargins()
        width = max(1, self.width() - margins.left() - margins.right())
        height = self.text.heightForWidth(width) + margins.top() + margins.bottom()
        if height > 0 and height != self.minimumHeight():
            self.setMinimumHeight(height)

    def set_content(self, verdict: ContentVerdict | None) -> None:
        self.verdict = verdict
        if verdict is None:
            sign = GRADE_GLYPHS[Grade.UNKNOWN]
            self.text.setText(f"{sign} " + html.escape(_("Content: not checked for this message.")))
            self.setAccessibleName(_("Content: not checked"))
            self._fit()
            return
        look = _LOOK[verdict.verdict]
        colour = grade_colour(look).name()
        sign = f"<span style='color:{colour}; font-weight:bold'>{GRADE_GLYPHS[look]}</span> "
        details = [source_label(verdict.source)]
        if verdict.algorithm:
            details.append(verdict.algorithm)
        if verdict.dnssec is True:
            details.append(_("key DNSSEC-signed"))
        elif verdict.dnssec is False:
            details.append(_("key not DNSSEC-signed"))
        words = content_words(verdict)
        self.text.setText(
            sign
            + _("<b>Content: {verdict}</b> — {note} <i>({details})</i>").format(
                verdict=html.escape(words),
                note=html.escape(translated(verdict.note)),
                details=html.escape(", ".join(details)),
            )
        )
        self.setAccessibleName(_("Content: {verdict}").format(verdict=words))
        self.setToolTip(translated(verdict.note))
        self._fit()
