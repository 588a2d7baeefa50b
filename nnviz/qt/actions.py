"""Every user action, with its shortcut and tooltip, in one place.

The help overlay lists them from here, so a shortcut cannot exist without
being documented.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget

#: name -> (text, shortcut(s), group, tooltip)
ACTION_SPECS: dict[str, tuple[str, tuple[str, ...], str, str]] = {
    "play": ("Play", ("Space",), "Training", "Play / pause training (Space)"),
    "step": ("Step", ("Right",), "Training", "Train one batch and show it (→)"),
    "step_epoch": ("Epoch", ("Shift+Right",), "Training", "Train one epoch (Shift+→)"),
    "reset": ("Reset", ("R",), "Training", "A fresh model from the same seed (R)"),
    "undo": (
        "Undo",
        ("Ctrl+Z",),
        "Training",
        "Back to the model a settings change or Reset replaced (Ctrl+Z)",
    ),
    "redo": ("Redo", ("Ctrl+Shift+Z",), "Training", "Redo what Undo undid (Ctrl+Shift+Z)"),
    "faster": ("Faster", ("]",), "Training", "Train faster (])"),
    "slower": ("Slower", ("[",), "Training", "Train slower, down to a teaching pace ([)"),
    "open": ("Scenario…", ("Ctrl+O",), "File", "Choose a built-in scenario (Ctrl+O)"),
    "data": ("Data folder…", ("Ctrl+D",), "File", "Open a folder of MNIST or apparel files"),
    "save_image": (
        "Save window image…",
        ("Ctrl+Alt+S",),
        "File",
        "Export the whole window as a PNG or SVG picture (Ctrl+Alt+S)",
    ),
    "save_view": (
        "Save view image…",
        ("Ctrl+Alt+V",),
        "File",
        "Export one view, the one under the mouse, as PNG or SVG (Ctrl+Alt+V)",
    ),
    "quit": ("Quit", ("Ctrl+Q",), "File", "Stop training and quit (Ctrl+Q)"),
    "show_network": ("Network", ("Ctrl+1",), "View", "The network view (Ctrl+1)"),
    "show_graph": ("Autograd graph", ("Ctrl+2",), "View", "The autograd graph and stepper"),
    "log_scale": ("Log loss", ("L",), "View", "Log scale for the loss axis (L)"),
    "weights": ("Weight heatmap", ("W",), "View", "Show the selected layer's weights (W)"),
    "theme": ("Light theme", ("Ctrl+T",), "Lecture", "High-contrast light theme (Ctrl+T)"),
    "presenter": ("Presenter", ("F11",), "Lecture", "Full screen, big fonts (F11)"),
    "settings": ("Settings", ("F9",), "Lecture", "Show / hide the settings (F9)"),
    "reset_layout": (
        "Reset layout",
        ("Ctrl+Shift+L",),
        "Lecture",
        "Docks and panels back to where they started (Ctrl+Shift+L)",
    ),
    "help": ("Shortcuts", ("?", "F1"), "Help", "Every shortcut (?)"),
}

# --- time travel and sessions (issue 10) ---
ACTION_SPECS.update(
    {
        "back_in_time": (
            "Back in time",
            (",", "Alt+Left"),
            "Time travel",
            "Show the snapshot before the one shown (, or Alt+←)",
        ),
        "forward_in_time": (
            "Forward in time",
            (".", "Alt+Right"),
            "Time travel",
            "Show the snapshot after the one shown (. or Alt+→)",
        ),
        "live": ("Live", ("End",), "Time travel", "Back to the live run (End)"),
        "save_session": (
            "Save session…",
            ("Ctrl+S",),
            "File",
            "Save the model, optimizer and run so far, to resume exactly (Ctrl+S)",
        ),
        "open_run": (
            "Open run or session…",
            ("Ctrl+Shift+O",),
            "File",
            "Open a recorded run, a TensorBoard logdir or a saved session (Ctrl+Shift+O)",
        ),
        "record_runs": (
            "Record runs",
            ("Ctrl+Shift+R",),
            "File",
            "Record each run into the runs folder (Ctrl+Shift+R)",
        ),
    }
)
# Ctrl+S saves the session (issue 10); the window image moves to Ctrl+Alt+S
_text, _keys, _group, _tip = ACTION_SPECS["save_image"]
ACTION_SPECS["save_image"] = (_text, ("Ctrl+Alt+S",), _group, _tip.replace("Ctrl+S", "Ctrl+Alt+S"))
# --- end time travel and sessions (issue 10) ---

# --- model files (issue 9) ---
ACTION_SPECS["open_model_file"] = (
    "Model file…",
    ("Ctrl+M",),
    "File",
    "Open your own model file: a .py that defines model() and data() (Ctrl+M)",
)
# --- end model files (issue 9) ---

#: Keys that belong to one widget, not to a window action (the autograd graph's
#: stepper and view): (keys, description, group). Listed in the help overlay too.
WIDGET_SHORTCUTS: tuple[tuple[str, str, str], ...] = (
    ("N", "Next step of the forward or backward pass", "Autograd graph"),
    ("B", "One step back", "Autograd graph"),
    ("C", "Capture the next training step's graph", "Autograd graph"),
    ("F", "Fit the whole graph in view", "Autograd graph"),
    ("+ / -", "Zoom the graph in / out", "Autograd graph"),
)


@dataclass
class Actions:
    by_name: dict[str, QAction]

    def __getattr__(self, name: str) -> QAction:
        try:
            return self.by_name[name]
        except KeyError:
            raise AttributeError(name) from None

    def shortcut_table(self) -> list[tuple[str, str, str]]:
        """(keys, description, group) for the help overlay."""
        rows = []
        for _text, keys, group, tip in ACTION_SPECS.values():
            if not keys:
                continue
            rows.append((" / ".join(keys), tip.split(" (")[0], group))
        return rows + list(WIDGET_SHORTCUTS)


def make_actions(parent: QWidget) -> Actions:
    out: dict[str, QAction] = {}
    for name, (text, keys, _group, tip) in ACTION_SPECS.items():
        act = QAction(text, parent)
        act.setShortcuts([QKeySequence(k) for k in keys])
        act.setToolTip(tip)
        # no status tip: the status bar shows one message, the status line (issue 11)
        act.setObjectName(f"action_{name}")
        parent.addAction(act)  # shortcuts work wherever the focus is
        out[name] = act
    for name in ("theme", "presenter", "log_scale", "settings"):
        out[name].setCheckable(True)
    return Actions(out)
