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


# --- the preset: Playground's algorithm, and the figures it reaches ---------------------

NEED = {"circle": 0.95, "xor": 0.95, "gauss": 0.99}  # test accuracy by epoch 100, noise 0
SEEDS = range(5)


def _playground_update(ws, bs, x, t, lr=0.03):
    """One update as Playground's nn.ts makes it (float64 numpy): tanh everywhere,
    dE/dout = out - t for E = ½(out - t)², the derivatives summed over the batch
    and divided by its size, then ``w -= lr · mean``. Returns the batch's mean E."""
    acts = [x]
    for w, b in zip(ws, bs):
        acts.append(np.tanh(acts[-1] @ w.T + b))
    d = (acts[-1] - t) * (1 - acts[-1] ** 2)  # dE/d(total input), per example
    for i in range(len(ws) - 1, -1, -1):
        below = (d @ ws[i]) * (1 - acts[i] ** 2) if i else None
        ws[i] -= lr * d.T @ acts[i] / len(x)
        bs[i] -= lr * d.mean(0)
        d = below
    return float(np.mean(0.5 * (acts[-1] - t) ** 2))


def _playground_run(ds, seed, epochs=100) -> float:
    """Playground's whole algorithm on ``ds`` (its units, labels 0/1 -> ±1): weights
    uniform in [-0.5, 0.5], biases 0.1, the training points in their fixed order in
    batches of 10, ``epochs`` passes; the test accuracy (sign of the output)."""
    rng = np.random.default_rng(1000 + seed)
    sizes = (2, 4, 2, 1)
    ws = [rng.uniform(-0.5, 0.5, (o, i)) for i, o in zip(sizes, sizes[1:])]
    bs = [np.full(o, 0.1) for o in sizes[1:]]
    x, t = ds.x_train.astype(float), 2.0 * ds.y_train - 1
    for _ in range(epochs):
        for s in range(0, len(x), 10):
            _playground_update(ws, bs, x[s : s + 10], t[s : s + 10])
    out = ds.x_val.astype(float)
    for w, b in zip(ws, bs):
        out = np.tanh(out @ w.T + b)
    return float(((out >= 0) == (ds.y_val > 0.5)).mean())


def test_preset_is_playgrounds_data_init_and_update():
    t = _preset("circle")
    cfg = t.config
    assert (cfg.lr, cfg.batch_size, cfg.optimizer, cfg.noise) == (0.03, 10, "sgd", 0)
    assert cfg.loss == "half_mse"  # named what it is: ½·MSE (mean), on labels ±1
    assert [lay.width for lay in t.layers] == [4, 2, 1]
    assert isinstance(t.model[1], torch.nn.Tanh) and isinstance(t.model[-1], torch.nn.Tanh)
    # Playground's 500 points in its own units (circle: radius 5), half for training
    x = np.concatenate([t.dataset.x_train, t.dataset.x_val])
    assert (len(t.dataset.x_train), len(t.dataset.x_val)) == (250, 250)
    assert 4.9 < np.linalg.norm(x, axis=1).max() <= 5.0
    # its start: weights uniform in [-0.5, 0.5], biases 0.1
    lins = [m for m in t.model if isinstance(m, torch.nn.Linear)]
    ws = [m.weight.detach().double().numpy().copy() for m in lins]
    bs = [m.bias.detach().double().numpy().copy() for m in lins]
    flat = np.concatenate([w.ravel() for w in ws])
    assert np.abs(flat).max() <= 0.5 and flat.std() > 0.2
    assert all(np.all(b == np.float32(0.1)) for b in bs)
    # three updates: the engine's steps are Playground's, loss and parameters
    for _ in range(3):
        xb, yb = (v.double().numpy() for v in t.sample_batch())
        want = _playground_update(ws, bs, xb, 2 * yb - 1)
        assert t.step().loss == pytest.approx(want, rel=1e-5)
        for m, w, b in zip(lins, ws, bs):
            np.testing.assert_allclose(m.weight.detach().numpy(), w, atol=1e-6)
            np.testing.assert_allclose(m.bias.detach().numpy(), b, atol=1e-6)
    _, yb = t.sample_batch()
    snap = t.snapshot()  # the views show the target the loss compares with: ±1
    assert snap.target[0] == 2 * float(yb[snap.sample_row, 0]) - 1 and abs(snap.target[0]) == 1
    # the classes split where the tanh output crosses 0 (Playground's colours)
    with torch.no_grad():
        out = t.model(t.x_val)
    acc = float(((out > 0) == (t.y_val > 0.5)).float().mean())
    assert t.evaluate().val_accuracy == pytest.approx(acc)
    assert np.array_equal(t.predict(t.dataset.x_val), (out[:, 0] > 0).long().numpy())


