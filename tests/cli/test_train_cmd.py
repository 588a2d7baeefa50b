"""``nnviz train``: the design's contract (DESIGN.md section 2)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nnviz.cli import main
from tests.factories import make_idx_dir, make_image_folder

CONTRACT_KEYS = {
    "scenario",
    "device",
    "steps",
    "epochs",
    "final_loss",
    "metrics",
    "param_count",
    "wall_s",
}
ROOT = Path(__file__).resolve().parents[2]


def train_json(capsys, *args: str) -> dict:
    assert main(["train", *args, "--json"]) == 0
    out = capsys.readouterr().out
    return json.loads(out.strip().splitlines()[-1])


def run_error(capsys, *args: str) -> str:
    """Run a command that must fail; return its one stderr line."""
    try:
        rc = main(list(args))
    except SystemExit as exc:  # argparse's own errors exit from inside parse_args
        rc = exc.code
    assert rc == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("nnviz: error: ")
    assert "Traceback" not in err
    return lines[0]


def check_or_gate(result: dict) -> None:
    assert set(result) >= CONTRACT_KEYS
    assert result["scenario"] == "or-gate" and result["device"] == "cpu"
    assert result["steps"] == 10_000 and result["param_count"] == 3
    assert result["metrics"]["train_accuracy"] == 1.0
    assert result["wall_s"] > 0
    w = result["params"]["0.weight"][0]
    assert w[0] == pytest.approx(9.98578506, abs=1e-6)
    assert w[1] == pytest.approx(9.98589032, abs=1e-6)
    assert result["params"]["0.bias"][0] == pytest.approx(-4.52752860, abs=1e-6)
    history = result["loss_history"]
    assert f"{history['0']:.2e}" == "1.47e+00"
    assert f"{history['9000']:.2e}" == "2.14e-02"
    assert result["final_loss"] == pytest.approx(history["9000"], rel=0.2)


def test_or_gate_json_reproduces_the_seed(capsys):
    check_or_gate(train_json(capsys, "or-gate", "--device", "cpu"))


def test_python_dash_m_nnviz_train_or_gate_json():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "nnviz", "train", "or-gate", "--json", "--device", "cpu"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # no progress bar: stderr is not a terminal
    check_or_gate(json.loads(proc.stdout.strip().splitlines()[-1]))


def test_json_is_the_last_line_and_params_only_for_small_models(capsys):
    small = train_json(capsys, "xor", "--steps", "20", "--seed", "3")
    assert set(small) >= CONTRACT_KEYS and small["steps"] == 20
    assert set(small["params"]) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    assert len(small["params"]["0.weight"]) == 8 and len(small["params"]["0.weight"][0]) == 2
    assert 0 <= small["metrics"]["val_accuracy"] <= 1
    big = train_json(capsys, "digits-mlp", "--steps", "5", "--hidden", "64,16")
    assert big["param_count"] > 1000 and "params" not in big


def test_epochs_and_settings_from_the_command_line(capsys):
    r = train_json(
        capsys,
        "gauss",
        "--epochs",
        "2",
        "--batch-size",
        "50",
        "--lr",
        "0.1",
        "--optimizer",
        "sgd",
        "--loss",
        "mse",
        "--hidden",
        "3,2",
        "--activation",
        "relu",
    )
    assert r["epochs"] == 2 and r["steps"] == 8  # 200 training points, 50 a batch
    assert set(r["params"]) == {f"{i}.{k}" for i in (0, 2, 4) for k in ("weight", "bias")}


def test_text_output_names_the_validation_accuracy(capsys):
    assert main(["train", "gauss", "--steps", "40"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("gauss: 40 steps, 2 epochs on cpu") and "validation accuracy" in out


def test_progress_bar_only_when_stderr_is_a_terminal(capsys, monkeypatch):
    assert main(["train", "gauss", "--steps", "30"]) == 0
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main(["train", "gauss", "--steps", "30"]) == 0
    err = capsys.readouterr().err
    assert "\r" in err and "100.0%" in err and "gauss" in err


def test_mnist_mlp_trains_on_idx_files_and_reports_validation_accuracy(capsys, tmp_path):
    data = make_idx_dir(tmp_path / "mnist", n_train=300, n_test=30)
    r = train_json(capsys, "mnist-mlp", "--data", str(data), "--epochs", "3")
    assert r["param_count"] == 669_706
    assert r["metrics"]["val_accuracy"] >= 0.8
    assert "300 training images" in r["data_note"]


def test_apparel_mlp_trains_on_the_folder_format_and_writes_predictions(
    capsys, tmp_path, monkeypatch
):
    data = make_image_folder(tmp_path / "data", n_train=200, n_test=25)
    monkeypatch.chdir(tmp_path)
    r = train_json(capsys, "apparel-mlp", "--data", str(data), "--epochs", "4")
    assert r["metrics"]["val_accuracy"] >= 0.8
    assert r["predictions_csv"] == "predictions.csv"
    with open(tmp_path / "predictions.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    with open(data / "test.csv", newline="") as fh:
        test_ids = [row[0] for row in csv.reader(fh)][1:]
    assert rows[0] == ["id", "label"]
    assert [row[0] for row in rows[1:]] == test_ids
    assert all(0 <= int(row[1]) <= 9 for row in rows[1:])
    # A second run never overwrites the user's file; --predictions picks the path.
    r2 = train_json(capsys, "apparel-mlp", "--data", str(data), "--steps", "2")
    assert r2["predictions_csv"] == "predictions-1.csv"
    out = tmp_path / "sub.csv"
    r3 = train_json(
        capsys, "apparel-mlp", "--data", str(data), "--steps", "2", "--predictions", str(out)
    )
    assert r3["predictions_csv"] == str(out) and out.read_text().startswith("id,label")


def write_corrupt_idx(folder: Path) -> Path:
    folder.mkdir()
    (folder / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x01" + bytes(60))
    (folder / "train-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01" + bytes(60))
    return folder


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["train", "nope"], "unknown scenario 'nope'"),
        (["train", "xor", "--steps", "0"], "--steps"),
        (["train", "xor", "--steps", "ten"], "expected a whole number, got 'ten'"),
        (["train", "xor", "--epochs", "-2"], "--epochs"),
        (["train", "xor", "--lr", "-1"], "--lr: expected a positive number"),
        (["train", "xor", "--lr", "nan"], "--lr"),
        (["train", "xor", "--batch-size", "100000"], "batch size must be between 1"),
        (["train", "xor", "--seed", "x"], "--seed"),
        (["train", "xor", "--hidden", "8,a"], "hidden layer sizes like 8,8"),
        (["train", "xor", "--steps", "5", "--epochs", "5"], "not allowed with"),
        (["train", "or-gate", "--hidden", "4"], "fixed architecture"),
        (["train", "xor", "--loss", "cross_entropy"], "cross-entropy needs one output per class"),
        (["train", "xor", "--optimizer", "sparseadam"], "SparseAdam only works on sparse"),
        (["train", "xor", "--device", "tpu"], "unknown device 'tpu'"),
        (["train", "chain-rule"], "nnviz graph chain-rule"),
        (["train", "apparel-mlp"], "--data DIR"),
        (["train", "xor", "--predictions", "p.csv"], "no test images to predict"),
    ],
)
def test_bad_input_is_one_error_line_and_exit_2(capsys, args, says):
    assert says in run_error(capsys, *args)


def test_missing_data_folder(capsys, tmp_path):
    line = run_error(capsys, "train", "mnist-mlp", "--data", str(tmp_path / "nowhere"))
    assert "does not exist" in line and "IDX" in line


def test_corrupt_idx_file(capsys, tmp_path):
    folder = write_corrupt_idx(tmp_path / "bad")
    line = run_error(capsys, "train", "mnist-mlp", "--data", str(folder))
    assert "train-images-idx3-ubyte" in line


def test_labels_out_of_range_in_the_folder_format(capsys, tmp_path):
    data = make_image_folder(tmp_path / "data", n_train=12, n_test=0)
    text = (data / "train.csv").read_text().splitlines()
    first_id = text[1].split(",")[0]
    text[1] = f"{first_id},12"
    (data / "train.csv").write_text("\n".join(text) + "\n")
    line = run_error(capsys, "train", "apparel-mlp", "--data", str(data))
    assert "12" in line and "labels" in line


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_cuda_absent(capsys):
    line = run_error(capsys, "train", "xor", "--device", "cuda")
    assert "CUDA" in line and "--device cpu" in line


def test_bad_input_in_a_real_process_shows_no_traceback(tmp_path):
    folder = write_corrupt_idx(tmp_path / "bad")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for args in (["train", "nope"], ["train", "mnist-mlp", "--data", str(folder)]):
        proc = subprocess.run(
            [sys.executable, "-m", "nnviz", *args],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
            env=env,
        )
        assert proc.returncode == 2
        assert proc.stdout == ""
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("nnviz: error: "), proc.stderr
