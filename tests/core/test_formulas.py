"""Backprop in numbers: every number the formula lines show is autograd's.

Torch is the oracle: each test recomputes the snapshot's batch in float64 with
``retain_grad`` on every z and a, and compares with the lines built from the
engine's snapshot.
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from nnviz.core import formulas as F
from nnviz.core.activations import ACTIVATIONS
from nnviz.core.engine import Trainer
from nnviz.core.errors import NnvizError
from nnviz.core.models import MLPSpec, build_mlp, neuron_layers
from nnviz.core.scenarios import get_scenario
from nnviz.core.training_parts import make_loss

SCENARIOS = ("deep-mlp", "scratch-mlp", "logistic-regression")


def trainer(name: str, dtype=None, model=None, steps: int = 3) -> Trainer:
    sc = get_scenario(name)
    if dtype is not None:
        sc = dataclasses.replace(sc, dtype=dtype)
    tr = Trainer(sc, model=model)
    for _ in range(steps):
        tr.step()
    return tr


def oracle(tr: Trainer, row: int, loss_fn=None):
    """The snapshot's batch through a float64 copy of the model, with grads
    retained on every z and a: per layer (z, a, dL/dz, dL/da) rows, the
    parameter grads, the batch input and targets. ``loss_fn``: the loss torch
    differentiates (default: the config's loss by its name)."""
    x, y = tr.sample_batch()
    model = copy.deepcopy(tr.model).to(torch.float64)
    layers = neuron_layers(model)
    rec: dict[str, dict[str, torch.Tensor]] = {}
    hooks = []

    def keep(path, key):
        def fwd(_m, _i, out):
            out.retain_grad()
            rec.setdefault(path, {})[key] = out

        return fwd

    for nl in layers:
        hooks.append(model.get_submodule(nl.linear).register_forward_hook(keep(nl.linear, "z")))
        if nl.act is not None:
            hooks.append(model.get_submodule(nl.act).register_forward_hook(keep(nl.linear, "a")))
    x64 = x.to(torch.float64)
    y64 = y.to(torch.float64) if y.dtype.is_floating_point else y
    out = model(x64)
    (loss_fn or make_loss(tr.config.loss))(out, y64).backward()
    for h in hooks:
        h.remove()
    per_layer = []
    for nl in layers:
        r = rec[nl.linear]
        z, a = r["z"], r.get("a", r["z"])
        per_layer.append(
            dict(
                z=z[row].detach().numpy(),
                a=a[row].detach().numpy(),
                dz=z.grad[row].numpy(),
                da=a.grad[row].numpy(),
                act=nl.activation,
                module=model.get_submodule(nl.act) if nl.act else nn.Identity(),
                W=model.get_submodule(nl.linear).weight.grad.numpy(),
                b=model.get_submodule(nl.linear).bias.grad.numpy(),
            )
        )
    return per_layer, x64.numpy(), y64.numpy(), int(x.shape[0])


def autograd_gprime(module: nn.Module, z: float) -> float:
    zt = torch.tensor([z], dtype=torch.float64, requires_grad=True)
    module(zt).sum().backward()
    return float(zt.grad[0])


def check_neuron(fm: F.NeuronFormulas, o: dict, j: int, rtol: float, atol: float) -> None:
    """z, a, dL/da, g'(z), dL/dz shown equal autograd's, and each is in the text."""
    for key, want in (("z", o["z"][j]), ("a", o["a"][j]), ("da", o["da"][j]), ("dz", o["dz"][j])):
        ln = fm.line(key)
        np.testing.assert_allclose(ln.value, want, rtol=rtol, atol=atol, err_msg=key)
        assert ln.expression.endswith(F.fmt(ln.value)) or F.fmt(ln.value) in ln.expression
    gp = fm.line("gprime").value
    # g' at the z shown is autograd's derivative of the activation there
    z_shown = fm.line("z").value
    np.testing.assert_allclose(gp, autograd_gprime(o["module"], z_shown), rtol=1e-9, atol=1e-12)
    assert F.fmt(gp) in fm.line("gprime").expression
    # this sample's share of dL/dW and dL/db: dL/dz · a_prev (and dL/dz)
    dw = fm.line("dw")
    assert dw.values and all(F.fmt(v) in dw.expression for v in dw.values)
    np.testing.assert_allclose(fm.line("db").value, o["dz"][j], rtol=rtol, atol=atol)


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_number_is_autograds(name):
    tr = trainer(name)
    row = 1
    snap = tr.snapshot(sample_row=row)
    ref, x, y, m = oracle(tr, row)
    f32 = tr.dtype == torch.float32
    rtol, atol = (2e-5, 1e-8) if f32 else (1e-10, 1e-14)
    for li, o in enumerate(ref):
        for j in range(snap.layers[li].width):
            fm = F.formulas(snap, li + 1, j, loss=tr.config.loss, batch_size=tr.batch_size)
            check_neuron(fm, o, j, rtol, atol)
            # the batch gradient in the snapshot is the sum of the samples' shares
            np.testing.assert_allclose(
                fm.line("dw_batch").values,
                o["W"][j, list(fm.line("dw_batch").indices)],
                rtol=1e-4 if f32 else 1e-10,
                atol=1e-7 if f32 else 1e-14,
            )
            # the dw shares are dL/dz times the layer's input
            a_prev = x[row].reshape(-1) if li == 0 else ref[li - 1]["a"]
            idx = list(fm.line("dw").indices)
            np.testing.assert_allclose(
                fm.line("dw").values, o["dz"][j] * a_prev[idx], rtol=rtol * 10, atol=atol
            )


@pytest.mark.parametrize("name", SCENARIOS)
def test_chain_rule_holds_in_float64(name):
    """dL/dz shown = dL/da shown × g'(z) shown, to 1e-9, in a float64 model."""
    tr = trainer(name, dtype=torch.float64)
    snap = tr.snapshot(sample_row=0)
    ref, *_ = oracle(tr, 0)
    for li, ls in enumerate(snap.layers):
        for j in range(ls.width):
            fm = F.formulas(snap, li + 1, j, loss=tr.config.loss, batch_size=tr.batch_size)
            da, gp, dz = (fm.line(k).value for k in ("da", "gprime", "dz"))
            assert dz == pytest.approx(da * gp, rel=1e-9, abs=1e-15)
            check_neuron(fm, ref[li], j, 1e-10, 1e-14)


def test_hidden_da_is_the_sum_shown_from_the_layer_above():
    tr = trainer("deep-mlp", dtype=torch.float64)
    snap = tr.snapshot()
    fm = F.formulas(snap, 1, 2, loss="bce", batch_size=tr.batch_size)
    above = snap.layers[1]
    want = float(np.dot(above.dz, above.weight[:, 2]))
    assert fm.line("da").value == pytest.approx(want, rel=1e-9)
    expr = fm.line("da").expression
    assert "Σₖ dL/dzₖ[2] · W[2]ₖ₂" in expr
    for k in range(above.width):  # fan-out 5: every term is shown
        assert F.fmt_factor(above.dz[k]) in expr and F.fmt_factor(above.weight[k, 2]) in expr


def test_logistic_regression_dz_is_a_minus_y_over_m():
    tr = trainer("logistic-regression", steps=5)
    for row in (0, 3):
        snap = tr.snapshot(sample_row=row)
        ref, _, y, m = oracle(tr, row)
        fm = F.formulas(snap, 1, 0, loss="bce", batch_size=tr.batch_size)
        a, t = float(ref[0]["a"][0]), float(y[row].reshape(-1)[0])
        assert m == tr.batch_size == 20
        assert fm.line("dz").value == pytest.approx((a - t) / m, rel=2e-5)
        short = fm.line("dz_short")
        assert "(a − y)/20" in short.expression
        assert short.value == pytest.approx((a - t) / m, rel=2e-5)
        assert "binary cross-entropy" in fm.line("da").expression
        assert "(−y/a + (1 − y)/(1 − a))/20" in fm.line("da").expression


def test_batch_size_is_recovered_for_a_mean_loss():
    tr = trainer("deep-mlp")
    snap = tr.snapshot()
    assert F.infer_batch_size(snap, "bce") == tr.batch_size == 32
    fm = F.formulas(snap, 4, 0, loss="bce")  # m not given
    assert "(a − y)/32" in fm.line("dz_short").expression
    assert "(32×1) ⊙ (32×1)" in fm.line("vec_dz").expression
    assert "(1/32) dZ[1]ᵀ X" in F.formulas(snap, 1, 0, loss="bce").line("vec_dw").expression
    # a summed loss has no 1/m to recover; the lines say m
    tr2 = trainer("scratch-mlp")
    assert F.infer_batch_size(tr2.snapshot(), "half_sse") is None
    fm2 = F.formulas(tr2.snapshot(), 2, 0, loss="half_sse")
    assert "dL/da = (a − y) = " in fm2.line("da").expression
    assert not fm2.has("dz_short")


def test_output_da_without_a_loss_name_says_from_the_loss():
    snap = trainer("deep-mlp", steps=0).snapshot()
    fm = F.formulas(snap, 4, 0)
    assert "from the loss" in fm.line("da").expression
    assert fm.line("da").value == pytest.approx(float(snap.layers[-1].da[0]))


def test_cross_entropy_output_is_softmax_minus_onehot_and_big_fan_in_is_cut():
    tr = trainer("digits-mlp", steps=2)
    row = 2
    snap = tr.snapshot(sample_row=row)
    ref, _, y, m = oracle(tr, row)
    out = ref[-1]
    p = torch.softmax(torch.as_tensor(out["z"]), 0).numpy()
    c = int(y[row])
    for j in (c, (c + 1) % 10):
        fm = F.formulas(snap, 2, j, loss="cross_entropy", batch_size=tr.batch_size)
        want = (p[j] - (1.0 if j == c else 0.0)) / m
        assert fm.line("dz").value == pytest.approx(want, rel=1e-4, abs=1e-9)
        assert fm.line("dz_short").value == pytest.approx(want, rel=1e-4, abs=1e-9)
        assert f"(softmax(z)ⱼ − onehotⱼ)/{m}" in fm.line("dz_short").expression
        assert "no activation" in fm.line("gprime").expression
        check_neuron(fm, out, j, 2e-5, 1e-8)
    # fan-in 64: the top terms by |w·a|, then "+ … N more"
    fm = F.formulas(snap, 2, c, loss="cross_entropy", top=4)
    w, a_prev = snap.layers[1].weight[c], snap.layers[0].a
    contrib = np.abs(w * a_prev)
    shown = [
        int(s.strip("[]")) for s, role in fm.line("z").segments if role == F.NOTE and s[0] == "["
    ]
    assert len(shown) == 4
    assert sorted(contrib[shown]) == sorted(np.sort(contrib)[-4:])
    assert "60 more" in fm.line("z").expression


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_every_activation_has_its_g_prime_line(act):
    torch.manual_seed(0)
    model = build_mlp(MLPSpec((3, 4, 1), (act, "sigmoid")))
    tr = trainer("deep-mlp", model=model, steps=1)
    snap = tr.snapshot(sample_row=0)
    ref, *_ = oracle(tr, 0)
    for j in range(4):
        fm = F.formulas(snap, 1, j, loss="bce")
        check_neuron(fm, ref[0], j, 2e-5, 1e-8)
        expr = fm.line("gprime").expression
        expected = {
            "sigmoid": "a(1 − a)",
            "tanh": "1 − a²",
            "relu": "1[z > 0]",
            "leaky_relu": "0.01",
            "linear": "no activation",
        }[act]
        assert expected in expr
    if act == "linear":
        assert "a = z" in fm.line("a").expression


def test_an_activation_without_a_numpy_twin_still_shows_autograds_dz():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.GELU(), nn.Linear(4, 1), nn.Sigmoid())
    tr = trainer("deep-mlp", model=model, steps=0)
    snap = tr.snapshot()
    ref, *_ = oracle(tr, 0)
    fm = F.formulas(snap, 1, 1, loss="bce")
    assert fm.line("gprime").value is None and "gelu" in fm.line("gprime").expression
    assert fm.line("dz").value == pytest.approx(float(ref[0]["dz"][1]), rel=2e-5, abs=1e-9)


def test_input_layer_and_bad_selections():
    snap = trainer("deep-mlp", steps=0).snapshot()
    fm = F.formulas(snap, 0, 1)
    assert fm.line("x").value == pytest.approx(float(snap.input[1]))
    with pytest.raises(NnvizError, match="pick 1..4"):
        F.formulas(snap, 5, 0)
    with pytest.raises(NnvizError, match="neurons 0..4"):
        F.formulas(snap, 1, 5)


def test_number_format():
    assert F.fmt(0.42013) == "0.4201"
    assert F.fmt(-0.5) == "−0.5"
    assert F.fmt(0) == "0"
    assert F.fmt(1.5e-5) == "1.50×10⁻⁵"
    assert F.fmt(-123456.0) == "−1.23×10⁵"
    assert F.fmt_factor(-2.0) == "(−2)"
