"""``nnviz inspect``: run folders and TensorBoard logdirs, headless."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nnviz.cli import main
from nnviz.core.runfolder import FORMAT_VERSION, RunWriter

ROOT = Path(__file__).resolve().parents[2]


def inspect_json(capsys, path) -> dict:
    assert main(["inspect", str(path), "--json"]) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def error_line(capsys, path) -> str:
    assert main(["inspect", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("nnviz: error: ")
    return err[0]


def test_inspect_a_run_folder(tmp_path, capsys):
    d = tmp_path / "run"
    with RunWriter(d, {"model": "Tiny"}) as w:
        for step in range(7):
            w.log(step, loss=1.0 / (step + 1), acc=step / 10)
    s = inspect_json(capsys, d)
    assert s["format"] == "nnviz-run" and s["complete"] is True
    assert s["steps"] == 7 and s["snapshots"] == 0 and s["ranks"] == 1
    assert s["metrics"] == ["loss", "acc"]
    assert s["last"] == {"loss": 1.0 / 7, "acc": 0.6}
    assert "desync" not in s
    assert main(["inspect", str(d)]) == 0
    text = capsys.readouterr().out
    assert "complete" in text and "metric records: 7" in text


def test_inspect_a_live_run_is_not_complete(tmp_path, capsys):
    w = RunWriter(tmp_path / "live", {})
    w.log(0, loss=2.0)
    w.flush()
    s = inspect_json(capsys, tmp_path / "live")
    assert s["complete"] is False and s["steps"] == 1
    w.close()
    assert inspect_json(capsys, tmp_path / "live")["complete"] is True


def test_inspect_a_summarywriter_logdir(tmp_path, capsys):
    from torch.utils.tensorboard import SummaryWriter

    logdir = tmp_path / "tb"
    sw = SummaryWriter(str(logdir))
    for step in range(5):
        sw.add_scalar("train/loss", 2.0 - 0.25 * step, step)
        sw.add_scalar("lr", 0.1, step)
        sw.add_histogram("fc.weight", np.linspace(-1, 1, 50) * (step + 1), step)
    sw.flush()
    s = inspect_json(capsys, logdir)
    assert s["format"] == "tensorboard" and s["ranks"] == 1 and s["snapshots"] == 0
    assert s["steps"] == 5 and set(s["metrics"]) == {"train/loss", "lr"}
    assert s["last"]["train/loss"] == pytest.approx(1.0) and s["last"]["lr"] == pytest.approx(0.1)
    assert s["histograms"] == ["fc.weight"]
    # live: events appended later are read on refresh
    from nnviz.core.runfolder import open_run

    r = open_run(logdir)
    sw.add_scalar("train/loss", 0.5, 5)
    sw.flush()
    ch = r.refresh()
    assert [m["step"] for m in ch.metrics] == [5]
    steps, values = r.series("train/loss")
    assert steps.tolist() == [0, 1, 2, 3, 4, 5] and values[-1] == pytest.approx(0.5)
    h = r.histograms("fc.weight")[-1]
    assert h.step == 4 and h.counts.sum() == pytest.approx(50)
    assert h.edges[0] == pytest.approx(-5) and h.edges[-1] == pytest.approx(5)
    sw.close()


def test_bad_folders_exit_2_with_one_line(tmp_path, capsys):
    assert "does not exist" in error_line(capsys, tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    assert "is empty" in error_line(capsys, tmp_path / "empty")
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "meta.json").write_text("{")
    assert "damaged" in error_line(capsys, corrupt)
    newer = tmp_path / "newer"
    newer.mkdir()
    (newer / "meta.json").write_text(
        json.dumps({"format": "nnviz-run", "version": FORMAT_VERSION + 1})
    )
    assert "newer nnviz" in error_line(capsys, newer)
    torn = tmp_path / "torn_tb"
    torn.mkdir()
    (torn / "events.out.tfevents.1.host").write_bytes(b"\x00garbage that is no event file" * 3)
    line = error_line(capsys, torn)
    assert "TensorBoard" in line or "event" in line


def test_inspect_runs_without_qt(tmp_path):
    d = tmp_path / "run"
    with RunWriter(d, {}) as w:
        w.log(0, loss=1.0)
    code = (
        "import sys; from nnviz.cli import main; rc = main(['inspect', sys.argv[1], '--json']);"
        "assert 'PySide6' not in sys.modules, 'Qt imported';"
        "sys.exit(rc)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(d)], capture_output=True, text=True,
                         cwd=ROOT)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.splitlines()[-1])["steps"] == 1


def test_train_record_writes_a_run_folder(tmp_path, capsys):
    d = tmp_path / "rec"
    assert main(["train", "or-gate", "--steps", "25", "--record", str(d), "--record-every", "5",
                 "--json"]) == 0  # fmt: skip
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    s = inspect_json(capsys, d)
    assert s["complete"] is True and s["steps"] == 25
    assert s["last"]["loss"] == pytest.approx(result["final_loss"])
    assert s["snapshot_steps"][:5] == [0, 5, 10, 15, 20]
    assert s["meta"]["scenario"] == "or-gate" and s["meta"]["source"] == "nnviz train"
    from nnviz.core.runfolder import RunReader

    snap = RunReader(d).snapshot(0)
    assert [layer.name for layer in snap.layers] and snap.params
    # a second recording into the same folder is refused, nothing trained
    assert main(["train", "or-gate", "--steps", "5", "--record", str(d)]) == 2
    assert "already holds a recorded run" in capsys.readouterr().err
