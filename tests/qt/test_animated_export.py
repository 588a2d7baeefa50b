"""Animated exports for slides (issue 11, item 6): ``nnviz render ID --out F.gif|F.mp4``
(training progress, or one step's sweep with ``--sweep``) and the app's
"record the next N seconds of a view". Frames are read back with imageio."""

from __future__ import annotations

import imageio.v2 as iio2
import imageio.v3 as iio
import numpy as np
import pytest
from PySide6 import QtCore, QtWidgets

from nnviz.cli import main
from nnviz.core.errors import NnvizError
from nnviz.qt import animated_export
from nnviz.qt.animated_export import write_animation
from nnviz.qt.animated_render import chunk_ends
from nnviz.qt.recorder import ViewRecorder

SMALL = ["--size", "320x180", "--theme", "dark"]


def frames_of(path) -> np.ndarray:
    if str(path).endswith(".mp4"):
        reader = iio2.get_reader(path, format="FFMPEG")
        try:
            counted = reader.count_frames()  # ffmpeg's own count of the stream's frames
            frames = np.stack([f for f in reader.iter_data()])
            assert len(frames) == counted
            return frames
        finally:
            reader.close()
    return iio.imread(path, index=None)[..., :3]


def gif_duration_ms(path) -> int:
    from PIL import Image, ImageSequence

    with Image.open(path) as im:
        return sum(f.info["duration"] for f in ImageSequence.Iterator(im))


def leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if "nnviz-tmp" in p.name)


def test_training_progress_gif_has_the_frames_asked_for_and_changes(app, tmp_path, capsys):
    out = tmp_path / "xor.gif"
    rc = main(
        ["render", "xor", "--view", "all", "--out", str(out), "--steps", "30"]
        + ["--frames", "4", *SMALL]
    )
    assert rc == 0
    assert capsys.readouterr().out.strip() == str(out)
    frames = frames_of(out)
    assert frames.shape == (4, 180, 320, 3)
    # the boundary and the curves move as the network learns
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).max() > 40
    assert iio.improps(out, index=None).n_images == 4
    assert leftovers(tmp_path) == []


def test_progress_frames_are_evenly_spaced_and_never_repeat_a_step():
    assert chunk_ends(30, 4) == [0, 10, 20, 30]
    assert chunk_ends(3, 48) == [0, 1, 2, 3]  # at most one frame per step
    assert len(chunk_ends(10_000, None)) == animated_export.PROGRESS_FRAMES
    assert len(chunk_ends(10_000, 500)) == animated_export.MAX_FRAMES


def test_one_steps_sweep_as_mp4_goes_forward_then_backward(app, tmp_path):
    out = tmp_path / "sweep.mp4"
    rc = main(
        ["render", "xor", "--view", "network", "--sweep", "--out", str(out)]
        + ["--frames", "10", *SMALL]
    )
    assert rc == 0
    frames = frames_of(out)
    assert frames.shape == (10, 180, 320, 3)
    moved = [
        (np.abs(a.astype(int) - b.astype(int)).max(-1) > 30).sum()
        for a, b in zip(frames, frames[1:])
    ]
    assert sum(m > 20 for m in moved) >= 6, moved  # the sweep moves frame after frame
    assert leftovers(tmp_path) == []


