"""The Playground preset's loss is named what it is (issue 11 follow-up): ½·MSE
(mean) on labels ±1, and "Backprop in numbers" shows autograd's numbers under it.

Torch is the oracle: the snapshot's batch through a float64 copy of the trained
model, differentiated with :class:`PlaygroundSquare` (Playground's ½(out − label)²
on ±1 labels, averaged over the batch of 10).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from nnviz.core import formulas as F
from nnviz.core.engine import TrainConfig, Trainer
from nnviz.core.features import PlaygroundSquare, preset_overrides
from nnviz.core.reference import reference_gradients
from nnviz.core.scenarios import get_scenario
from nnviz.core.training_parts import LOSSES, make_loss
from tests.core.test_formulas import check_neuron, oracle


def preset_trainer(dtype=None, steps: int = 40, **changes) -> Trainer:
    """Circle under the preset, trained ``steps`` batches of 10."""
    sc = get_scenario("circle")
    if dtype is not None:
        sc = dataclasses.replace(sc, dtype=dtype)
    fields = {**preset_overrides("playground", sc), **changes}
    tr = Trainer(sc, TrainConfig.for_scenario(sc, eval_every=-1, **fields))
    for _ in range(steps):
        tr.step()
    return tr


def test_the_preset_names_its_loss_half_mse():
    tr = preset_trainer(steps=0)
    assert tr.config.loss == "half_mse"
    assert LOSSES["half_mse"].label == "½·MSE (mean)"
    assert isinstance(tr.loss_fn, PlaygroundSquare)
    # the engine's loss is the named loss on ±1 labels
    x, y = tr.sample_batch()
    with torch.no_grad():
        out = tr.model(x)
        want = 0.5 * ((out - (2 * y - 1)) ** 2).mean()
        assert float(tr.loss_fn(out, y)) == pytest.approx(float(want), rel=1e-6)
        assert float(make_loss("half_mse")(out, 2 * y - 1)) == pytest.approx(float(want), rel=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_every_formula_number_is_autograds_under_the_preset(dtype):
    tr = preset_trainer(dtype=dtype)
    f32 = dtype == torch.float32
    rtol, atol = (2e-5, 1e-8) if f32 else (1e-10, 1e-14)
    for row in (0, 7):
        snap = tr.snapshot(sample_row=row)
        ref, x, y, m = oracle(tr, row, loss_fn=PlaygroundSquare())
        assert m == 10
        t = 2.0 * float(y[row].reshape(-1)[0]) - 1.0  # the label ±1
        assert float(snap.target[0]) == t
        # m read from the gradient, not given: Playground's batch of 10
        assert F.infer_batch_size(snap, tr.config.loss) == 10
        for li, o in enumerate(ref):
            for j in range(snap.layers[li].width):
                fm = F.formulas(snap, li + 1, j, loss=tr.config.loss)  # m inferred
                check_neuron(fm, o, j, rtol, atol)
                np.testing.assert_allclose(
                    fm.line("dw_batch").values,
                    o["W"][j, list(fm.line("dw_batch").indices)],
                    rtol=1e-4 if f32 else 1e-9,
                    atol=1e-7 if f32 else 1e-14,
                )
                np.testing.assert_allclose(fm.line("db").value, o["dz"][j], rtol=rtol, atol=atol)
        # the output's dL/da: ½·2(a − y)/m = (a − y)/10, no factor 2
        fm = F.formulas(snap, 3, 0, loss=tr.config.loss)
        a = float(ref[-1]["a"][0])
        da = fm.line("da")
        assert da.value == pytest.approx((a - t) / 10, rel=rtol, abs=atol)
        assert da.expression.startswith("dL/da = (a − y)/10 = (")
        assert f" − {F.fmt(t)})/10 = " in da.expression and "½·MSE (mean)" in da.expression
        assert "batch m = 10" in fm.line("info").expression
        assert "½·MSE (mean)" in fm.line("info").expression


def test_chain_rule_holds_under_the_preset_in_float64():
    tr = preset_trainer(dtype=torch.float64)
    snap = tr.snapshot(sample_row=3)
    ref, *_ = oracle(tr, 3, loss_fn=PlaygroundSquare())
    for li, ls in enumerate(snap.layers):
        for j in range(ls.width):
            fm = F.formulas(snap, li + 1, j, loss="half_mse")
            da, gp, dz = (fm.line(k).value for k in ("da", "gprime", "dz"))
            assert dz == pytest.approx(da * gp, rel=1e-9, abs=1e-15)
            check_neuron(fm, ref[li], j, 1e-10, 1e-14)


def test_reference_backprop_is_autograds_under_the_preset():
    """The numpy reference with half_mse on the ±1 labels gives the parameter
    gradients and the dL/dz, dL/da autograd gives the engine's loss."""
    tr = preset_trainer(dtype=torch.float64)
    x, y = tr.sample_batch()
    model = tr.model
    model.zero_grad(set_to_none=True)
    PlaygroundSquare()(model(x), y).backward()
    got = reference_gradients(model, tr.spec, x.numpy(), (2 * y - 1).numpy(), "half_mse")
    for name, p in model.named_parameters():
        np.testing.assert_allclose(got[name], p.grad.numpy(), rtol=1e-10, atol=1e-14)
    snap = tr.snapshot(sample_row=2)  # the snapshot's rows are the reference's rows
    for li, ls in enumerate(snap.layers):
        lin = tr.layers[li].linear
        np.testing.assert_allclose(got[f"{lin}.dz"][2], ls.dz, rtol=1e-9, atol=1e-14)
        np.testing.assert_allclose(got[f"{lin}.da"][2], ls.da, rtol=1e-9, atol=1e-14)


def test_mse_chosen_after_the_preset_is_real_mse_on_0_1_labels():
    """MSE picked after the preset: nn.MSELoss against the 0/1 labels, the classes
    split at 0.5, and the formulas' factor 2 is then autograd's."""
    tr = preset_trainer(steps=5, loss="mse")
    assert isinstance(tr.loss_fn, torch.nn.MSELoss)
    snap = tr.snapshot(sample_row=1)
    ref, x, y, m = oracle(tr, 1)  # make_loss("mse") on the raw labels
    assert float(snap.target[0]) in (0.0, 1.0)
    assert F.infer_batch_size(snap, "mse") == 10
    fm = F.formulas(snap, 3, 0, loss="mse")
    check_neuron(fm, ref[-1], 0, 2e-5, 1e-8)
    assert fm.line("da").expression.startswith("dL/da = 2(a − y)/10")
