"""Training health: the numbers against torch, the bins, the warnings, the demonstrations."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from nnviz.cli import main
from nnviz.core import health as H
from nnviz.core.engine import Trainer
from nnviz.core.health_history import HealthHistory
from nnviz.core.health_types import KINDS, PERCENTILES, HealthReport, LayerHealth
from nnviz.core.health_warnings import health_warnings
from nnviz.core.history import History
from nnviz.core.models import neuron_layers
from nnviz.core.scenarios import SCENARIOS, get_scenario

DEMOS = {
    "vanishing-sigmoid": "vanishing",
    "lr-too-high": "too large",
    "dead-relu": "units dead",
}


def oracle_step(trainer: Trainer):
    """Train one step with a health report; return (report, oracle) where the
    oracle holds torch's own numbers for that step, in float64."""
    model = trainer.model
    before = copy.deepcopy(model)  # in the model's own dtype: the values the engine saw
    x, y = trainer.sample_batch()
    # the batch's pre-activations and activations, through plain torch hooks
    acts: dict[str, dict[str, torch.Tensor]] = {}
    handles = []
    for spec in neuron_layers(before):
        rec = acts.setdefault(spec.linear, {})
        handles.append(
            before.get_submodule(spec.linear).register_forward_hook(
                lambda _m, _i, out, rec=rec: rec.__setitem__("z", out.detach())
            )
        )
        if spec.act is not None:
            handles.append(
                before.get_submodule(spec.act).register_forward_hook(
                    lambda _m, _i, out, rec=rec: rec.__setitem__("a", out.detach())
                )
            )
    with torch.no_grad():
        before(x)
    for h in handles:
        h.remove()
    m = trainer.step(snapshot=True)
    report = m.snapshot.health
    assert isinstance(report, HealthReport)
    oracle = []
    for spec in neuron_layers(model):
        w_old = before.get_submodule(spec.linear).weight.detach().double()
        lin = model.get_submodule(spec.linear)
        g = lin.weight.grad.detach().double()
        w_new = lin.weight.detach().double()
        z = acts[spec.linear]["z"].double()
        a = acts[spec.linear].get("a", z).double()
        oracle.append(
            dict(
                grad_norm=float(g.norm()),
                grad_max=float(g.abs().max()),
                update_ratio=float((w_new - w_old).norm() / w_old.norm()),
                dead=float(1 - (z > 0).any(0).double().mean()),
                a=a,
                z=z,
                w=w_old,
                g=g,
            )
        )
    return report, oracle


def _tracked(trainer: Trainer) -> Trainer:
    trainer.health_every = 1  # a report on every snapshot step
    return trainer


@pytest.mark.parametrize("scenario", ["scratch-mlp", "spiral", "vanishing-sigmoid"])
def test_numbers_match_torch(scenario):
    t = _tracked(Trainer(get_scenario(scenario)))
    for _ in range(3):
        t.step()
    report, oracle = oracle_step(t)
    assert len(report.layers) == len(oracle)
    for la, o in zip(report.layers, oracle):
        assert la.grad_norm == pytest.approx(o["grad_norm"], rel=1e-4)
        assert la.grad_max == pytest.approx(o["grad_max"], rel=1e-5)
        assert la.update_ratio == pytest.approx(o["update_ratio"], rel=1e-3)
        if la.activation == "relu":
            # one batch seen: dead = never positive on it
            assert la.dead_fraction == pytest.approx(o["dead"], abs=1e-9)
            assert la.saturated_fraction is None
        if la.activation == "sigmoid":
            a = o["a"]
            sat = float((a * (1 - a) < 0.05 * 0.25).double().mean())
            assert la.saturated_fraction == pytest.approx(sat, abs=1e-6)
            assert la.dead_fraction is None
        # small tensors: histograms and percentiles of every value
        for kind, values in zip(KINDS, (o["w"], o["g"], o["a"], o["z"])):
            d = la.dist(kind)
            v = values.numpy().reshape(-1).astype(la.dist("weight").edges.dtype)
            assert d.total == v.size and not d.sampled
            counts, _ = np.histogram(v, bins=d.edges)
            # a float32 value within rounding of a bin edge may fall either side
            # (a nearly constant tensor has bins narrower than float32 resolves)
            tol = 4 * np.finfo(np.float32).eps * np.abs(v)
            on_edge = (np.abs(v[:, None] - d.edges[None, :]) <= tol[:, None]).any(axis=1)
            assert np.abs(d.counts - counts).sum() <= 2 * max(1, int(on_edge.sum()))
            np.testing.assert_allclose(
                d.percentiles, np.percentile(v, PERCENTILES), rtol=1e-5, atol=1e-6
            )


