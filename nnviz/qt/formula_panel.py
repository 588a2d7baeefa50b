"""The "Backprop in numbers" panel: seed 002's formulas with the real numbers in.

It renders :func:`nnviz.core.formulas.formulas` for the selected layer and
neuron of the newest snapshot as rich text: forward quantities (z, a, the
inputs) in the theme's forward colour, dL/d· terms and their values in its
backward colour, weights in the foreground colour, notes muted. Fonts are
monospace and grow with ``theme.scale`` (presenter mode).

Updating is cheap enough for 30 Hz: ``set_snapshot`` and ``select`` only
record what changed; the text is rebuilt when the panel is visible and the
snapshot, the selection, the loss or the theme differ from what it shows.
"""

from __future__ import annotations

import html

from PySide6 import QtCore, QtGui, QtWidgets

from nnviz.core import formulas as F
from nnviz.core.errors import NnvizError
from nnviz.core.history import History
from nnviz.core.snapshot import Snapshot
from nnviz.qt.theme import DARK, Theme

BASE_PT = 11.0  # formula font size before presenter scaling
MONO = "DejaVu Sans Mono, Noto Sans Mono, Menlo, Consolas, monospace"

_SECTIONS = {
    "forward": "Forward",
    "backward": "Backward (chain rule)",
    "layer": "Whole layer, vectorised (as in the lecture notes)",
}


