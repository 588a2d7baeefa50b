"""The "?" overlay: every keyboard shortcut, grouped, over a dimmed window.

It is a child widget covering its parent (the main window sets its geometry
to the window's rect), not a dialog, so it never steals the app's event loop.
Esc, "?" or a click outside the card closes it.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6 import QtCore, QtGui, QtWidgets

from nnviz.qt.theme import DARK, Theme, qcolor

MAX_COLUMNS = 3


def _columns(groups: list[tuple[str, list]], n_cols: int) -> list[list[tuple[str, list]]]:
    """Split groups (kept in order) into up to n_cols columns of similar height."""
    n_cols = max(1, min(n_cols, len(groups)))
    heights = [len(rows) + 2 for _, rows in groups]  # a header counts as two rows
    target = sum(heights) / n_cols
    cols: list[list[tuple[str, list]]] = [[]]
    filled = 0.0
    for g, h in zip(groups, heights):
        if cols[-1] and filled + h / 2 > target and len(cols) < n_cols:
            cols.append([])
            filled = 0.0
        cols[-1].append(g)
        filled += h
    return cols


def _balanced(groups: list[tuple[str, list]], n_cols: int) -> list[list[tuple[str, list]]]:
    """Split rows (not only groups) into n_cols columns of about equal height; a group
    cut in two goes on under its name in the next column (dense mode, issue 11)."""
    n_cols = max(1, n_cols)
    total = sum(len(rows) + 1.5 for _g, rows in groups)
    target = total / n_cols
    cols: list[list[tuple[str, list]]] = [[]]
    filled = 0.0
    for g, rows in groups:
        if cols[-1] and filled + 2.5 > target and len(cols) < n_cols:  # no lone header
            cols.append([])
            filled = 0.0
        part: list = []
        cols[-1].append((g, part))
        filled += 1.5
        for row in rows:
            if part and filled + 1 > target + 0.5 and len(cols) < n_cols:
                cols.append([])
                filled = 1.5
                part = []
                cols[-1].append((g, part))
            part.append(row)
            filled += 1
    return cols


class HelpOverlay(QtWidgets.QWidget):
    """Lists (keys, description, group) rows in grouped columns."""

    closed = QtCore.Signal()

    def __init__(
        self,
        shortcuts: Sequence[tuple[str, str, str]],
        parent: QtWidgets.QWidget | None = None,
        theme: Theme = DARK,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("HelpOverlay")
        self.setFocusPolicy(QtCore.Qt.StrongFocus)
        self.setAttribute(QtCore.Qt.WA_StyledBackground, False)
        self.theme = theme
        self.shortcuts: list[tuple[str, str, str]] = []
        self.n_columns = self._built_columns = 0
        self._widths: dict[int, int] = {}  # card width needed for n columns
        self._heights: dict[int, int] = {}  # and its height (issue 11: rows never clipped)
        self.dense = False  # tighter rows when the card would not fit the height
        self.card = QtWidgets.QFrame(self)
        self.card.setObjectName("HelpCard")
        QtWidgets.QVBoxLayout(self.card)
        self._content: QtWidgets.QWidget | None = None
        self.key_labels: list[QtWidgets.QLabel] = []
        self._outer = QtWidgets.QVBoxLayout(self)
        self._outer.addStretch(1)
        row = QtWidgets.QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.card)
        row.addStretch(1)
        self._outer.addLayout(row)
        self._outer.addStretch(1)
        self.set_shortcuts(shortcuts)

    # --- content ----------------------------------------------------------------------------

    def set_shortcuts(self, shortcuts: Sequence[tuple[str, str, str]]) -> None:
        self.shortcuts = [(str(k), str(d), str(g)) for k, d, g in shortcuts]
        self._forget_sizes()
        self._fit()

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self._forget_sizes()
        self._built_columns = 0  # rebuild even if the column count stays: new colours, sizes
        self._fit()

    def _forget_sizes(self) -> None:
        self._widths.clear()
        self._heights.clear()

    def _fit(self) -> None:
        """As many columns (up to MAX_COLUMNS) as fit the overlay's width, and rows
        as tight as it takes to fit its height (the text keeps its size)."""
        room = self.width() - 40 if self.width() > 100 else 10**6
        room_h = self.height() - 24 if self.height() > 100 else 10**6
        chosen = None
        for dense in (False, True):
            if dense != self.dense:
                self.dense = dense
                self._forget_sizes()
                self._built_columns = 0
            for n in range(MAX_COLUMNS, 0, -1):
                if n not in self._widths:
                    self._widths[n], self._heights[n] = self._measure(n)
                if self._widths[n] <= room or n == 1:
                    chosen = n
                    break
            if self._heights[chosen] <= room_h:
                break
        if self._built_columns != chosen:
            self._rebuild(chosen)

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()

    def _measure(self, n_columns: int) -> tuple[int, int]:
        """The card size n columns need (measured on a parentless copy)."""
        content = self._make_content(n_columns)
        content.ensurePolished()
        for w in content.findChildren(QtWidgets.QWidget):
            w.ensurePolished()
        m = self._margin()
        hint = content.sizeHint()
        width = hint.width() + 2 * m + 2
        lay = content.layout()
        inner = lay.heightForWidth(hint.width()) if lay.hasHeightForWidth() else -1
        height = max(hint.height(), inner) + m + int(16 * self.theme.scale) + 2
        content.deleteLater()
        return width, height

    def groups(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """Groups in first-seen order, each with its (keys, description) rows."""
        out: dict[str, list[tuple[str, str]]] = {}
        for keys, desc, group in self.shortcuts:
            out.setdefault(group, []).append((keys, desc))
        return list(out.items())

    def _margin(self) -> int:
        return int(22 * self.theme.scale)

    def _style(self) -> str:
        t, s = self.theme, self.theme.scale
        return (
            f"#HelpCard {{ background: {t.panel}; border: 1px solid {t.grid};"
            f" border-radius: {int(10 * s)}px; }}"
            f" QLabel {{ color: {t.foreground}; font-size: {t.pt(self._text_pt()):.1f}pt;"
            f" background: transparent; }}"
            f" QLabel[role='key'] {{ color: {t.foreground}; background: {t.background};"
            f" border: 1px solid {t.grid}; border-bottom: 2px solid {t.muted};"
            f" border-radius: {int(4 * s)}px; padding: {0 if self.dense else int(1 * s)}px"
            f" {int(6 * s)}px;"
            f" font-family: monospace; font-weight: bold; }}"
            f" QLabel[role='group'] {{ color: {t.accent}; font-weight: bold;"
            f" font-size: {t.pt(self._text_pt() + 1):.1f}pt;"
            f" padding-top: {int((1 if self.dense else 6) * s)}px; }}"
            f" QLabel[role='title'] {{ font-size: {t.pt(12 if self.dense else 15):.1f}pt;"
            f" font-weight: bold; }}"
            f" QLabel[role='hint'] {{ color: {t.muted}; }}"
        )

    def _make_content(self, n_columns: int) -> QtWidgets.QWidget:
        """The card's contents, built parentless so no half-shown widget skews sizes."""
        s = self.theme.scale
        content = QtWidgets.QWidget()
        content.setObjectName("HelpContent")
        content.setStyleSheet(self._style())
        lay = QtWidgets.QVBoxLayout(content)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(int((4 if self.dense else 10) * s))
        head = QtWidgets.QHBoxLayout()
        title = QtWidgets.QLabel("Keyboard shortcuts")
        title.setProperty("role", "title")
        hint = QtWidgets.QLabel("Esc or ? closes")
        hint.setProperty("role", "hint")
        head.addWidget(title)
        head.addStretch(1)
        head.addWidget(hint)
        lay.addLayout(head)
        cols_row = QtWidgets.QHBoxLayout()
        cols_row.setSpacing(int(36 * s))
        keys_made: list[QtWidgets.QLabel] = []
        split = _balanced if self.dense else _columns
        for col in split(self.groups(), n_columns):
            grid = QtWidgets.QGridLayout()
            grid.setHorizontalSpacing(int(12 * s))
            grid.setVerticalSpacing(int((1 if self.dense else 5) * s))
            r = 0
            for group, rows in col:
                g = QtWidgets.QLabel(group)
                g.setProperty("role", "group")
                grid.addWidget(g, r, 0, 1, 2)
                r += 1
                for keys, desc in rows:
                    k = QtWidgets.QLabel(keys)
                    k.setProperty("role", "key")
                    k.setAlignment(QtCore.Qt.AlignCenter)
                    d = QtWidgets.QLabel(desc)
                    if self.dense:  # short of height: descriptions wrap so more columns fit
                        d.setWordWrap(True)
                        d.setFixedWidth(self._desc_width(n_columns))
                    grid.addWidget(k, r, 0, QtCore.Qt.AlignRight | QtCore.Qt.AlignVCenter)
                    grid.addWidget(d, r, 1)
                    keys_made.append(k)
                    r += 1
            grid.setRowStretch(r, 1)
            cols_row.addLayout(grid)
        lay.addLayout(cols_row)
        content.setProperty("nKeys", len(keys_made))
        self._last_keys = keys_made
        return content

    def _text_pt(self) -> float:
        """Dense mode: the mode's smallest legible size (still ≥ 18 px on a projector)."""
        return 9.0 if self.dense else 10.5

    def _desc_width(self, n_columns: int) -> int:
        """Dense mode: a description's width that lets ``n_columns`` fit the overlay."""
        s = self.theme.scale
        room = (self.width() - 40 if self.width() > 100 else 1600) - 2 * self._margin()
        font = QtGui.QFont(self.font())
        font.setPointSizeF(self.theme.pt(self._text_pt()))
        fm = QtGui.QFontMetrics(font)
        mono = QtGui.QFont(font)
        mono.setFamily("monospace")
        mono.setBold(True)
        fk = QtGui.QFontMetrics(mono)
        keys = max((fk.horizontalAdvance(k) for k, _d, _g in self.shortcuts), default=0)
        keys += int(16 * s) + 4  # the key cap's padding and border
        per_column = (room - int(36 * s) * (n_columns - 1)) // n_columns
        return max(fm.averageCharWidth() * 14, int(0.97 * (per_column - keys - int(14 * s))))

    def _rebuild(self, n_columns: int) -> None:
        self.n_columns = self._built_columns = n_columns
        self.card.setStyleSheet(self._style())
        m = self._margin()
        self.card.layout().setContentsMargins(m, int(16 * self.theme.scale), m, m)
        content = self._make_content(n_columns)
        self.key_labels = self._last_keys
        if self._content is not None:
            self.card.layout().removeWidget(self._content)
            self._content.hide()
            self._content.deleteLater()
        self._content = content
        self.card.layout().addWidget(content)
        content.show()

    # --- behaviour ----------------------------------------------------------------------------

    def showEvent(self, event: QtGui.QShowEvent) -> None:
        parent = self.parentWidget()
        if parent is not None:
            self.setGeometry(parent.rect())
        self.raise_()
        self.setFocus(QtCore.Qt.PopupFocusReason)
        super().showEvent(event)

    def hideEvent(self, event: QtGui.QHideEvent) -> None:
        super().hideEvent(event)
        self.closed.emit()

    def keyPressEvent(self, event: QtGui.QKeyEvent) -> None:
        if event.key() in (QtCore.Qt.Key_Escape, QtCore.Qt.Key_Question) or event.text() == "?":
            self.hide()
            event.accept()
            return
        super().keyPressEvent(event)

    def mousePressEvent(self, event: QtGui.QMouseEvent) -> None:
        if not self.card.geometry().contains(event.position().toPoint()):
            self.hide()
        event.accept()

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        p = QtGui.QPainter(self)
        p.fillRect(self.rect(), qcolor(self.theme.background, 200))
        p.end()
