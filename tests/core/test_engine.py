"""The training engine: OR-gate figures, snapshots against autograd, control,
reset, devices, optimizers and losses. Torch is the oracle."""

from __future__ import annotations

import copy
import math
import os
import sys
import threading
import time
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from nnviz.core.datasets import Dataset, synthetic_images, toy_2d
from nnviz.core.devices import lower_thread_priority
from nnviz.core.engine import TrainConfig, Trainer
from nnviz.core.errors import NnvizError
from nnviz.core.scenarios import get_scenario
from nnviz.core.training_parts import LOSSES, OPTIMIZERS, make_optimizer
from tests.factories import train_steps


def trainer(scenario_id: str, dataset: Dataset | None = None, **cfg) -> Trainer:
    sc = get_scenario(scenario_id)
    return Trainer(sc, TrainConfig.for_scenario(sc, **cfg), dataset=dataset)


def small_images(n: int = 96, size: int = 28) -> Dataset:
    x, y = synthetic_images(n + 32, (size, size), seed=3)
    return Dataset("tiny", x[:n], y[:n], x[n:], y[n:], (size, size), tuple("0123456789"))


# --- the OR gate (seed 001) ------------------------------------------------------------


@pytest.fixture(scope="module")
def or_gate_run():
    tr = trainer("or-gate")
    w0 = tr.model[0].weight.detach().clone()
    b0 = tr.model[0].bias.detach().clone()
    losses = [m.loss for m in train_steps(tr, steps=10_000)]
    return tr, w0, b0, np.array(losses)


def test_or_gate_starts_from_the_seeds_numpy_draws(or_gate_run):
    _, w0, b0, _ = or_gate_run
    np.testing.assert_allclose(w0.numpy(), [[0.417022, 0.720324]], atol=1e-6)
    np.testing.assert_allclose(b0.numpy(), [0.000114], atol=1e-6)


def test_or_gate_reproduces_the_seeds_figures(or_gate_run):
    tr, _, _, losses = or_gate_run
    assert len(losses) == 10_000 and tr.step_count == 10_000
    assert f"{losses[0]:.2e}" == "1.47e+00"  # the loss printed at step 0
    assert f"{losses[9000]:.2e}" == "2.14e-02"
    w = tr.model[0].weight.detach().numpy().ravel()
    np.testing.assert_allclose(w, [9.98578506, 9.98589032], atol=1e-6)
    assert tr.model[0].bias.item() == pytest.approx(-4.52752860, abs=1e-6)