def test_another_loss_after_the_preset_is_that_loss():
    """Choosing BCE with a sigmoid output after the preset: that loss on 0/1 labels,
    the classes split at 0.5 (the preset keeps only its data and its start)."""
    sc = get_scenario("xor")
    t = _trainer("xor", **{**preset_overrides("playground", sc), "loss": "bce"})
    t2 = _trainer("xor", **{**preset_overrides("playground", sc), "output_activation": "sigmoid"})
    t3 = _trainer("xor", **{**preset_overrides("playground", sc), "loss": "mse"})  # real MSE
    assert isinstance(t3.loss_fn, torch.nn.MSELoss) and t3.snapshot().target[0] in (0.0, 1.0)
    for tr in (t, t2, t3):
        assert not isinstance(tr.loss_fn, type(_preset("xor").loss_fn))
    t = _trainer(
        "xor",
        **{**preset_overrides("playground", sc), "loss": "bce", "output_activation": "sigmoid"},
    )
    x, y = t.sample_batch()
    with torch.no_grad():
        want = torch.nn.functional.binary_cross_entropy(t.model(x), y)
        assert float(t.loss_fn(t.model(x), y)) == pytest.approx(float(want))
        out = t.model(t.x_val)
    assert t.evaluate().val_accuracy == pytest.approx(
        float(((out > 0.5) == (t.y_val > 0.5)).float().mean())
    )


@pytest.mark.slow
@pytest.mark.parametrize("sid", ["circle", "xor", "gauss"])
def test_preset_reaches_what_playground_reaches(sid):
    """Five seeds (five data sets and starts) each. Playground's own algorithm does
    not reach the figures from every start: its 4-2 tanh network sometimes stalls
    on circle (16 of 20 seeds reach 95 %, measured with _playground_run; xor 19 of
    20; gauss 20 of 20). The preset must do at least as well as Playground on the
    same five data sets, and reach the figures on at least 4 of 5 seeds."""
    sc = get_scenario(sid)
    need = NEED[sid]
    got, ref = [], []
    for seed in SEEDS:
        t = _trainer(sid, seed=seed, **preset_overrides("playground", sc))
        while t.epoch < 100:
            t.step()
        got.append(t.evaluate().val_accuracy)
        ref.append(_playground_run(t.dataset, seed))
    reached, ref_reached = sum(a >= need for a in got), sum(a >= need for a in ref)
    assert reached >= max(ref_reached, 4), (got, ref)
    assert np.median(got) >= need


@pytest.mark.slow
def test_preset_through_the_cli(tmp_path):
    """`nnviz train circle --preset playground --epochs 100 --json`: what users run."""
    import json
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "nnviz", "train", "circle", "--preset", "playground"]
    res = subprocess.run(
        [*cmd, "--epochs", "100", "--json"], capture_output=True, text=True, check=True
    )
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert (out["epochs"], out["steps"]) == (100, 2500)  # 250 training points, batches of 10
    assert out["metrics"]["val_accuracy"] >= 0.95
    assert out["data_note"].startswith("circle: 500 points, noise 0")


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