def test_a_model_with_other_modules():
    """A user's module with a LayerNorm between its Linears (drawn as module
    blocks): every module with a weight matrix gets its numbers."""
    sc = get_scenario("circle")
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(2, 8), nn.LayerNorm(8), nn.Tanh(), nn.Linear(8, 1), nn.Sigmoid()
    )
    t = _tracked(Trainer(sc, model=model))
    t.step()
    before = copy.deepcopy(model)
    report = t.step(snapshot=True).snapshot.health
    assert [la.name for la in report.layers] == ["0", "3"]
    for la in report.layers:
        w_old = before.get_submodule(la.name).weight.detach().double()
        lin = model.get_submodule(la.name)
        g = lin.weight.grad.double()
        assert la.grad_norm == pytest.approx(float(g.norm()), rel=1e-4)
        ratio = (lin.weight.detach().double() - w_old).norm() / w_old.norm()
        assert la.update_ratio == pytest.approx(float(ratio), rel=1e-3)


def test_dead_units_are_those_never_active_over_the_window():
    t = _tracked(Trainer(get_scenario("spiral")))
    tracker = H.tracker_of(t)
    tracker.dead_window = 3
    seen = []
    for _ in range(5):
        x, _y = t.sample_batch()
        with torch.no_grad():
            seen.append((t.model[0](x) > 0).any(0))
        report = t.step(snapshot=True).snapshot.health
    ever = torch.stack(seen[-3:]).any(0)
    assert report.layers[0].dead_fraction == pytest.approx(float(1 - ever.double().mean()))
    # which units: the ones torch saw never positive (the network view marks them)
    np.testing.assert_array_equal(report.layers[0].dead_units, ~ever.numpy())
    assert report.dead_window == 3


def test_bins_are_fixed_and_widen_when_values_leave_them():
    bins = H.BinRange(n_bins=10)
    d1 = H.distribution(np.linspace(0, 1, 101), bins)
    first = d1.edges.copy()
    assert first[0] < 0 and first[-1] > 1 and len(first) == 11
    d2 = H.distribution(np.linspace(0.2, 0.8, 50), bins)
    np.testing.assert_array_equal(d2.edges, first)  # inside: the same bins
    assert bins.widened == 0 and d2.total == 50
    d3 = H.distribution(np.array([-3.0, 0.5, 1.0, np.nan, np.inf]), bins)
    assert bins.widened == 1 and d3.edges[0] <= -3 and d3.edges[-1] == first[-1]
    assert d3.total == 3 and d3.nonfinite == 2
    np.testing.assert_array_equal(d3.counts, np.histogram([-3.0, 0.5, 1.0], bins=d3.edges)[0])


def test_big_tensors_are_sampled():
    bins = H.BinRange()
    v = np.random.default_rng(0).normal(size=100_000).astype(np.float32)
    d = H.distribution(v, bins, max_values=4096)
    assert d.sampled and d.total <= 4096
    assert d.percentiles[4] == pytest.approx(0.0, abs=0.05)  # the median of N(0, 1)


def test_reports_are_throttled_in_the_app_but_not_headless():
    t = Trainer(get_scenario("spiral"))
    reports = [t.step(snapshot=True).snapshot.health for _ in range(3)]
    assert reports[0] is not None and reports[1] is None  # too soon after the first
    t.health_every = 1
    assert t.step(snapshot=True).snapshot.health is not None
    assert t.step().snapshot is None  # unwatched steps take no snapshot


def test_a_reset_starts_the_statistics_over():
    t = _tracked(Trainer(get_scenario("spiral")))
    for _ in range(3):
        t.step(snapshot=True)
    t.reset()
    report = t.step(snapshot=True).snapshot.health
    assert report.step == 0 and report.dead_window == 1