def test_or_gate_agrees_with_the_numpy_twin_at_every_step(or_gate_run):
    reference = pytest.importorskip("nnviz.core.reference")
    tr, w0, b0, losses = or_gate_run
    twin = reference.or_gate_numpy_twin(steps=10_000)
    np.testing.assert_allclose(twin.initial_weights, w0.numpy().ravel(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(losses, twin.losses, rtol=0, atol=1e-9)
    for step, value in twin.logged.items():
        assert losses[step] == pytest.approx(value, abs=1e-9)
    np.testing.assert_allclose(
        tr.model[0].weight.detach().numpy().ravel(), twin.weights, rtol=0, atol=1e-9
    )
    assert tr.model[0].bias.item() == pytest.approx(twin.bias, abs=1e-9)


# --- snapshots: torch is the oracle ------------------------------------------------------


def autograd_oracle(model: nn.Module, loss_fn, x, y):
    """A separate forward/backward on a copy, every module output retained."""
    model = copy.deepcopy(model)
    outputs: dict[str, torch.Tensor] = {}

    def keep(name):
        def hook(_m, _inp, out):
            if out.requires_grad:  # not the Flatten of the input
                out.retain_grad()
            outputs[name] = out

        return hook

    handles = [
        m.register_forward_hook(keep(name))
        for name, m in model.named_modules()
        if name and not list(m.children())
    ]
    out = model(x)
    loss = loss_fn(out, y)
    loss.backward()
    for h in handles:
        h.remove()
    params = {n: p.detach().clone() for n, p in model.named_parameters()}
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters()}
    return outputs, loss.detach(), params, grads


def assert_snapshot_matches_autograd(tr: Trainer, row: int, via_step: bool) -> None:
    """The snapshot of the next batch (taken by a training step that was asked
    for one, or by ``snapshot()``) against autograd on a copy of the model."""
    x, y = tr.sample_batch()
    outputs, loss, params, grads = autograd_oracle(tr.model, tr.loss_fn, x, y)
    if via_step:
        tr.request_snapshot(sample_row=row)
        snap = tr.step().snapshot
        assert snap is not None
    else:
        snap = tr.snapshot(sample_row=row)
    assert snap.loss == pytest.approx(float(loss), rel=1e-6, abs=1e-9)
    assert snap.sample_row == row
    np.testing.assert_allclose(snap.input, x[row].reshape(-1).numpy(), rtol=0, atol=0)
    assert [ls.name for ls in snap.layers] == [layer.linear for layer in tr.layers]
    for layer, ls in zip(tr.layers, snap.layers, strict=True):
        z = outputs[layer.linear]
        a = outputs[layer.act] if layer.act is not None else z
        tol = dict(rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(ls.z, z[row].detach().numpy(), **tol)
        np.testing.assert_allclose(ls.a, a[row].detach().numpy(), **tol)
        np.testing.assert_allclose(ls.dz, z.grad[row].numpy(), **tol)
        np.testing.assert_allclose(ls.da, a.grad[row].numpy(), **tol)
        np.testing.assert_allclose(ls.a_mean, a.detach().mean(0).numpy(), **tol)
        np.testing.assert_allclose(ls.weight, params[f"{layer.linear}.weight"].numpy(), **tol)
        np.testing.assert_allclose(ls.weight_grad, grads[f"{layer.linear}.weight"].numpy(), **tol)
        np.testing.assert_allclose(ls.bias_grad, grads[f"{layer.linear}.bias"].numpy(), **tol)
    assert set(snap.params) == set(params) and set(snap.grads) == set(grads)
    for name in params:
        np.testing.assert_allclose(snap.params[name], params[name].numpy(), rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(snap.grads[name], grads[name].numpy(), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("via_step", [False, True])
def test_deep_mlp_snapshot_equals_autograd(via_step):
    tr = trainer("deep-mlp")
    tr.step()
    assert_snapshot_matches_autograd(tr, row=5, via_step=via_step)


@pytest.mark.parametrize("via_step", [False, True])
def test_relu_image_mlp_snapshot_equals_autograd(via_step):
    """Flatten + ReLU + cross-entropy (mnist-mlp's shape of network, narrower)."""
    tr = trainer("digits-mlp", dataset=small_images(size=8), batch_size=16, hidden=(12, 7))
    tr.step()
    assert_snapshot_matches_autograd(tr, row=3, via_step=via_step)


def test_snapshot_of_a_users_own_module_equals_autograd():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden = nn.Linear(2, 5)
            self.squash = nn.Tanh()
            self.out = nn.Linear(5, 1)
            self.prob = nn.Sigmoid()

        def forward(self, x):
            return self.prob(self.out(self.squash(self.hidden(x))))

    torch.manual_seed(0)
    sc = get_scenario("gauss")
    tr = Trainer(sc, TrainConfig.for_scenario(sc), model=Net())
    assert [(layer.linear, layer.activation) for layer in tr.layers] == [
        ("hidden", "tanh"),
        ("out", "sigmoid"),
    ]
    tr.step()
    assert_snapshot_matches_autograd(tr, row=2, via_step=True)


def test_snapshot_arrays_are_read_only_copies():
    tr = trainer("gauss", hidden=(3,))
    snap = tr.step(snapshot=True).snapshot
    arrays = [snap.input, snap.target, snap.output, *snap.params.values(), *snap.grads.values()]
    for ls in snap.layers:
        arrays += [ls.z, ls.a, ls.dz, ls.da, ls.weight, ls.bias, ls.weight_grad, ls.bias_grad]
    arrays += [snap.field.output, *snap.field.hidden]
    for arr in arrays:
        assert isinstance(arr, np.ndarray)
        assert not arr.flags.writeable
        with pytest.raises(ValueError):
            arr[(0,) * arr.ndim] = 1.0
    with pytest.raises(TypeError):
        snap.params["0.weight"] = np.zeros(1)  # type: ignore[index]
    # Copies: training on does not change what the views were handed.
    before = snap.params["0.weight"].copy()
    for _ in range(20):
        tr.step()
    np.testing.assert_array_equal(snap.params["0.weight"], before)
    assert not np.array_equal(tr.model[0].weight.detach().numpy(), before)


def test_snapshot_params_are_the_ones_that_produced_the_step():
    """A step's snapshot shows the weights its forward pass used, before the update."""
    tr = trainer("gauss", hidden=(3,))
    w_before = tr.model[0].weight.detach().clone().numpy()
    snap = tr.step(snapshot=True).snapshot
    np.testing.assert_array_equal(snap.params["0.weight"], w_before)
    assert snap.step == 0


def _hooks(model: nn.Module) -> int:
    return sum(
        len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
        for m in model.modules()
    )


def test_unwatched_steps_install_no_hooks(monkeypatch):
    tr = trainer("spiral")
    installed = []
    real = nn.Module.register_forward_hook

    def spy(self, *a, **k):
        installed.append(self)
        return real(self, *a, **k)

    monkeypatch.setattr(nn.Module, "register_forward_hook", spy)
    for _ in range(5):
        assert tr.step().snapshot is None
    assert installed == []
    assert tr.step(snapshot=True).snapshot is not None
    assert installed  # hooks only for the watched step ...
    assert _hooks(tr.model) == 0  # ... and removed after it
    tr.snapshot()
    tr.decision_field()
    assert _hooks(tr.model) == 0
    installed.clear()
    tr.step()
    assert installed == [] and _hooks(tr.model) == 0


def test_request_snapshot_from_another_thread_is_served_on_the_next_step():
    tr = trainer("xor")
    t = threading.Thread(target=tr.request_snapshot, args=(4,))
    t.start()
    t.join()
    m = tr.step()
    assert m.snapshot is not None and m.snapshot.sample_row == 4
    assert tr.step().snapshot is None  # one request, one snapshot


def test_snapshot_without_update_leaves_the_model_alone():
    tr = trainer("xor")
    before = {n: p.detach().clone() for n, p in tr.model.named_parameters()}
    snap = tr.snapshot(sample_row=1)
    assert snap.step == 0 and tr.step_count == 0
    for n, p in tr.model.named_parameters():
        torch.testing.assert_close(p.detach(), before[n], rtol=0, atol=0)


def test_decision_field_is_the_model_on_a_grid():
    tr = trainer("circle")
    train_steps(tr, steps=50)
    f = tr.decision_field(res=16)
    x0, x1, y0, y1 = f.extent
    assert f.output.shape == (16, 16)
    # the hidden units' thumbnails: every other grid point (8 neurons, 8 x 8)
    assert len(f.hidden) == len(tr.layers) - 1 and f.hidden[0].shape == (8, 8, 8)
    with torch.no_grad():
        corner = tr.model(torch.tensor([[x1, y0]], dtype=torch.float32))  # row 0 = y0
        x_at = np.linspace(x0, x1, 16)[::2][3]  # column 3 of the thumbnail
        first = tr.model[1](tr.model[0](torch.tensor([[x_at, y0]], dtype=torch.float32)))
    assert f.output[0, -1] == pytest.approx(corner.item(), abs=1e-6)
    np.testing.assert_allclose(f.hidden[0][:, 0, 3], first[0].numpy(), atol=1e-6)


# --- reset ---------------------------------------------------------------


def wait_for(cond, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.005)
    return False


def test_reset_gives_the_same_start():
    tr = trainer("spiral")
    first = [m.loss for m in train_steps(tr, steps=30)]
    start = {n: p.detach().clone() for n, p in trainer("spiral").model.named_parameters()}
    tr.reset()
    assert tr.step_count == 0 and tr.epoch == 0
    for n, p in tr.model.named_parameters():
        torch.testing.assert_close(p.detach(), start[n], rtol=0, atol=0)
    assert [m.loss for m in train_steps(tr, steps=30)] == first


def test_reset_restores_a_users_own_model():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1), nn.Sigmoid())
    sc = get_scenario("xor")
    tr = Trainer(sc, TrainConfig.for_scenario(sc), model=model)
    start = copy.deepcopy(model.state_dict())
    first = [m.loss for m in train_steps(tr, steps=10)]
    tr.reset()
    for k, v in tr.model.state_dict().items():
        torch.testing.assert_close(v, start[k], rtol=0, atol=0)
    assert [m.loss for m in train_steps(tr, steps=10)] == first


@pytest.mark.parametrize("own_model", [False, True])
def test_a_fork_keeps_the_trained_model_through_a_reset_and_trains_on(own_model):
    sc = get_scenario("xor")
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1), nn.Sigmoid())
    tr = Trainer(sc, TrainConfig.for_scenario(sc), model=model if own_model else None)
    for _ in train_steps(tr, steps=15):
        pass
    trained = copy.deepcopy(tr.model.state_dict())
    kept = tr.fork()
    tr.reset()  # a user's own model is reloaded in place: the fork must not see it
    assert kept.step_count == 15 and tr.step_count == 0
    for k, v in kept.model.state_dict().items():
        torch.testing.assert_close(v, trained[k], rtol=0, atol=0)
    # the fork's optimizer still drives the fork's own parameters
    before = {k: v.clone() for k, v in kept.model.state_dict().items()}
    kept.step()
    assert any(not torch.equal(v, before[k]) for k, v in kept.model.state_dict().items())


