"""The ranks of a distributed run side by side, and where they disagree.

When the window shows a run folder recorded under torchrun / DDP (more than
one rank), :class:`RankPanel` opens a "Ranks" dock holding a
:class:`RankView`:

- at the top, in plain words, whether the ranks agree, or the first
  desync of the run in the words ``nnviz inspect`` uses, in red;
- each rank's loss over the recorded steps (one curve per rank; each rank
  trains on its own data, so they differ), a line at the step shown and a
  red one at the first desync;
- a table at the step the scrubber shows: per layer, one row per rank, its
  gradient norm, activation mean and std and weight norm, with the cells
  where a rank disagrees with the others (gradients and weights, which DDP
  keeps equal) in red.

Reads the run through :mod:`nnviz.core.rank_stats`; imports no torch.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from nnviz.core.numfmt import fmt
from nnviz.core.rank_stats import (
    LAYER_STATS,
    MODEL_ROW,
    RankTable,
    desync_text,
    first_desync,
    loss_curves,
    rank_table,
)
from nnviz.qt.theme import DARK, Theme, font_pt

RANK_COLOURS = ("#4c9be8", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#76b7b2", "#edc948")
VALUE_ROLE = QtCore.Qt.UserRole  # a cell's recorded number (float, or None)
FLAG_ROLE = QtCore.Qt.UserRole + 1  # True: this rank disagrees here (drawn red)
AGREE_TEXT = "{n} ranks agree: gradients and weights match at every recorded step"


def warn_colour(theme: Theme) -> str:
    return "#b3261e" if theme.name == "light" else "#ff7b72"


# the same hues, dark enough for text on the light theme's white (≥ 4.5:1)
RANK_COLOURS_LIGHT = ("#1f5fbf", "#b34d00", "#2e7d32", "#b3261e", "#7b4a8f", "#00695c", "#7a6000")


def rank_colour(i: int, theme: Theme = DARK) -> str:
    colours = RANK_COLOURS_LIGHT if theme.name == "light" else RANK_COLOURS
    return colours[i % len(colours)]


class RankView(QtWidgets.QWidget):
    """Loss per rank over the steps, and per-layer statistics per rank at one step."""

    def __init__(self, theme: Theme = DARK, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("rankView")
        self.theme = theme
        self.info = None  # RankInfo
        self.step: int | None = None  # the step shown (None: the newest)
        self.table_data: RankTable | None = None
        self.desync: dict | None = None  # the run's first disagreement
        self.curves: list[pg.PlotDataItem] = []

        self.message = QtWidgets.QLabel()
        self.message.setObjectName("rankMessage")
        self.message.setWordWrap(True)
        self.message.setTextFormat(QtCore.Qt.PlainText)
        self.plot = pg.PlotWidget()
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.setLabel("bottom", "step")
        self.plot.setLabel("left", "loss")
        self.plot.setMinimumHeight(140)
        self.legend = self.plot.addLegend(offset=(-10, 10))
        self.marker = pg.InfiniteLine(angle=90, movable=False)
        self.desync_line = pg.InfiniteLine(angle=90, movable=False)
        for line in (self.marker, self.desync_line):
            self.plot.addItem(line, ignoreBounds=True)
            line.hide()
        self.losses = QtWidgets.QLabel()  # each rank's loss at the step shown
        self.losses.setWordWrap(True)
        self.table = QtWidgets.QTableWidget()
        self.table.setObjectName("rankTable")
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.NoEditTriggers)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.NoSelection)
        self.table.verticalHeader().hide()
        self.table.setToolTip(
            "Each rank's numbers at the step shown. DDP keeps gradients and weights equal "
            "across ranks: a red cell is a rank that disagrees (a desync). Activations "
            "differ: each rank sees its own data."
        )
        box = QtWidgets.QVBoxLayout(self)
        box.setContentsMargins(4, 4, 4, 4)
        box.addWidget(self.message)
        box.addWidget(self.plot, 2)
        box.addWidget(self.losses)
        box.addWidget(self.table, 3)
        self.set_theme(theme)

    # --- what it shows ---------------------------------------------------------------------

    @property
    def world_size(self) -> int:
        return int(self.info.world_size) if self.info is not None else 0

    def set_info(self, info) -> None:
        """A :class:`~nnviz.core.runfolder_read.RankInfo` (read again when the run grew)."""
        self.info = info
        self.desync = first_desync(info)
        steps, losses = loss_curves(info)
        n = losses.shape[0]
        while len(self.curves) < n:
            i = len(self.curves)
            curve = pg.PlotDataItem(name=f"rank {i}", symbol="o", symbolSize=5, connect="finite")
            self.plot.addItem(curve)
            self.curves.append(curve)
        for i, curve in enumerate(self.curves):
            if i < n:
                curve.setData(steps.astype(np.float64), losses[i])
            else:
                curve.setData([], [])
        if self.desync is not None:
            self.desync_line.setPos(self.desync["step"])
            self.desync_line.show()
        else:
            self.desync_line.hide()
        self._style()
        self.show_step(self.step)

    def show_step(self, step: int | None) -> None:
        """The table at the recorded step at or before ``step`` (None: the newest)."""
        self.step = step
        t = self.table_data = rank_table(self.info, step) if self.info is not None else None
        self._fill(t)
        if t is not None:
            self.marker.setPos(t.step)
            self.marker.show()
        else:
            self.marker.hide()
        self._say()

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.plot.setBackground(theme.background)
        for side in ("left", "bottom"):
            ax = self.plot.getAxis(side)
            ax.setPen(pg.mkPen(theme.muted))
            ax.setTextPen(pg.mkPen(theme.foreground))
        self.legend.setLabelTextColor(theme.foreground)
        font = self.message.font()
        font.setPointSizeF(font_pt(theme, 10))
        font.setBold(True)
        self.message.setFont(font)
        self._style()
        if self.info is not None:
            self.show_step(self.step)

    def cell(self, layer: str, rank: int, key: str):
        """(text, recorded value, flagged) of one cell of the table (for tests)."""
        col = 2 + [k for k, _ in LAYER_STATS].index(key)
        for row in range(self.table.rowCount()):
            if self.table.item(row, 0).data(VALUE_ROLE) == (layer, rank):
                item = self.table.item(row, col)
                return item.text(), item.data(VALUE_ROLE), bool(item.data(FLAG_ROLE))
        raise KeyError((layer, rank))

    # --- inside ------------------------------------------------------------------------------

    def _style(self) -> None:
        t = self.theme
        for i, curve in enumerate(self.curves):
            c = rank_colour(i, t)
            curve.setPen(pg.mkPen(c, width=t.px(2)))
            curve.setSymbolBrush(pg.mkBrush(c))
            curve.setSymbolPen(pg.mkPen(c))
        self.marker.setPen(pg.mkPen(t.accent, width=t.px(1.5)))
        self.desync_line.setPen(pg.mkPen(warn_colour(t), width=t.px(2), style=QtCore.Qt.DashLine))

    def _say(self) -> None:
        t, theme = self.table_data, self.theme
        if self.info is None:
            self.message.setText("")
            return
        if self.desync is not None:
            text = desync_text(self.desync)
            if t is not None and t.flagged_ranks:
                ranks = ", ".join(str(r) for r in t.flagged_ranks)
                text += f". At step {t.step}, rank {ranks} disagrees (red)."
            elif t is not None:
                text += f". At step {t.step} the ranks still agree."
            colour = warn_colour(theme)
        else:
            text = AGREE_TEXT.format(n=self.world_size)
            colour = theme.foreground
        self.message.setText(text)
        self.message.setStyleSheet(f"color: {colour};")
        if t is not None:
            parts = [
                f"<span style='color:{rank_colour(i, theme)}'>rank {i}</span> {fmt(v)}"
                for i, v in enumerate(t.loss)
            ]
            self.losses.setText(f"loss at step {t.step:,}: " + " · ".join(parts))
        else:
            self.losses.setText("no per-rank statistics recorded yet")

    def _fill(self, t: RankTable | None) -> None:
        table = self.table
        table.clearSpans()
        heads = ["layer", "rank", *(h for _, h in LAYER_STATS)]
        table.setColumnCount(len(heads))
        table.setHorizontalHeaderLabels(heads)
        if t is None:
            table.setRowCount(0)
            return
        rows = [*t.layers, MODEL_ROW]
        table.setRowCount(len(rows) * t.world_size)
        warn = QtGui.QColor(warn_colour(self.theme))
        on_warn = QtGui.QColor("#ffffff" if self.theme.name == "light" else "#15171c")
        bold = QtGui.QFont(table.font())
        bold.setBold(True)
        for li, layer in enumerate(rows):
            top = li * t.world_size
            if t.world_size > 1:
                table.setSpan(top, 0, t.world_size, 1)
            for r in range(t.world_size):
                row = top + r
                name = QtWidgets.QTableWidgetItem(layer if r == 0 else "")
                name.setData(VALUE_ROLE, (layer, r))
                table.setItem(row, 0, name)
                rank = QtWidgets.QTableWidgetItem(f"rank {r}")
                rank.setForeground(QtGui.QColor(rank_colour(r, self.theme)))
                table.setItem(row, 1, rank)
                for c, (key, _) in enumerate(LAYER_STATS):
                    k = key
                    if layer == MODEL_ROW:  # the model-wide weight checksums
                        k = "param_norm" if key == "layer_param_norm" else None
                    vals = t.cells.get((k, layer)) if k else None
                    v = vals[r] if vals is not None and r < len(vals) else None
                    flags = t.flags.get((k, layer), []) if k else []
                    if layer == MODEL_ROW and k:
                        flags = flags + t.flags.get(("param_abs_sum", layer), [])
                    item = QtWidgets.QTableWidgetItem("" if k is None else fmt(v, 6))
                    item.setData(VALUE_ROLE, v)
                    item.setTextAlignment(QtCore.Qt.AlignRight | QtCore.Qt.AlignVCenter)
                    if r in flags:
                        item.setData(FLAG_ROLE, True)
                        item.setBackground(warn)
                        item.setForeground(on_warn)
                        item.setFont(bold)
                        others = [fmt(x, 7) for i, x in enumerate(vals) if i != r]
                        item.setToolTip(
                            f"rank {r} differs from the others ({', '.join(others)}): "
                            "DDP keeps this equal on every rank"
                        )
                    table.setItem(row, 2 + c, item)
        table.resizeColumnsToContents()
        fm = QtGui.QFontMetrics(table.font())  # (spanned cells are not measured)
        names = max(fm.horizontalAdvance(name) for name in [heads[0], *rows])
        table.setColumnWidth(0, max(table.columnWidth(0), names + fm.averageCharWidth() * 3))


class RankPanel(QtCore.QObject):
    """The "Ranks" dock of the main window: shown while a run folder of more
    than one rank is open, following the scrubber's step."""

    def __init__(self, win) -> None:
        super().__init__(win)
        self.win = win
        self.view: RankView | None = None
        self.dock: QtWidgets.QDockWidget | None = None
        self._version: tuple | None = None
        s = win.session
        s.modeChanged.connect(lambda _recorded: self.update())
        s.viewingChanged.connect(self._viewing)
        s.frame.connect(self._frame)

    def _ranks(self):
        rec = self.win.session.recording
        info = getattr(rec.reader, "ranks", None) if rec is not None else None
        return info if info is not None and info.world_size > 1 else None

    def update(self) -> None:
        """Show the dock for a distributed run, hide it otherwise."""
        info = self._ranks()
        if info is None:
            if self.dock is not None:
                self.dock.hide()
            self._version = None
            return
        if self.view is None:
            self.view = RankView(self.win.theme)
            self.dock = QtWidgets.QDockWidget("Ranks", self.win)
            self.dock.setObjectName("ranksDock")
            self.dock.setToolTip("The ranks of a distributed run side by side")
            self.dock.setWidget(self.view)
            self.win.addDockWidget(QtCore.Qt.RightDockWidgetArea, self.dock)
        self._version = (id(self.win.session.recording), self.win.session.recording.version)
        self.view.step = self.win.session.viewing
        self.view.set_info(info)
        self.dock.show()
        self.dock.raise_()

    def _viewing(self, step) -> None:
        if self.view is not None and self._version is not None:
            self.view.show_step(step)

    def _frame(self) -> None:
        if self._version is None:
            return
        rec = self.win.session.recording
        if self.view is not None and self.view.theme is not self.win.theme:
            self.view.set_theme(self.win.theme)
        if rec is not None and (id(rec), rec.version) != self._version:
            self.update()  # the run grew: new steps, maybe a desync
