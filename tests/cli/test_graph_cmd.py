"""`nnviz graph ID [--json]` as the design's contract says."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from nnviz.cli import main


def run_json(capsys, *args):
    assert main(["graph", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_chain_rule_json(capsys):
    d = run_json(capsys, "chain-rule")
    nodes = {n["id"]: n for n in d["nodes"]}
    out = next(n for n in d["nodes"] if n["kind"] == "output")
    assert out["value"] == 33.0
    grads = {n["name"]: n["grad"] for n in d["nodes"] if n["kind"] == "leaf"}
    assert grads == {"a": 3.0, "b": 6.0, "c": 9.0}
    for u, v in d["edges"]:
        assert u in nodes and v in nodes
    ops = [(nodes[i]["op"], nodes[i]["name"]) for i in d["backward_order"]]
    assert ops[0] == ("Mul", "L") and ops[3] == ("Mul", "u")
    assert {"id", "op", "kind", "name", "shape", "value", "grad"} <= set(out)


def test_autograd_mean_json(capsys):
    d = run_json(capsys, "autograd-mean")
    (a,) = [n for n in d["nodes"] if n["kind"] == "leaf"]
    assert a["grad"] == [[0.25, 0.25], [0.25, 0.25]]


def test_logistic_regression_json_shows_dz_is_a_minus_y(capsys):
    import numpy as np

    d = run_json(capsys, "logistic-regression")
    by_op = {n["op"]: n for n in d["nodes"]}
    z, a = by_op["Addmm"], by_op["Sigmoid"]  # z = x·wᵀ + b, a = σ(z)
    y = np.array(d["target"])
    m = len(y)
    dz = np.array(z["grad"])
    np.testing.assert_allclose(dz * m, np.array(a["value"]) - y, rtol=1e-5, atol=1e-7)
    w = next(n for n in d["nodes"] if n["name"] == "0.weight")
    assert w["parameter"] and d["train_step"] == 0 and m == 20


def test_big_tensors_are_summarised(capsys):
    d = run_json(capsys, "digits-mlp")
    w = next(n for n in d["nodes"] if n["name"] == "1.weight")
    assert w["shape"] == [64, 64] and set(w["grad"]) >= {"mean", "std", "min", "max"}
    b = next(n for n in d["nodes"] if n["name"] == "3.bias")
    assert len(b["grad"]) == 10


def test_scalar_mode(capsys):
    d = run_json(capsys, "or-gate", "--scalar")
    names = {n["name"] for n in d["nodes"] if n["kind"] == "leaf"}
    assert {"0.weight[0,0]", "0.weight[0,1]", "0.bias[0]"} <= names


def test_table(capsys):
    assert main(["graph", "chain-rule"]) == 0
    out = capsys.readouterr().out
    assert "backward" in out and "→ b: 6" in out and "→ c: 9" in out


@pytest.mark.parametrize("args", [["nope"], ["chain-rule", "--scalar"]])
def test_bad_input_is_one_line(args):
    p = subprocess.run(
        [sys.executable, "-m", "nnviz", "graph", *args], capture_output=True, text=True
    )
    assert p.returncode == 2
    assert p.stderr.startswith("nnviz: error:") and len(p.stderr.strip().splitlines()) == 1