def test_periodic_evaluation_at_a_fixed_cadence_and_off():
    tr = trainer("gauss", eval_every=5)
    evals = [m.eval for m in train_steps(tr, steps=12)]
    assert [e is not None for e in evals] == [(i + 1) % 5 == 0 for i in range(12)]
    assert evals[4].step == 5 and 0 <= evals[4].val_accuracy <= 1
    tr = trainer("gauss", eval_every=-1)
    assert all(m.eval is None for m in train_steps(tr, steps=30))


def test_evaluate_reports_loss_and_accuracy_on_both_sets():
    tr = trainer("gauss")
    train_steps(tr, epochs=5)
    ev = tr.evaluate()
    with torch.no_grad():
        out = tr.model(tr.x_val)
        val_loss = float(tr.loss_fn(out, tr.y_val))
        val_acc = float(((out > 0.5) == (tr.y_val > 0.5)).float().mean())
    assert ev.val_loss == pytest.approx(val_loss, rel=1e-5)
    assert ev.val_accuracy == pytest.approx(val_acc)
    assert ev.train_accuracy > 0.9


def test_sample_batch_is_the_batch_the_next_step_trains_on():
    tr = trainer("xor")
    x, y = tr.sample_batch()
    expected = tr.loss_fn(tr.model(x), y).item()
    assert tr.step().loss == pytest.approx(expected, rel=1e-6)


