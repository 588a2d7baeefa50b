"""The window's two layouts: at the desk, and in front of a lecture hall.

Presenter mode (F11) goes full screen on the screen the window is on and
scales every font so that the smallest text is at least 18 px tall on a
1280×720 projector and 24 px on a 1920×1080 screen (``theme.presenter_scale``);
the settings dock hides (F9 brings it back) so the network, the decision
boundary and the curves get the room. Leaving it puts back the desk layout
exactly as it was; that desk layout is the only one ever saved, so a plain
launch never inherits the presenter's dock widths. "Reset layout" puts the
docks and panels back where a first launch has them.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, Qt, QTimer
from PySide6.QtWidgets import QToolButton

from nnviz.qt.preferences import forget_layout
from nnviz.qt.theme import DARK, LIGHT, presenter_scale

# toolbar entries that a lecture does not need (their keys still work): they make room
PRESENTER_HIDES = ("data", "open_model_file", "open_run", "save_session")
# shares of the room: (tabs above, curves below) and (network, boundary)
DESK_SPLIT = (620, 260)
PRESENTER_SPLIT = (0.62, 0.38)
NETWORK_SHARE = (0.58, 0.42)


class LayoutModes:
    def __init__(self, win) -> None:
        self.win = win
        self.presenter = False
        self._normal: tuple[QByteArray, QByteArray] | None = None
        self._settings_were_shown = True
        self._screen_height = 0
        self._initial_state = win.saveState()
        # Play and Step on the toolbar while the settings (and their buttons) are hidden
        self.presenter_tools = []
        for name in ("play", "step"):
            action = getattr(win.actions_, name)
            b = QToolButton()  # not the action's own button: the settings have that one
            b.setObjectName(f"presenter_{name}")
            b.setText(action.text())
            b.setToolTip(action.toolTip())
            action.changed.connect(lambda b=b, a=action: b.setText(a.text()))
            b.clicked.connect(action.trigger)
            act = win.toolbar.insertWidget(win.toolbar.actions()[0], b)
            act.setVisible(False)
            self.presenter_tools.append(act)
        self.arrange()

    def _base(self):
        return LIGHT if self.win.actions_.theme.isChecked() else DARK

    def screen_height(self) -> int:
        screen = self.win.screen()
        return screen.geometry().height() if screen is not None else 720

    def set_presenter(self, on: bool) -> None:
        win = self.win
        if on == self.presenter:
            return
        if on:
            self._normal = (win.saveGeometry(), win.saveState())
            self._settings_were_shown = win.settings_dock.isVisible()
            self.presenter = True
            self._apply_scale()
            win.actions_.settings.setChecked(False)
            win.showFullScreen()
        else:
            self.presenter = False
            win.theme = self._base().scaled(1.0)
            win.set_theme(win.theme)
            win.showNormal()
            if self._normal is not None:
                geometry, state = self._normal
                win.restoreGeometry(geometry)
                win.restoreState(state)
            win.actions_.settings.setChecked(self._settings_were_shown)
            self._normal = None
        for act in self.presenter_tools:
            act.setVisible(on)
        self._trim_toolbar(on)
        self.fit_tab()
        QTimer.singleShot(0, win, self.arrange)

    def _trim_toolbar(self, on: bool) -> None:
        """Take the desk-only entries off the toolbar (on) or put them back in order."""
        bar = self.win.toolbar
        if on:
            self._bar_order = list(bar.actions())
            for name in PRESENTER_HIDES:
                act = self.win.actions_.by_name.get(name)
                if act is not None and act in self._bar_order:
                    bar.removeAction(act)
            return
        order = getattr(self, "_bar_order", None)
        if not order:
            return
        for i, act in enumerate(order):
            if act in bar.actions():
                continue
            after = [a for a in order[i + 1 :] if a in bar.actions()]
            bar.insertAction(after[0] if after else None, act)
        self._bar_order = None

    def _apply_scale(self) -> None:
        win = self.win
        self._screen_height = self.screen_height()
        win.theme = self._base().scaled(presenter_scale(self._screen_height))
        win.set_theme(win.theme)

    def screen_changed(self) -> None:
        """Moved to another screen while presenting: scale for that one."""
        if self.presenter and self.screen_height() != self._screen_height:
            self._apply_scale()
            QTimer.singleShot(0, self.win, self.arrange)

    def arrange(self) -> None:
        """Give the views their shares of the room in this mode."""
        win = self.win
        if self.presenter:
            h = max(win.split.height(), 1)
            win.split.setSizes([round(h * PRESENTER_SPLIT[0]), round(h * PRESENTER_SPLIT[1])])
        else:
            win.split.setSizes(list(DESK_SPLIT))
        w = max(win.net_split.width(), 1)
        win.net_split.setSizes([round(w * NETWORK_SHARE[0]), round(w * NETWORK_SHARE[1])])

    def fit_tab(self) -> None:
        """The curves under the tabs: shown for a trainable scenario; while presenting,
        only under the network (the autograd graph and its chain rule need the height)."""
        win = self.win
        trainable = win._shown is None or win._shown.trainable
        win.loss.setVisible(trainable and (not self.presenter or win.tabs.currentIndex() == 0))

    def normal_layout(self) -> tuple[QByteArray, QByteArray]:
        """The desk layout (geometry, state): the one saved, even while presenting."""
        if self._normal is not None:
            return self._normal
        return self.win.saveGeometry(), self.win.saveState()

    def reset(self) -> None:
        """Docks and panels as a first launch has them (and forget the saved layout)."""
        win = self.win
        if self.presenter:
            win.actions_.presenter.setChecked(False)
        win.restoreState(self._initial_state)
        win.settings_dock.setFloating(False)
        win.addDockWidget(Qt.LeftDockWidgetArea, win.settings_dock)
        win.actions_.settings.setChecked(True)
        win.settings_dock.show()
        for dock in win.docks.values():
            dock.setFloating(False)
            win.addDockWidget(Qt.RightDockWidgetArea, dock)
            dock.hide()
        forget_layout()
        self.arrange()
        win.fit_settings()