class FormulaPanel(QtWidgets.QWidget):
    """``set_snapshot(snap)``, ``select(layer, neuron)`` (layers as drawn: 0 is
    the input, l ≥ 1 is ``snap.layers[l-1]``), ``set_loss(name, batch_size)``,
    and the rest of the view protocol (``set_theme``, ``reset``, ``refresh``)."""

    def __init__(
        self,
        theme: Theme = DARK,
        parent: QtWidgets.QWidget | None = None,
        *,
        history: History | None = None,  # not used: the numbers come with each snapshot
    ) -> None:
        super().__init__(parent)
        self.setObjectName("formulaPanel")
        self._theme = theme
        self._snap: Snapshot | None = None
        self._sel: tuple[int, int] | None = None
        self._loss: str | None = None
        self._batch: int | None = None
        self._shown_key: tuple | None = None
        self._formulas: F.NeuronFormulas | None = None
        self.render_count = 0  # how often the text was rebuilt (tests, benchmarks)

        self.browser = QtWidgets.QTextBrowser(self)
        self.browser.setReadOnly(True)
        self.browser.setOpenLinks(False)
        self.browser.setFrameShape(QtWidgets.QFrame.NoFrame)
        self.browser.setLineWrapMode(QtWidgets.QTextEdit.WidgetWidth)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.browser)
        self.setMinimumSize(320, 200)
        self._apply_theme()

    # --- API -----------------------------------------------------------------------------

    def set_snapshot(self, snap: Snapshot | None) -> None:
        self._snap = snap
        self._refresh()

    def reset(self) -> None:
        """A new model: forget the snapshot and the selected neuron (the new model
        may not have it)."""
        self._snap = None
        self._sel = None
        self._refresh()

    def refresh(self) -> None:
        """Once a frame: rebuilds the text only if something changed and it shows."""
        self._refresh()

    @QtCore.Slot(int, int)
    def select(self, layer: int, neuron: int) -> None:
        self._sel = (int(layer), int(neuron))
        self._refresh()

    def set_loss(self, loss: str | None, batch_size: int | None = None) -> None:
        """The loss's name (for the output layer's dL/da) and the batch size m
        (inferred from the snapshot for a mean loss when not given)."""
        self._loss, self._batch = loss, batch_size
        self._refresh()

    def set_theme(self, theme: Theme) -> None:
        self._theme = theme
        self._apply_theme()
        self._refresh()

    @property
    def theme(self) -> Theme:
        return self._theme

    def formulas(self) -> F.NeuronFormulas | None:
        """The lines shown now (None before a snapshot and a selection)."""
        self._refresh(force_hidden=True)
        return self._formulas

    def text(self) -> str:
        """The panel's plain text, as shown."""
        self._refresh(force_hidden=True)
        return self.browser.toPlainText()

    # --- rendering -------------------------------------------------------------------------

    def showEvent(self, event: QtGui.QShowEvent) -> None:
        super().showEvent(event)
        self._refresh()

    def _key(self) -> tuple:
        return (id(self._snap), self._sel, self._loss, self._batch, self._theme)

    def _refresh(self, force_hidden: bool = False) -> None:
        if not (self.isVisible() or force_hidden):
            return
        key = self._key()
        if key == self._shown_key:
            return
        self._shown_key = key
        self.render_count += 1
        self.browser.setHtml(self._html())

    def _apply_theme(self) -> None:
        t = self._theme
        self.browser.setStyleSheet(
            f"QTextBrowser {{ background: {t.background}; color: {t.foreground}; "
            f"border: none; padding: {t.px(6):.0f}px; }}"
        )
        font = QtGui.QFont("DejaVu Sans Mono")
        font.setStyleHint(QtGui.QFont.Monospace)
        font.setPointSizeF(BASE_PT * t.scale)
        self.browser.setFont(font)
        self.browser.document().setDocumentMargin(t.px(4))

    def _colour(self, role: str) -> str | None:
        t = self._theme
        return {
            F.FWD: t.forward,
            F.BWD: t.backward,
            F.WEIGHT: t.foreground,
            F.NOTE: t.muted,
        }.get(role)

    def _span(self, text: str, role: str) -> str:
        esc = html.escape(text)
        colour = self._colour(role)
        if colour is None:
            return esc
        weight = " font-weight:600;" if role in (F.FWD, F.BWD) else ""
        return f"<span style='color:{colour};{weight}'>{esc}</span>"

    def _message(self, text: str) -> str:
        t = self._theme
        return (
            f"<div style='font-family:{MONO}; color:{t.muted}; "
            f"font-size:{BASE_PT * t.scale:.1f}pt'>{html.escape(text)}</div>"
        )

    def _html(self) -> str:
        t = self._theme
        self._formulas = None
        if self._snap is None:
            return self._message("Backprop in numbers: waiting for a snapshot.")
        if self._sel is None:
            return self._message(
                "Backprop in numbers: click a neuron to see its forward and backward "
                "formulas with this sample's numbers."
            )
        layer, neuron = self._sel
        try:
            fm = F.formulas(self._snap, layer, neuron, loss=self._loss, batch_size=self._batch)
        except NnvizError as exc:
            return self._message(str(exc))
        self._formulas = fm
        pt = BASE_PT * t.scale
        parts = [
            f"<div style='font-family:{MONO}; font-size:{pt:.1f}pt; color:{t.foreground}'>",
            f"<div style='font-size:{pt * 1.15:.1f}pt; font-weight:700; color:{t.accent}'>"
            f"{html.escape(fm.title)}</div>",
        ]
        section = None
        for ln in fm.lines:
            if ln.section != section and ln.section in _SECTIONS:
                section = ln.section
                parts.append(
                    f"<div style='margin-top:{t.px(8):.0f}px; color:{t.muted}; "
                    f"font-size:{max(pt * 0.9, t.pt(9)):.1f}pt; font-weight:600'>"
                    f"{html.escape(_SECTIONS[section])}</div>"
                )
            body = "".join(self._span(text, role) for text, role in ln.segments)
            small = ln.section in ("info", "layer") or ln.key in ("dw_batch", "vec_note")
            size = f" font-size:{max(pt * 0.9, t.pt(9)):.1f}pt;" if small else ""
            parts.append(
                f"<div style='margin-top:{t.px(3):.0f}px; margin-left:{t.px(8):.0f}px;"
                f"{size} white-space:pre-wrap'>{body}</div>"
            )
        parts.append("</div>")
        return "".join(parts)


__all__ = ["FormulaPanel"]
