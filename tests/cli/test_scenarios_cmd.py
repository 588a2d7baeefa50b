"""``nnviz scenarios [--json]``: the built-in scenarios, for people and scripts."""

from __future__ import annotations

import json

from nnviz.cli import main
from nnviz.core.scenarios import SCENARIOS
from tests.core.test_scenarios import DESIGN_TABLE


def test_json_lists_every_scenario_with_its_recipe(capsys):
    assert main(["scenarios", "--json"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    listed = {s["id"]: s for s in json.loads(out[-1])["scenarios"]}
    assert list(listed) == list(SCENARIOS)
    assert set(DESIGN_TABLE) <= set(listed)
    mnist = listed["mnist-mlp"]
    assert mnist["param_count"] == 669_706 and mnist["layers"] == [784, 512, 512, 10]
    assert mnist["needs_data"] == "mnist"
    or_gate = listed["or-gate"]
    assert (or_gate["loss"], or_gate["optimizer"], or_gate["lr"]) == ("l1_sum", "sgd", 0.05)
    assert or_gate["steps"] == 10_000 and or_gate["param_count"] == 3
    assert "9.98578506" in or_gate["figure"]
    assert listed["chain-rule"]["kind"] == "expression" and "layers" not in listed["chain-rule"]
    assert listed["spiral"]["editable"] is True
    for s in listed.values():
        assert s["title"] and s["source"]


def test_text_lists_ids_and_titles(capsys):
    assert main(["scenarios"]) == 0
    out = capsys.readouterr().out
    for sc in SCENARIOS.values():
        assert any(line.startswith(sc.id + " ") and sc.title in line for line in out.splitlines())