# --- devices, optimizers, losses ------------------------------------------------------------


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_cuda_asked_for_and_absent_is_a_clear_error(device):
    with pytest.raises(NnvizError, match=r"CUDA.*--device cpu"):
        trainer("xor", device=device)


def test_auto_and_cpu_devices_train():
    for device in ("auto", "cpu"):
        tr = trainer("xor", device=device)
        assert tr.step().loss > 0
        assert tr.device.type in ("cpu", "cuda")


def test_unknown_device_is_a_clear_error():
    with pytest.raises(NnvizError, match="unknown device 'tpu'"):
        trainer("xor", device="tpu")


@pytest.mark.parametrize("name", sorted(set(OPTIMIZERS) - {"sparseadam"}))
def test_every_seed_optimizer_trains_a_step(name):
    tr = trainer("gauss", optimizer=name, lr=0.05)
    before = [p.detach().clone() for p in tr.model.parameters()]
    losses = [m.loss for m in train_steps(tr, steps=3)]
    assert all(math.isfinite(v) for v in losses)
    assert any(not torch.equal(a, p.detach()) for a, p in zip(before, tr.model.parameters()))


def test_sparse_adam_is_refused_with_the_reason():
    with pytest.raises(NnvizError, match=r"SparseAdam only works on sparse gradients.*Adam"):
        trainer("gauss", optimizer="sparseadam")


def test_sparse_adam_works_where_gradients_are_sparse():
    model = nn.Embedding(10, 3, sparse=True)
    opt = make_optimizer("sparseadam", model, 0.1)
    model(torch.tensor([1, 2])).sum().backward()
    opt.step()


def test_unknown_optimizer_is_a_clear_error():
    with pytest.raises(NnvizError, match="unknown optimizer 'lbfgs'"):
        trainer("gauss", optimizer="lbfgs")


@pytest.mark.parametrize("loss", ["mse", "half_mse", "half_sse", "l1_mean", "l1_sum", "bce"])
def test_every_loss_trains_a_one_output_model(loss):
    tr = trainer("gauss", loss=loss)
    losses = [m.loss for m in train_steps(tr, steps=60)]
    assert all(math.isfinite(v) for v in losses)
    assert tr.evaluate().val_accuracy > 0.8


def test_cross_entropy_trains_a_class_score_model():
    tr = trainer("digits-mlp", dataset=small_images(size=8), loss="cross_entropy")
    losses = [m.loss for m in train_steps(tr, steps=20)]
    assert losses[-1] < losses[0]


