"""The numpy reference backprop against torch autograd, autograd against finite
differences, and seed 001's OR-gate numpy twin against the seed and a torch loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from nnviz.core.errors import NnvizError
from nnviz.core.models import MLPSpec, build_mlp, neuron_layers
from nnviz.core.reference import (
    OR_INPUTS,
    OR_TRUTH,
    backward,
    formula_terms,
    forward,
    loss_and_grad,
    or_gate_numpy_twin,
    reference_gradients,
    reference_pass,
)
from nnviz.core.scenarios import SCENARIOS
from nnviz.core.training_parts import make_loss

TOL = dict(rtol=1e-6, atol=1e-9)

SCRATCH_X = np.array([[1, 0, 1, 0], [1, 0, 1, 1], [0, 1, 0, 1]], dtype=np.float64)
SCRATCH_Y = np.array([1, 1, 0], dtype=np.float64)

DEEP_SIG = MLPSpec((3, 5, 5, 3, 1), ("sigmoid", "sigmoid", "sigmoid", "sigmoid"))
DEEP_TANH = MLPSpec((3, 5, 5, 3, 1), ("tanh", "tanh", "tanh", "sigmoid"))
DEEP_CE = MLPSpec((3, 5, 5, 3, 3), ("tanh", "relu", "tanh", "linear"))
SCRATCH = MLPSpec((4, 3, 1), ("sigmoid", "sigmoid"))

# losses that apply to one sigmoid output
SIGMOID_OUT_LOSSES = ("bce", "mse", "half_mse", "half_sse", "l1_mean", "l1_sum")


def _model(spec: MLPSpec, seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    return build_mlp(spec, dtype=torch.float64)


def _data(spec: MLPSpec, loss: str, m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(m, spec.sizes[0]))
    if loss == "cross_entropy":
        return x, rng.integers(0, spec.sizes[-1], size=m)
    if loss == "half_mse":  # the Playground preset's: labels ±1
        return x, 2.0 * rng.integers(0, 2, size=(m, spec.sizes[-1])) - 1.0
    return x, rng.integers(0, 2, size=(m, spec.sizes[-1])).astype(np.float64)


def _torch_pass(model: nn.Sequential, x, y, loss: str) -> dict[str, np.ndarray]:
    """param.grad, and per layer dL/dz and dL/da from retain_grad on the
    Linear's and the activation's outputs."""
    outs: dict[str, torch.Tensor] = {}

    def keep(name):
        def hook(_m, _inp, out):
            if out.requires_grad:  # (a leading Flatten's output does not)
                out.retain_grad()
            outs[name] = out

        return hook

    handles = [m.register_forward_hook(keep(n)) for n, m in model.named_modules() if n]
    xt = torch.as_tensor(x, dtype=torch.float64)
    yt = torch.as_tensor(y) if loss == "cross_entropy" else torch.as_tensor(y, dtype=torch.float64)
    model.zero_grad(set_to_none=True)
    value = make_loss(loss)(model(xt), yt)
    value.backward()
    for h in handles:
        h.remove()
    got = {n: p.grad.numpy().copy() for n, p in model.named_parameters()}
    for nl in neuron_layers(model):
        got[f"{nl.linear}.dz"] = outs[nl.linear].grad.numpy().copy()
        got[f"{nl.linear}.da"] = outs[nl.act or nl.linear].grad.numpy().copy()
    got["loss"] = np.asarray(value.item())
    return got


def _assert_matches_autograd(model, spec, x, y, loss) -> float:
    want = _torch_pass(model, x, y, loss)
    got = reference_gradients(model, spec, x, y, loss)
    assert set(got) == set(want)
    assert {k for k in got if k.endswith((".weight", ".bias"))} == {
        n for n, _ in model.named_parameters()
    }
    worst = 0.0
    for key in want:
        np.testing.assert_allclose(got[key], want[key], err_msg=key, **TOL)
        worst = max(worst, float(np.max(np.abs(got[key] - want[key]))))
    return worst


# --- reference vs autograd ----------------------------------------------------------


@pytest.mark.parametrize("spec", [DEEP_SIG, DEEP_TANH], ids=["sigmoid", "tanh"])
@pytest.mark.parametrize("loss", SIGMOID_OUT_LOSSES)
@pytest.mark.parametrize("m", [1, 4, 13])
def test_deep_mlp_every_layer_matches_autograd(spec, loss, m):
    model = _model(spec, seed=m)
    x, y = _data(spec, loss, m, seed=100 + m)
    assert _assert_matches_autograd(model, spec, x, y, loss) < 1e-12


@pytest.mark.parametrize("m", [1, 5, 16])
def test_cross_entropy_on_logits_matches_autograd(m):
    model = _model(DEEP_CE, seed=m)
    x, y = _data(DEEP_CE, "cross_entropy", m, seed=7 + m)
    assert _assert_matches_autograd(model, DEEP_CE, x, y, "cross_entropy") < 1e-12
    # combined softmax + CE: the last layer's dZ (seed scale) is softmax − onehot
    ref = reference_pass(model, DEEP_CE, x, y, "cross_entropy")
    logits = ref.caches[-1].Z
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    np.testing.assert_allclose(ref.grads[-1].dZ, p - np.eye(3)[y], atol=1e-14)


@pytest.mark.parametrize("loss", ["mse", "half_mse", "half_sse", "bce", "l1_sum"])
@pytest.mark.parametrize("rows", [[0, 1, 2], [2], [0, 2]])
def test_scratch_mlp_matches_autograd(loss, rows):
    model = _model(SCRATCH, seed=3)
    x, y = SCRATCH_X[rows], SCRATCH_Y[rows].reshape(-1, 1)
    assert _assert_matches_autograd(model, SCRATCH, x, y, loss) < 1e-12


@pytest.mark.parametrize("sid", ["deep-mlp", "scratch-mlp"])
def test_scenario_architectures_match_autograd(sid):
    sc = SCENARIOS[sid]
    model = _model(sc.spec, seed=0)
    x, y = _data(sc.spec, sc.loss, 8, seed=1)
    if sid == "scratch-mlp":
        x, y = SCRATCH_X, SCRATCH_Y.reshape(-1, 1)
    _assert_matches_autograd(model, sc.spec, x, y, sc.loss)


def test_seed_formulas_hold_layer_by_layer():
    """dZ = dA ⊙ g'(Z), dW = (1/m) dZᵀ A_prev, db = (1/m) Σ dZ, dA_prev = dZ W, and
    each layer's dA is the next layer's dA_prev; dW equals param.grad."""
    model = _model(DEEP_TANH, seed=5)
    x, y = _data(DEEP_TANH, "bce", 6, seed=6)
    ref = reference_pass(model, DEEP_TANH, x, y, "bce")
    want = _torch_pass(model, x, y, "bce")
    m = ref.m
    for i, (c, g) in enumerate(zip(ref.caches, ref.grads)):
        np.testing.assert_allclose(g.dZ, g.dA * (1 - c.A**2 if i < 3 else c.A * (1 - c.A)))
        np.testing.assert_allclose(g.dW, g.dZ.T @ c.A_prev / m)
        np.testing.assert_allclose(g.db, g.dZ.sum(0) / m)
        np.testing.assert_allclose(g.dA_prev, g.dZ @ ref.weights[i])
        if i + 1 < len(ref.grads):
            np.testing.assert_array_equal(ref.grads[i + 1].dA_prev, g.dA)
        np.testing.assert_allclose(g.dW, want[f"{ref.names[i]}.weight"], **TOL)
    # BCE on a sigmoid output: the seed's dz = a − y per sample
    np.testing.assert_allclose(ref.grads[-1].dZ, ref.caches[-1].A - y, atol=1e-12)


def test_flatten_model_keys_like_named_parameters():
    spec = MLPSpec((4, 3, 2), ("relu", "linear"), flatten=True)
    model = _model(spec, seed=2)
    x = np.random.default_rng(0).normal(size=(5, 2, 2))
    y = np.array([0, 1, 1, 0, 1])
    _assert_matches_autograd(model, spec, x, y, "cross_entropy")
    assert "1.weight" in reference_gradients(model, spec, x, y, "cross_entropy")


def test_mismatched_spec_and_bad_targets_raise():
    model = _model(SCRATCH, seed=0)
    with pytest.raises(NnvizError):
        reference_gradients(model, DEEP_SIG, SCRATCH_X, SCRATCH_Y, "mse")
    with pytest.raises(NnvizError):
        reference_gradients(model, SCRATCH, SCRATCH_X, SCRATCH_Y[:2], "mse")
    with pytest.raises(NnvizError):
        loss_and_grad("hinge", np.zeros((2, 1)), np.zeros(2))
    with pytest.raises(NnvizError):
        loss_and_grad("cross_entropy", np.zeros((2, 3)), np.array([0, 3]))


# --- logistic regression (seed 002) ----------------------------------------------------


@pytest.mark.parametrize("m", [1, 6])
def test_logistic_regression_dz_is_a_minus_y(m):
    rng = np.random.default_rng(m)
    x = rng.normal(size=(m, 2))
    y = rng.integers(0, 2, size=(m, 1)).astype(np.float64)
    model = _model(MLPSpec((2, 1), ("sigmoid",)), seed=m)
    want = _torch_pass(model, x, y, "bce")
    ref = reference_pass(model, None, x, y, "bce")
    a = ref.caches[0].A
    # per sample: dz = a − y (autograd's dL/dz carries the batch mean's 1/m)
    np.testing.assert_allclose(ref.grads[0].dZ, a - y, atol=1e-12)
    np.testing.assert_allclose(want["0.dz"] * m, a - y, **TOL)
    # dw = mean of (a − y) x, db = mean of (a − y)
    np.testing.assert_allclose(want["0.weight"], ((a - y) * x).mean(0, keepdims=True), **TOL)
    np.testing.assert_allclose(want["0.bias"], (a - y).mean(0), **TOL)


def test_formula_terms_for_one_sample():
    model = _model(DEEP_TANH, seed=9)
    x, y = _data(DEEP_TANH, "bce", 4, seed=9)
    ref = reference_pass(model, DEEP_TANH, x, y, "bce")
    want = _torch_pass(model, x, y, "bce")
    terms = formula_terms(ref, row=2)
    assert [t.name for t in terms] == ["0", "2", "4", "6"]
    for t in terms:
        np.testing.assert_allclose(t.dz, t.da * t.g_prime)
        np.testing.assert_allclose(t.dz / t.m, want[f"{t.name}.dz"][2], **TOL)
        np.testing.assert_allclose(t.da / t.m, want[f"{t.name}.da"][2], **TOL)
    # summing each row's dz ⊗ a_prev / m over the batch gives dW
    for li, name in enumerate(ref.names):
        dW = sum(formula_terms(ref, r)[li].dw_outer for r in range(4)) / 4
        np.testing.assert_allclose(dW, want[f"{name}.weight"], **TOL)
    with pytest.raises(NnvizError):
        formula_terms(ref, row=4)


# --- autograd vs finite differences -------------------------------------------------


def _finite_differences(model: nn.Module, loss_of, eps: float = 1e-6) -> dict[str, np.ndarray]:
    grads = {}
    with torch.no_grad():
        for name, p in model.named_parameters():
            g = np.zeros(p.shape)
            flat = p.view(-1)
            for i in range(flat.numel()):
                old = flat[i].item()
                flat[i] = old + eps
                up = loss_of()
                flat[i] = old - eps
                down = loss_of()
                flat[i] = old
                g.flat[i] = (up - down) / (2 * eps)
            grads[name] = g
    return grads


SMALL = [
    (MLPSpec((2, 3, 1), ("tanh", "sigmoid")), "bce"),
    (MLPSpec((2, 3, 1), ("sigmoid", "sigmoid")), "mse"),
    (MLPSpec((3, 4, 2), ("tanh", "linear")), "half_sse"),
    (MLPSpec((2, 4, 2, 1), ("tanh", "tanh", "tanh")), "half_mse"),  # the Playground preset
    (MLPSpec((3, 4, 2), ("tanh", "linear")), "half_mse"),
    (MLPSpec((3, 4, 3), ("leaky_relu", "linear")), "cross_entropy"),
    (MLPSpec((3, 5, 5, 3, 1), ("tanh", "tanh", "tanh", "sigmoid")), "bce"),
]


@pytest.mark.parametrize(
    "spec,loss", SMALL, ids=[f"{'-'.join(map(str, s.sizes))}-{lo}" for s, lo in SMALL]
)
def test_autograd_agrees_with_finite_differences(spec, loss):
    model = _model(spec, seed=11)
    x, y = _data(spec, loss, 5, seed=12)
    xt = torch.as_tensor(x)
    yt = torch.as_tensor(y)
    fn = make_loss(loss)
    auto = _torch_pass(model, x, y, loss)
    fd = _finite_differences(model, lambda: fn(model(xt), yt).item())
    for name, g in fd.items():
        np.testing.assert_allclose(auto[name], g, rtol=1e-5, atol=1e-8, err_msg=name)
    # and so does the reference
    ref = reference_gradients(model, spec, x, y, loss)
    for name, g in fd.items():
        np.testing.assert_allclose(ref[name], g, rtol=1e-5, atol=1e-8, err_msg=name)


# --- seed 001: the OR gate ----------------------------------------------------------


@pytest.fixture(scope="module")
def twin():
    return or_gate_numpy_twin()


def test_or_gate_twin_reproduces_the_seed(twin):
    np.testing.assert_allclose(twin.initial_weights, [0.417022, 0.720324], atol=1e-6)
    assert abs(twin.initial_bias - 0.000114) < 1e-6
    assert f"{twin.logged[0]:.2e}" == "1.47e+00"
    assert f"{twin.logged[1000]:.2e}" == "2.33e-01"
    assert f"{twin.logged[9000]:.2e}" == "2.14e-02"
    assert sorted(twin.logged) == list(range(0, 10_000, 1000))
    np.testing.assert_allclose(twin.weights, [9.98578506, 9.98589032], atol=1e-6)
    assert abs(twin.bias - -4.52752860) < 1e-6
    np.testing.assert_allclose(
        twin.predictions, [0.010692, 0.995758, 0.995757, 1.000000], atol=1e-6
    )


def test_or_gate_twin_draws_what_numpy_random_seed_1_draws(twin):
    state = np.random.get_state()
    try:
        np.random.seed(1)
        w = np.random.rand(2, 1)
        b = np.random.rand(1)[0]
    finally:
        np.random.set_state(state)
    np.testing.assert_array_equal(twin.initial_weights, w.ravel())
    assert twin.initial_bias == b


def test_or_gate_torch_loop_agrees_with_twin(twin):
    rng = np.random.RandomState(1)  # the seed's torch half: rand(1, 2), then rand(1, 1)
    model = nn.Sequential(nn.Linear(2, 1, dtype=torch.float64), nn.Sigmoid())
    with torch.no_grad():
        model[0].weight.copy_(torch.from_numpy(rng.rand(1, 2)))
        model[0].bias.copy_(torch.from_numpy(rng.rand(1, 1).reshape(1)))
    x, t = torch.from_numpy(OR_INPUTS), torch.from_numpy(OR_TRUTH)
    loss_fn = nn.L1Loss(reduction="sum")
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    worst = 0.0
    for i in range(10_000):
        error = loss_fn(model(x), t)
        opt.zero_grad()
        error.backward()
        opt.step()
        if i % 1000 == 0:
            assert abs(error.item() - twin.logged[i]) < 1e-9, i
            worst = max(worst, abs(error.item() - twin.losses[i]))
    w = model[0].weight.detach().numpy().ravel()
    b = model[0].bias.item()
    np.testing.assert_allclose(w, twin.weights, rtol=0, atol=1e-9)
    assert abs(b - twin.bias) < 1e-9
    assert worst < 1e-9


def test_or_gate_reference_step_is_the_twins_step():
    """One step of the layer-list reference (l1_sum) is the seed's hand-written step."""
    rng = np.random.RandomState(1)
    w, b = rng.rand(1, 2), rng.rand(1)
    caches = forward([w], [b], ["sigmoid"], OR_INPUTS)
    loss, dA = loss_and_grad("l1_sum", caches[-1].A, OR_TRUTH)
    (g,) = backward(caches, dA, [w], ["sigmoid"])
    one = or_gate_numpy_twin(steps=1, log_every=1)
    assert abs(loss - one.logged[0]) < 1e-15
    np.testing.assert_allclose(w.ravel() - 0.05 * g.dW.ravel(), one.weights, atol=1e-15)
    np.testing.assert_allclose(b[0] - 0.05 * g.db[0], one.bias, atol=1e-15)
