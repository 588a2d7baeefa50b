"""TensorFlow Playground's controls (issue 11): the preset, features, L1/L2,
noise and test ratio, and a weight edited by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnviz.core import run as R
from nnviz.core.engine import TrainConfig, Trainer
from nnviz.core.errors import NnvizError
from nnviz.core.features import apply_features, parse_features, preset_overrides
from nnviz.core.scenarios import get_scenario


def _trainer(sid: str, **overrides) -> Trainer:
    sc = get_scenario(sid)
    return Trainer(sc, TrainConfig.for_scenario(sc, eval_every=-1, **overrides))


def _preset(sid: str) -> Trainer:
    return _trainer(sid, **preset_overrides("playground", get_scenario(sid)))


@pytest.mark.parametrize(("sid", "need"), [("circle", 0.95), ("xor", 0.95), ("gauss", 0.99)])
def test_preset_reaches_playground_figures(sid, need):
    t = _preset(sid)
    assert t.config.noise == 0 and t.config.batch_size == 10 and t.config.optimizer == "sgd"
    assert [lay.width for lay in t.layers] == [4, 2, 1]
    assert isinstance(t.model[-1], torch.nn.Tanh)  # tanh output
    while t.epoch < 100:
        t.step()
    assert t.evaluate().val_accuracy >= need


def test_defaults_change_no_scenario():
    sc = get_scenario("circle")
    plain = Trainer(sc, TrainConfig.for_scenario(sc))
    assert plain.dataset is plain.raw_dataset and plain.dataset.input_shape == (2,)
    assert plain._train_loss is plain.loss_fn
    assert plain.spec == sc.spec


@pytest.mark.parametrize("kind", ["l1", "l2"])
def test_regularised_loss_is_plain_loss_plus_rate_times_penalty(kind):
    rate = 0.01
    t = _trainer("circle", reg=kind, reg_rate=rate, hidden=(5, 3))
    t.model.double()
    x, y = t.sample_batch()
    x, y = x.double(), y.double()
    got = t._train_loss(t.model(x), y)
    plain = torch.nn.functional.binary_cross_entropy(t.model(x), y)
    ws = [m.weight for m in t.model if isinstance(m, torch.nn.Linear)]
    pen = sum(w.abs().sum() for w in ws) if kind == "l1" else sum((w**2).sum() for w in ws)
    assert float(got.detach()) == pytest.approx(float((plain + rate * pen).detach()), rel=1e-12)
    # the biases are not penalised: their gradient is the plain loss's
    got.backward()
    b = t.model[0].bias
    want = torch.autograd.grad(torch.nn.functional.binary_cross_entropy(t.model(x), y), b)[0]
    assert torch.allclose(b.grad, want)
    # evaluation reports the plain loss
    assert t.loss_fn is not t._train_loss


def test_features_computed_and_used_by_the_decision_field():
    feats = parse_features("sinx2, x1sq,x1x2,x2sq,sinx1")
    assert feats == ("x1sq", "x2sq", "x1x2", "sinx1", "sinx2")
    x = np.array([[0.5, -2.0], [1.0, 3.0]], np.float32)
    got = apply_features(x, feats)
    want = [[0.5, -2.0, 0.25, 4.0, -1.0, np.sin(0.5), np.sin(-2.0)]]
    np.testing.assert_allclose(got[:1], want, rtol=1e-6)
    with pytest.raises(NnvizError):
        parse_features("x3")
    t = _trainer("circle", features=("x1sq", "x2sq"))
    assert t.dataset.input_shape == (4,) and t.model[0].in_features == 4
    np.testing.assert_allclose(t.dataset.x_train[:, 2], t.raw_dataset.x_train[:, 0] ** 2)
    # the field is the model over the grid's points with the same features
    field = t.decision_field(res=8)
    x0, x1, y0, y1 = field.extent
    gx, gy = np.meshgrid(np.linspace(x0, x1, 8), np.linspace(y0, y1, 8))
    grid = np.stack([gx.ravel(), gy.ravel()], 1)
    with torch.no_grad():
        out = t.model(torch.as_tensor(apply_features(grid, t.config.features), dtype=torch.float32))
    np.testing.assert_allclose(np.asarray(field.output).ravel(), out[:, 0].numpy(), rtol=1e-5)


def test_noise_and_test_ratio_change_the_data():
    t = _trainer("circle", test_ratio=0.3, noise=0.0)
    assert (len(t.dataset.x_train), len(t.dataset.x_val)) == (280, 120)
    x = np.concatenate([t.dataset.x_train, t.dataset.x_val])
    y = np.concatenate([t.dataset.y_train, t.dataset.y_val]).ravel()
    r = np.linalg.norm(x, axis=1)
    assert ((r < 0.5) == (y == 1)).all()  # noise 0: every label is its ring's
    noisy = _trainer("circle", noise=0.5)
    xn = np.concatenate([noisy.dataset.x_train, noisy.dataset.x_val])
    yn = np.concatenate([noisy.dataset.y_train, noisy.dataset.y_val]).ravel()
    assert ((np.linalg.norm(xn, axis=1) < 0.5) != (yn == 1)).sum() > 20  # labels flipped
    with pytest.raises(NnvizError):
        _trainer("digits-mlp", noise=0.1)


def test_set_weight_changes_one_weight_and_undo_restores_it():
    sc = get_scenario("circle")
    run = R.Run()
    run.submit(R.Configure(sc, TrainConfig.for_scenario(sc)))
    list(run.run_until_idle())
    before = {k: v.clone() for k, v in run.trainer.model.state_dict().items()}
    run.submit(R.SetWeight("0", 2, 1, 1.25))
    events = list(run.run_until_idle())
    after = run.trainer.model.state_dict()
    for k in before:
        diff = (before[k] != after[k]).nonzero().tolist()
        assert diff == ([[2, 1]] if k == "0.weight" else [])
    assert float(after["0.weight"][2, 1]) == 1.25
    snaps = [e.snapshot for e in events if isinstance(e, R.SnapshotReady)]
    assert snaps and float(snaps[-1].params["0.weight"][2, 1]) == 1.25  # the views see it
    run.submit(R.Undo())
    list(run.run_until_idle())
    for k, v in run.trainer.model.state_dict().items():
        assert torch.equal(v, before[k])
    run.submit(R.Redo())
    list(run.run_until_idle())
    assert float(run.trainer.model.state_dict()["0.weight"][2, 1]) == 1.25