@pytest.mark.parametrize(
    ("scenario", "loss", "message"),
    [
        ("gauss", "cross_entropy", "cross-entropy needs one output per class"),
        ("digits-mlp", "bce", "binary cross-entropy needs one probability output"),
        ("digits-mlp", "mse", "for classes use cross-entropy"),
        ("digits-mlp", "l1_sum", "for classes use cross-entropy"),
        ("digits-mlp", "half_sse", "for classes use cross-entropy"),
    ],
)
def test_loss_that_does_not_fit_the_model_is_a_clear_error(scenario, loss, message):
    ds = small_images(size=8) if scenario == "digits-mlp" else None
    with pytest.raises(NnvizError, match=message):
        trainer(scenario, dataset=ds, loss=loss)


def test_every_loss_is_covered():
    assert set(LOSSES) == {
        "mse",
        "half_mse",
        "half_sse",
        "l1_mean",
        "l1_sum",
        "bce",
        "cross_entropy",
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (dict(lr=0.0), "learning rate must be a positive number"),
        (dict(lr=float("nan")), "learning rate must be a positive number"),
        (dict(batch_size=0), "batch size must be between 1"),
        (dict(loss="hinge"), "unknown loss 'hinge'"),
        (dict(seed=-1), "seed must be a whole number"),
    ],
)
def test_bad_settings_are_clear_errors(change, message):
    sc = get_scenario("xor")
    with pytest.raises(NnvizError, match=message):
        Trainer(sc, replace(TrainConfig.for_scenario(sc), **change))


def test_expression_scenarios_are_not_trainable():
    with pytest.raises(NnvizError, match="expression, not a trainable model"):
        trainer("chain-rule")


def test_batches_cover_the_training_set_once_an_epoch():
    ds = toy_2d("xor", n_samples=40, seed=0)  # 20 training points
    tr = trainer("xor", dataset=ds, batch_size=6)
    assert tr.steps_per_epoch == 4
    rows = []
    for _ in range(4):
        x, _ = tr.sample_batch()
        rows += [tuple(r) for r in x.numpy().tolist()]
        tr.step()
    assert tr.epoch == 1
    assert sorted(rows) == sorted(tuple(r) for r in ds.x_train.tolist())


def test_automatic_evaluation_follows_training_time_and_idle_stepping(monkeypatch):
    import nnviz.core.engine as engine

    monkeypatch.setattr(engine, "EVAL_MIN_INTERVAL", 0.0)
    monkeypatch.setattr(engine, "EVAL_SHARE", 0.1)  # a tenth of the training time
    tr = trainer("gauss")
    evals = [m.eval for m in train_steps(tr, steps=100)]
    assert 2 <= sum(e is not None for e in evals) <= 50
    # Stepping by hand (mostly waiting): one evaluation per step once the idle interval passed.
    monkeypatch.setattr(engine, "EVAL_MIN_INTERVAL", 1e9)
    monkeypatch.setattr(engine, "EVAL_IDLE_INTERVAL", 0.01)
    tr = trainer("gauss")
    got = []
    for _ in range(3):
        time.sleep(0.03)
        got.append(tr.step().eval)
    assert all(e is not None for e in got) and [e.step for e in got] == [1, 2, 3]


def test_snapshot_arrays_held_by_a_view_never_change():
    """Snapshot buffers are reused only once nothing refers to them."""
    tr = trainer("spiral")
    first = tr.step(snapshot=True).snapshot
    view = first.params["2.weight"][:3, :4]  # a view keeps the buffer alive
    grad_view = first.grads["2.weight"].T
    expected, expected_grad = view.copy(), grad_view.copy()
    held = tr.step(snapshot=True).snapshot
    held_w = held.params["0.weight"].copy()
    del first
    for _ in range(8):
        tr.step()
        tr.step(snapshot=True)
    np.testing.assert_array_equal(view, expected)
    np.testing.assert_array_equal(grad_view, expected_grad)
    np.testing.assert_array_equal(held.params["0.weight"], held_w)
    assert not view.flags.writeable and not held.params["0.weight"].flags.writeable


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread niceness is Linux's")
def test_lower_thread_priority_affects_only_the_calling_thread():
    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    seen = {}

    def worker():
        tid = threading.get_native_id()
        seen["ok"] = lower_thread_priority(3)
        seen["nice"] = os.getpriority(os.PRIO_PROCESS, tid)

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen["ok"] and seen["nice"] == min(19, before + 3)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before