def _caption_ink_height(frame: np.ndarray) -> int:
    """Rows of the top band (the sweep's caption) that hold text."""
    band = frame[: frame.shape[0] // 5].astype(int)
    bg = np.median(band, axis=1, keepdims=True)
    rows = np.nonzero(np.abs(band - bg).max(axis=(1, 2)) > 80)[0]
    return int(rows[-1] - rows[0] + 1) if len(rows) else 0


def test_presenter_frames_have_larger_text(app, tmp_path):
    plain, big = tmp_path / "plain.gif", tmp_path / "big.gif"
    args = ["render", "or-gate", "--view", "network", "--sweep", "--frames", "2"]
    assert main([*args, "--out", str(plain), "--size", "640x360"]) == 0
    assert main([*args, "--out", str(big), "--size", "640x360", "--presenter"]) == 0
    a, b = frames_of(plain), frames_of(big)
    assert a.shape == b.shape == (2, 360, 640, 3)
    h_plain, h_big = _caption_ink_height(a[0]), _caption_ink_height(b[0])
    assert h_plain > 5
    assert h_big >= 1.2 * h_plain, (h_plain, h_big)


def test_a_bad_output_path_exits_2_with_one_line_and_writes_nothing(app, tmp_path, capsys):
    out = tmp_path / "missing" / "x.gif"
    assert main(["render", "xor", "--out", str(out), "--steps", "2", *SMALL]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("nnviz: error: cannot write")
    assert "does not exist" in err[0]
    assert list(tmp_path.iterdir()) == []
    # an animation option on a picture is refused the same way
    assert main(["render", "xor", "--out", str(tmp_path / "x.png"), "--sweep"]) == 2
    assert "gif or .mp4" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_failed_encode_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    out = tmp_path / "a.gif"
    out.write_bytes(b"old")

    def broken(frames, tmp, fps, hold):
        tmp.write_bytes(b"GIF89a half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(animated_export, "_write_gif", broken)
    frames = [np.zeros((8, 8, 3), np.uint8)] * 2
    with pytest.raises(NnvizError, match="No space left"):
        write_animation(frames, out)
    assert out.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


class _Ticker(QtWidgets.QLabel):
    """A widget that changes on its own, as a view does while training."""

    def __init__(self) -> None:
        super().__init__("0")
        self.setStyleSheet("font-size: 40px; background: black; color: white")
        self.n = 0
        self.timer = QtCore.QTimer(self)
        self.timer.timeout.connect(self.tick)
        self.timer.start(30)

    def tick(self) -> None:
        self.n += 1
        self.setText(str(self.n))


def test_the_recorder_writes_n_seconds_of_a_view(qtbot, shown, tmp_path):
    widget = shown(_Ticker(), 200, 100)
    rec = ViewRecorder(widget, tmp_path / "rec.gif", seconds=0.6, fps=10)
    seen = []
    rec.progress.connect(lambda done, total: seen.append((done, total)))
    with qtbot.waitSignal(rec.finished, timeout=20_000) as blocker:
        rec.start()
    assert blocker.args[0] == tmp_path / "rec.gif"
    assert seen[-1] == (6, 6)
    frames = frames_of(tmp_path / "rec.gif")
    assert frames.shape == (6, 100, 200, 3)
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).max() > 100
    assert leftovers(tmp_path) == []


def test_the_recorder_refuses_a_bad_file_before_recording(qtbot, shown, tmp_path):
    widget = shown(_Ticker(), 200, 100)
    with pytest.raises(NnvizError, match="does not exist"):
        ViewRecorder(widget, tmp_path / "no" / "rec.gif", seconds=1)
    with pytest.raises(NnvizError, match=r"\.gif or \.mp4"):
        ViewRecorder(widget, tmp_path / "rec.avi", seconds=1)


def test_the_windows_menu_records_a_view(qtbot, app, tmp_path, monkeypatch):
    from nnviz.qt.main_window import MainWindow

    monkeypatch.setenv("NNVIZ_RECORD", "0")  # no run folder: only the recording is written
    w = MainWindow("or-gate")
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.network.snapshot is not None, timeout=60_000)  # built and drawn
    try:
        out = tmp_path / "net.gif"
        monkeypatch.setattr(
            QtWidgets.QInputDialog, "getItem", staticmethod(lambda *a, **k: ("Network", True))
        )
        monkeypatch.setattr(
            QtWidgets.QInputDialog, "getInt", staticmethod(lambda *a, **k: (1, True))
        )
        monkeypatch.setattr(
            QtWidgets.QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(out), ""))
        )
        entry = w.findChild(QtCore.QObject, "record_view")
        assert entry is not None and "GIF" in entry.text()
        w.session.play()  # training goes on while it records (the ticker test checks motion)
        entry.trigger()
        rec = w._recorder
        with qtbot.waitSignal(rec.finished, timeout=30_000):
            pass
        w.session.pause()
        # 1 s at 10 frames a second (a GIF keeps a still stretch as one longer frame)
        assert gif_duration_ms(out) == 1000
        frames = frames_of(out)
        assert 1 <= len(frames) <= 10
        net = w.views["network"]
        assert frames.shape[2] == min(net.width(), 960) // 2 * 2
        assert w.findChild(QtWidgets.QProgressDialog, "record_progress") is None or not (
            w.findChild(QtWidgets.QProgressDialog, "record_progress").isVisible()
        )
    finally:
        w.close()