def _layer(name, grad_norm, update_ratio=1e-3, dead=None, sat=None, act="relu"):
    return LayerHealth(name, act, 4, grad_norm, grad_norm, 1.0, update_ratio, dead, sat, ())


def test_warnings_in_plain_words():
    vanishing = (_layer("0", 1e-9), _layer("2", 1e-4), _layer("4", 1e-2))
    assert health_warnings(vanishing) == (
        "layer 1: gradients 1e-7 of the output layer's — vanishing",
    )
    healthy = (_layer("0", 0.5), _layer("2", 0.2), _layer("4", 0.1))
    assert health_warnings(healthy) == ()
    exploding = (_layer("0", 1e5), _layer("2", 1.0))
    assert "exploding" in health_warnings(exploding)[0]
    dead = (_layer("0", 0.1, dead=0.875), _layer("2", 0.1))
    assert health_warnings(dead) == ("layer 1: 88 % of units dead",)
    # the output layer's saturation is confident predictions: no warning
    sat = (_layer("0", 0.1, sat=0.9, act="tanh"), _layer("2", 0.1, sat=0.9, act="sigmoid"))
    assert health_warnings(sat) == (
        "layer 1: 90 % of units saturated — little gradient gets through",
    )
    assert "NaN" in health_warnings((_layer("0", math.nan), _layer("2", 1.0)))[0]


def test_update_ratios_warn_only_when_they_stay_out():
    big = (_layer("0", 0.1, update_ratio=0.5),)
    one = HealthReport(0, big)
    assert health_warnings(big, []) == ()
    assert health_warnings(big, [one]) == ()
    assert health_warnings(big, [one, one]) == (
        "layer 1: updates 0.5 of its weights a step — too large",
    )


def test_history_keeps_the_series_and_forgets_the_future():
    hist = History()
    t = _tracked(Trainer(get_scenario("spiral")))
    for _ in range(4):
        hist.snapshots.add(t.step(snapshot=True).snapshot)
    assert list(hist.health.steps) == [0, 1, 2, 3]
    steps, norms = hist.health.series("grad_norm")
    assert norms.shape == (4, 3) and np.isfinite(norms).all()
    assert hist.health.nearest_step(2.4) == 2 and hist.health.at(10).step == 3
    t.reset()  # the run went back: the steps after it go
    hist.snapshots.add(t.step(snapshot=True).snapshot)
    assert list(hist.health.steps) == [0]
    hist.clear()
    assert len(hist.health) == 0


def test_history_thins_old_reports():
    hh = HealthHistory(max_reports=10)
    for s in range(25):
        hh.add(HealthReport(s, ()))
    assert len(hh) <= 10 and hh.steps[0] == 0 and hh.steps[-1] == 24
    assert (np.diff(hh.steps) > 0).all()


def test_new_warnings_are_reported_when_they_start():
    hh = HealthHistory()
    assert hh.add(HealthReport(0, (), ("a",))) == ["a"]
    assert hh.add(HealthReport(1, (), ("a",))) == []
    assert hh.add(HealthReport(2, (), ("a", "b"))) == ["b"]


def test_the_demonstrations_are_scenarios():
    for sid in (*DEMOS, "deep-relu-kaiming"):
        assert SCENARIOS[sid].trainable


@pytest.mark.parametrize("scenario", ["vanishing-sigmoid", "dead-relu", "deep-relu-kaiming"])
def test_train_json_health(capsys, scenario):
    assert main(["train", scenario, "--steps", "40", "--json", "--threads", "1"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    health = result["health"]
    assert len(health["layers"]) == len(SCENARIOS[scenario].spec.sizes) - 1
    for layer in health["layers"]:
        assert {"grad_norm", "update_ratio"} <= set(layer)
        assert ("dead_fraction" in layer) == (layer["activation"] == "relu")
        assert ("saturated_fraction" in layer) == (layer["activation"] == "sigmoid")
    if scenario == "deep-relu-kaiming":
        assert health["warnings"] == []  # the healthy twin
    else:
        assert any(DEMOS[scenario] in w for w in health["warnings"]), health["warnings"]


def test_learning_rate_too_high_names_the_updates_when_the_loss_breaks(capsys):
    assert main(["train", "lr-too-high", "--json", "--threads", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("nnviz: error: the loss became")
    assert "too large" in err[0]
