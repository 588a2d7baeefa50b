"""A narrow Linear (or activation) in a model that is not a Linear chain shows
its units as neurons in the block view; torch is the oracle (float64)."""

from __future__ import annotations

import copy
from types import MappingProxyType

import numpy as np
import pytest
import torch
from PySide6 import QtCore
from torch import nn

from nnviz.core.arrays import frozen
from nnviz.core.block_snapshot import MAX_UNITS
from nnviz.core.history import History
from nnviz.core.module_capture import ModuleCapture
from nnviz.core.runfolder_format import snapshot_arrays, snapshot_from_arrays
from nnviz.core.snapshot import Snapshot
from nnviz.qt import block_layout as L
from nnviz.qt.block_info import block_info
from nnviz.qt.block_view import BlockView
from nnviz.qt.theme import DARK, diverging_lut, gradient_lut, lut_indices
from tests.qt import block_snapshots as B

ROW = 3  # the chosen sample: not the first row of the batch


def _model() -> nn.Sequential:
    """Conv2d → … → a Linear too wide for neurons → narrow Linear and activations."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Unflatten(1, (1, 4, 4)),
        nn.Conv2d(1, 3, 3, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(48, MAX_UNITS + 16),  # "4": statistics only
        nn.ReLU(),  # "5": as wide, statistics only
        nn.Linear(MAX_UNITS + 16, 12),  # "6": 12 units
        nn.Tanh(),  # "7": 12 units
        nn.Linear(12, 5),  # "8": 5 units
    ).double()


@pytest.fixture(scope="module")
def captured():
    """(snapshot, torch's outputs and their gradients per module, the model)."""
    model = _model()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(8, 16, generator=g, dtype=torch.float64)
    y = torch.randint(0, 5, (8,), generator=g)
    twin = copy.deepcopy(model)
    with ModuleCapture(model, row=ROW) as cap:
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
    # the oracle: the same forward without hooks, each output kept and its grad retained
    outs, h = {}, x
    for i, layer in enumerate(twin):
        h = layer(h)
        if h.requires_grad:
            h.retain_grad()
        outs[str(i)] = h
    nn.functional.cross_entropy(h, y).backward()
    ins = {"8": outs["7"], "6": outs["5"]}
    snap = Snapshot(
        step=7, epoch=0, loss=float(loss.detach()), sample_row=ROW, sample_index=ROW,
        input=frozen(x[ROW]), input_shape=(16,), target=frozen(y[ROW : ROW + 1]),
        output=frozen(h[ROW]), layers=(),
        params=MappingProxyType({n: frozen(p) for n, p in model.named_parameters()}),
        blocks=cap.blocks(),
    )  # fmt: skip
    return snap, outs, ins, model


@pytest.fixture
def view(shown, captured):
    v = shown(BlockView(history=History()), 1600, 900)
    v.set_snapshot(captured[0])
    return v


def _centre(view: BlockView, name: str, k: int) -> tuple[float, float]:
    x, y = view._row(name).geom.units.centres()[k]
    return float(x), float(y)


def test_narrow_layers_keep_the_samples_units_and_gradients_as_torch_computes_them(captured):
    snap, outs, ins, _ = captured
    blocks = {b.name: b for b in snap.blocks}
    for name in ("6", "7", "8"):
        b = blocks[name]
        want, grad = outs[name][ROW].detach().numpy(), outs[name].grad[ROW].numpy()
        assert b.units.dtype == np.float64 and b.units.shape == want.shape
        np.testing.assert_allclose(b.units, want, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(b.unit_grads, grad, rtol=1e-12, atol=1e-18)
        assert not b.units.flags.writeable and not b.unit_grads.flags.writeable
    np.testing.assert_allclose(blocks["8"].unit_inputs, ins["8"][ROW].detach().numpy(), rtol=1e-12)
    assert blocks["7"].unit_inputs is None  # an activation has no weights to read it with
    for name in ("1", "3", "4", "5"):  # a conv, a flatten, and layers wider than MAX_UNITS
        assert blocks[name].units is None and blocks[name].unit_grads is None


def test_units_survive_a_run_folder(captured):
    snap = captured[0]
    info, arrays = snapshot_arrays(snap)
    back = {b.name: b for b in snapshot_from_arrays(info, arrays).blocks}
    for b in snap.blocks:
        for key in ("units", "unit_grads", "unit_inputs"):
            a, r = getattr(b, key), getattr(back[b.name], key)
            assert (a is None and r is None) or np.array_equal(a, r)


def test_each_unit_is_a_disc_coloured_by_torchs_value_and_inspected_with_its_gradient(
    view, captured
):
    snap, outs, ins, model = captured
    k = 7
    z = float(outs["6"].detach()[ROW, k])
    g = float(outs["6"].grad[ROW, k])
    units = view.units_of("6")
    assert units is not None and units.strip.count == 12
    # the disc's colour is the activation colour map at the shared scale
    want = diverging_lut(DARK)[lut_indices(z, view.unit_scales.act)]
    assert units.colour(k).getRgb()[:3] == tuple(int(c) for c in want[:3])
    assert units.pixel(k) == (*(int(c) for c in want[:3]), 255)  # what the picture shows
    # hovering the disc shows torch's numbers
    x, y = _centre(view, "6", k)
    assert view.hit(x, y) == ("6", "units", (k,))
    view.graphics.scene().sigMouseMoved.emit(view.vb.mapViewToScene(QtCore.QPointF(x, y)))
    info = view.inspector.info
    assert view.inspector.isVisible() and info.title == "6 · unit 7"
    rows = {name: v for name, v, _ in info.rows}
    assert rows["z"] == pytest.approx(z, rel=1e-12, abs=0)
    assert rows["dL/dz"] == pytest.approx(g, rel=1e-12, abs=0)
    assert rows["bias b"] == float(model[6].bias.detach()[k])
    # the strongest incoming weights, each with w·a for this sample
    w = model[6].weight[k].detach().numpy()
    a_in = ins["6"][ROW].detach().numpy()
    j, wj, contribution = info.incoming[0]
    assert j == int(np.argmax(np.abs(w))) and wj == w[j]
    assert contribution == pytest.approx(w[j] * a_in[j], rel=1e-12)
    assert info.fan_in == MAX_UNITS + 16
    # an activation's units are called a, their gradient dL/da
    act = view.select("7", "units", (2,))
    assert dict((n, v) for n, v, _ in act.rows)["a"] == pytest.approx(
        float(outs["7"].detach()[ROW, 2])
    )


def test_halos_show_torchs_gradient_during_the_backward_sweep(view, captured):
    _, outs, _, _ = captured
    units = view.units_of("8")
    grads = outs["8"].grad[ROW].numpy()
    names = view.visible_names()
    view.set_phase("forward", 0.5)
    assert units.gradient_mark(0) is None  # no gradient before the backward pass
    view.set_phase("backward", 0.0)  # the sweep starts at the last row: this one
    assert names[-1] == "8" and units.gradient_mark(0) is not None
    assert view.units_of("6").gradient_mark(0) is None  # not reached yet
    view.set_phase(None)
    gmax = view.unit_scales.grad["8"]
    lut = gradient_lut(DARK)
    sizes = []
    for k, g in enumerate(grads):
        colour, size = units.gradient_mark(k)
        assert colour.getRgb()[:3] == tuple(int(c) for c in lut[lut_indices(g, gmax)][:3])
        assert units.pixel(k, "halo")[:3] == colour.getRgb()[:3]
        sizes.append(size)
    assert sizes[int(np.argmax(np.abs(grads)))] > sizes[int(np.argmin(np.abs(grads)))] >= 1.0
    assert "|dL/dz| ≤" in units.grad_text


def test_a_wide_linear_keeps_its_statistics_and_says_why(view):
    assert view.units_of("4") is None and view.units_of("5") is None
    info = view.select("4")
    assert f"more than {MAX_UNITS}" in info.note and "statistics" in info.note
    assert "more than" not in view.select("6").note  # shown as neurons: nothing to explain
    assert "units: colour = value" in view.header.textItem.toPlainText()


def test_a_linear_over_positions_keeps_statistics_and_says_why(captured):
    m = nn.Sequential(nn.Linear(4, 3), nn.ReLU()).double()
    with ModuleCapture(m) as cap:
        m(torch.randn(2, 5, 4, dtype=torch.float64)).sum().backward()
    linear = cap.blocks()[0]
    assert linear.shape == (2, 5, 3) and linear.units is None
    assert "one output per position" in block_info(captured[0], linear).note


def test_discs_fit_their_row_and_never_touch(view, captured):
    for s in (1.0, 1.5):
        for n in (1, 5, 12, 32, MAX_UNITS):
            strip, h = L.unit_strip(n, 100.0, 50.0, 560.0 * s, s)
            x0, y0, w, sh = strip.rect
            c = strip.centres()
            assert len(c) == n and strip.pitch >= L.UNIT_PITCH_MIN * s
            assert x0 + w <= 100.0 + 560.0 * s + 1e-9 and y0 + sh <= 50.0 + h + 1e-9
            assert 2 * strip.radius * (1 + strip.halo) < strip.pitch  # halos never touch
            assert [strip.unit_at(*p) for p in c] == list(range(n))
    row = view._row("6")
    x, y, w, h = row.geom.rect
    ux, uy, uw, uh = row.geom.units.rect
    assert x <= ux and ux + uw <= x + w and y <= uy and uy + uh <= y + h


def test_the_trainers_snapshots_carry_units_for_a_cnns_linear_layers():
    snap = B.snapshots(B.cnn(), steps=1, row=5)[0]
    blocks = {b.name: b for b in snap.blocks}
    assert blocks["4"].units.shape == (32,) and blocks["5"].units.shape == (32,)
    assert blocks["6"].units.shape == (10,) and blocks["6"].unit_grads.shape == (10,)
    assert blocks["4"].unit_inputs.shape == (256,)
    assert blocks["3"].units is None  # Flatten: 256 numbers, not a layer of neurons
    # the last Linear's units are the model's output for the sample shown
    np.testing.assert_allclose(blocks["6"].units, snap.output, rtol=1e-6)
