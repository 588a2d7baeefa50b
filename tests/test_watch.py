"""``nnviz.watch``: two lines in a user's loop record a run folder; hooks live
only for the recording steps; what it records is what torch computed."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import nnviz
from nnviz.core.errors import NnvizError
from nnviz.core.runfolder import RunReader, open_run

ROOT = Path(__file__).resolve().parents[1]


def tiny(dtype=torch.float32) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2)
    ).to(dtype)


def data(n: int, dtype=torch.float32):
    g = torch.Generator().manual_seed(1)
    return [(torch.randn(6, 3, generator=g, dtype=dtype), torch.randint(0, 2, (6,), generator=g))
            for _ in range(n)]  # fmt: skip


def hooks_on(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def train(model, probe, batches, seen_hooks=None):
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for x, y in batches:
        if seen_hooks is not None:
            seen_hooks.append(hooks_on(model))
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        probe.log(loss=loss, lr=0.1)


def test_with_block_records_a_complete_run_and_hooks_only_on_recording_steps(tmp_path):
    model = tiny()
    seen: list[int] = []
    with nnviz.watch(model, tmp_path / "run", every=4, snapshot_duty=None) as probe:
        train(model, probe, data(10), seen)
    assert hooks_on(model) == 0  # nothing left behind
    assert [h > 0 for h in seen] == [s % 4 == 0 for s in range(10)]
    r = RunReader(tmp_path / "run")
    assert r.complete
    assert [m["step"] for m in r.metrics()] == list(range(10))
    assert r.snapshot_steps() == [0, 4, 8]
    assert r.meta["source"] == "nnviz.watch" and r.meta["every"] == 4
    assert [layer["name"] for layer in r.meta["layers"]] == ["0", "2", "4"]
    assert r.metric_names() == ["loss", "lr"]


def test_without_with_and_given_steps(tmp_path):
    model = tiny()
    probe = nnviz.watch(model, tmp_path / "run", every=5, snapshot_duty=None)
    x, y = data(1)[0]
    for step in (100, 101, 105):  # steps given by the user
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        probe.log(step=step, loss=loss.item())
    probe.log(loss=0.5)  # counted on from the last given step: 106
    assert not RunReader(tmp_path / "run").complete
    probe.close()
    probe.close()  # twice is fine
    r = RunReader(tmp_path / "run")
    assert r.complete and [m["step"] for m in r.metrics()] == [100, 101, 105, 106]
    # step 0 was armed, so the first logged step (100, a recording step) takes
    # that capture; 105 was not armed (log(step=101) armed 102): no snapshot
    assert r.snapshot_steps() == [100]
    assert hooks_on(model) == 0
    with pytest.raises(NnvizError, match="closed"):
        probe.log(loss=1.0)


def test_recorded_values_equal_torch(tmp_path):
    """Step 3's snapshot holds z, a, dL/dz, dL/da of row 0, the weights the
    forward used and the gradients, as torch computes them (float64)."""
    model = tiny(torch.float64)
    batches = data(5, torch.float64)
    with nnviz.watch(model, tmp_path / "run", every=3, snapshot_duty=None) as probe:
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for step, (x, y) in enumerate(batches):
            if step == 3:  # the oracle: the same forward, with retain_grad
                ref = {k: v.detach().clone() for k, v in model.state_dict().items()}
                with torch.no_grad():  # an evaluation forward first: not what is recorded
                    model(x * 0)
                zs: list[torch.Tensor] = []

                def keep(_m, _i, out, zs=zs):
                    out.retain_grad()
                    zs.append(out)

                handles = [m.register_forward_hook(keep) for m in model]
                h = model(x)
                for handle in handles:
                    handle.remove()
                loss = loss3 = nn.functional.cross_entropy(h, y)
                opt.zero_grad()
                loss.backward()
                want_grads = {n: p.grad.clone() for n, p in model.named_parameters()}
            else:
                loss = nn.functional.cross_entropy(model(x), y)
                opt.zero_grad()
                loss.backward()
            opt.step()
            probe.log(loss=loss)
    snap = RunReader(tmp_path / "run").snapshot(3)
    assert snap.loss == float(loss3.detach())
    np.testing.assert_array_equal(snap.input, batches[3][0][0].numpy())
    assert snap.input_shape == (3,)
    np.testing.assert_allclose(snap.output, zs[-1][0].detach().numpy(), rtol=1e-12)
    pairs = [(0, 1, "tanh"), (2, 3, "relu"), (4, None, "linear")]
    for layer, (zi, ai, act) in zip(snap.layers, pairs, strict=True):
        assert layer.activation == act
        z, a = zs[zi], zs[ai] if ai is not None else zs[zi]
        np.testing.assert_allclose(layer.z, z[0].detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(layer.a, a[0].detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(layer.dz, z.grad[0].numpy(), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(layer.da, a.grad[0].numpy(), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(layer.a_mean, a.detach().mean(0).numpy(), rtol=1e-12)
        np.testing.assert_allclose(layer.a_std, a.detach().std(0).numpy(), rtol=1e-10)
        np.testing.assert_array_equal(layer.weight, ref[f"{layer.name}.weight"].numpy())
        np.testing.assert_array_equal(layer.weight_grad, want_grads[f"{layer.name}.weight"].numpy())
        np.testing.assert_array_equal(layer.bias_grad, want_grads[f"{layer.name}.bias"].numpy())
    for name, w in ref.items():  # the weights before the update, not after
        np.testing.assert_array_equal(snap.params[name], w.numpy())
    assert snap.layers[1].dead_fraction == pytest.approx(float((zs[3] == 0).double().mean()))


def test_log_takes_tensors_and_numbers_only(tmp_path):
    model = tiny()
    with nnviz.watch(model, tmp_path / "run", every=100) as probe:
        probe.log(loss=torch.tensor(0.25), acc=np.float32(0.5), n=3)
        with pytest.raises(NnvizError, match="one number"):
            probe.log(loss=torch.ones(3))
        with pytest.raises(NnvizError, match="takes a number"):
            probe.log(loss="low")
    assert RunReader(tmp_path / "run").metrics()[0] == {"step": 0, "loss": 0.25, "acc": 0.5, "n": 3}
    with pytest.raises(NnvizError, match="every must be"):
        nnviz.watch(model, tmp_path / "r2", every=0)
    with pytest.raises(NnvizError, match="nn.Module"):
        nnviz.watch(lambda x: x, tmp_path / "r3")


def test_accelerator_metrics_are_converted_together_not_every_step(tmp_path, monkeypatch):
    """A loss on an accelerator is kept and converted with the others (one
    device sync for many steps, none on the steps between); what reaches the
    run folder is what ``.item()`` gives, in step order, all of it by close.
    (No accelerator here: CPU tensors are taken for one.)"""
    watch_module = importlib.import_module("nnviz.watch")  # (nnviz.watch: the function)
    monkeypatch.setattr(watch_module, "_deferred", lambda t: True)
    monkeypatch.setattr(watch_module, "DEFER_S", 1e9)  # (a slow machine: no early flush)
    syncs = []
    real_stack = torch.stack
    monkeypatch.setattr(torch, "stack", lambda ts, *a, **k: syncs.append(len(ts)) or
                        real_stack(ts, *a, **k))  # fmt: skip
    model = tiny()
    losses = []
    with nnviz.watch(model, tmp_path / "run", every=5, snapshot_duty=None) as probe:
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for x, y in data(12):
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            probe.log(loss=loss, right=(loss > 0), lr=0.1)
            losses.append(loss.item())
        assert len(probe._metrics.pending) == 1  # step 11 waits for close
    r = RunReader(tmp_path / "run")
    assert [m["step"] for m in r.metrics()] == list(range(12))
    assert [m["loss"] for m in r.metrics()] == losses
    assert all(m["right"] == 1.0 and m["lr"] == 0.1 for m in r.metrics())
    # converted at the recording steps 0, 5, 10 and at close, (loss, right) each
    assert syncs == [1, 1, 5, 5, 5, 5, 1, 1]
    assert r.snapshot(5).loss == losses[5]


def test_tensorboard_too(tmp_path):
    model = tiny()
    with nnviz.watch(
        model, tmp_path / "run", every=2, tensorboard=True, snapshot_duty=None
    ) as probe:
        train(model, probe, data(4))
    tb = open_run(tmp_path / "run" / "tensorboard")
    assert tb.format == "tensorboard"
    steps, losses = tb.series("loss")
    want_steps, want = RunReader(tmp_path / "run").series("loss")
    assert steps.tolist() == want_steps.tolist()
    np.testing.assert_allclose(losses, want, rtol=1e-6)
    assert "weights/0.weight" in tb.histogram_tags() and "grads/4.bias" in tb.histogram_tags()
    assert [h.step for h in tb.histograms("weights/0.weight")] == [0, 2]


def test_import_nnviz_stays_light():
    code = "import sys, nnviz; assert 'torch' not in sys.modules; print(callable(nnviz.watch))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"


def test_any_module_is_recorded_as_blocks(tmp_path):
    """A conv net (not a Linear chain): each module call is a block whose
    statistics are torch's."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 4 * 4, 2))
    x, y = torch.randn(4, 1, 6, 6), torch.tensor([0, 1, 1, 0])
    with nnviz.watch(model, tmp_path / "run", every=1, snapshot_duty=None) as probe:
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        probe.log(loss=loss)
    snap = RunReader(tmp_path / "run").snapshot(0)
    blocks = {b.name: b for b in snap.blocks}
    assert {"0", "1", "2", "3"} <= set(blocks)
    conv_out = model[0](x).detach()
    np.testing.assert_allclose(blocks["0"].act.mean, float(conv_out.mean()), rtol=1e-5)
    np.testing.assert_allclose(blocks["0"].maps, conv_out[0].numpy(), rtol=1e-6)
    assert blocks["0"].grad is not None and blocks["1"].dead_fraction is not None
    assert snap.input_shape == (1, 6, 6) and [la.name for la in snap.layers] == ["3"]


def test_a_loop_that_raises_leaves_a_readable_run_not_marked_complete(tmp_path):
    model = tiny()
    with (
        pytest.raises(RuntimeError, match="diverged"),
        nnviz.watch(model, tmp_path / "run", every=2) as probe,
    ):
        train(model, probe, data(3))
        raise RuntimeError("diverged")
    r = RunReader(tmp_path / "run")
    assert [m["step"] for m in r.metrics()] == [0, 1, 2]
    assert r.ended and not r.complete and "diverged" in r.end["reason"]
    assert hooks_on(model) == 0
