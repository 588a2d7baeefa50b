"""Module blocks record what torch's own hooks see (float64, 1e-9)."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import torch
from torch import nn

from nnviz.core.block_snapshot import HIST_BINS
from nnviz.core.engine import TrainConfig, Trainer
from nnviz.core.module_capture import ModuleCapture, is_linear_chain
from nnviz.core.scenarios import get_scenario

TOL = dict(rtol=1e-9, atol=1e-9)


def _cnn(images: bool = False) -> nn.Module:
    return nn.Sequential(
        nn.Unflatten(1, (1, 8) if images else (1, 8, 8)),  # (N, 8, 8) or (N, 64) in
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(inplace=True),  # changes the BatchNorm's output in place
        nn.Conv2d(4, 6, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(6 * 4 * 4, 10),
    ).double()


class _Recurrent(nn.Module):
    def __init__(self, cell=nn.LSTM) -> None:
        super().__init__()
        self.rnn = cell(3, 5, batch_first=True)
        self.head = nn.Linear(5, 2)

    def forward(self, x):
        out, _state = self.rnn(x)  # a tuple: (output, state)
        return self.head(out[:, -1])


def _oracle(model: nn.Module, x: torch.Tensor):
    """Each leaf module's output (cloned when it returns) and dL/d(output),
    through torch's own forward hooks and tensor hooks, in call order."""
    outs: dict[str, torch.Tensor] = {}
    grads: dict[str, torch.Tensor] = {}
    order: list[str] = []
    handles = []
    for name, m in model.named_modules():
        if next(m.children(), None) is not None and not isinstance(m, nn.MultiheadAttention):
            continue

        def hook(_m, _i, out, name=name):
            t = out[0] if isinstance(out, tuple) else out
            order.append(name)
            outs[name] = t.detach().clone()
            if t.requires_grad:
                t.register_hook(lambda g, name=name: grads.__setitem__(name, g.detach().clone()))

        handles.append(m.register_forward_hook(hook))
    loss = model(x).square().mean()
    loss.backward()
    for h in handles:
        h.remove()
    return order, outs, grads


def _np_stats(t: torch.Tensor):
    x = t.detach().double().reshape(-1).numpy()
    lo, hi = x.min(), x.max()
    idx = np.floor((x - lo) * (HIST_BINS / (hi - lo))).astype(np.int64) if hi > lo else 0 * x
    hist = np.bincount(np.clip(idx, 0, HIST_BINS - 1).astype(np.int64), minlength=HIST_BINS)
    return x.mean(), x.std(ddof=1), lo, hi, np.linalg.norm(x), (x == 0).mean(), hist


def _check_stats(stats, t: torch.Tensor) -> None:
    mean, std, lo, hi, norm, zero, hist = _np_stats(t)
    np.testing.assert_allclose(
        [stats.mean, stats.std, stats.lo, stats.hi, stats.norm, stats.zero_fraction],
        [mean, std, lo, hi, norm, zero],
        **TOL,
    )
    np.testing.assert_array_equal(stats.hist, hist)
    assert stats.count == t.numel() == hist.sum()


def _capture_and_oracle(model: nn.Module, x: torch.Tensor, row: int = 0):
    twin = copy.deepcopy(model)
    torch.manual_seed(0)  # the same dropout masks in both runs
    with ModuleCapture(model, row=row) as cap:
        model(x).square().mean().backward()
    torch.manual_seed(0)
    order, outs, grads = _oracle(twin, x)
    return cap.blocks(), order, outs, grads


def test_cnn_blocks_match_torch_hooks_and_keep_the_samples_feature_maps():
    torch.manual_seed(0)
    model, x = _cnn(), torch.randn(7, 64, dtype=torch.float64)
    blocks, order, outs, grads = _capture_and_oracle(model, x, row=3)
    assert [b.name for b in blocks] == order == [str(i) for i in range(9)]
    assert [b.type for b in blocks][:4] == ["Unflatten", "Conv2d", "BatchNorm2d", "ReLU"]
    for b in blocks:
        assert b.shape == tuple(outs[b.name].shape)
        assert b.parent == "" and b.depth == 0 and not b.container
        _check_stats(b.act, outs[b.name])
        if b.name == "0":  # reshapes the input, which needs no gradient
            assert b.grad is None and "0" not in grads
        else:
            _check_stats(b.grad, grads[b.name])
    conv, bn, relu = blocks[1], blocks[2], blocks[3]
    # the BatchNorm's numbers are its own output's, not what ReLU(inplace) made of it
    assert bn.act.lo < 0 and relu.act.lo == 0
    assert relu.dead_fraction == pytest.approx(float((outs["3"] == 0).double().mean()), abs=0)
    assert bn.dead_fraction is None
    np.testing.assert_allclose(conv.maps, outs["1"][3].numpy(), **TOL)
    np.testing.assert_allclose(conv.map_grads, grads["1"][3].numpy(), **TOL)
    np.testing.assert_allclose(conv.kernels, model[1].weight.detach().numpy(), **TOL)
    assert conv.maps.shape == (4, 8, 8) and blocks[4].maps.shape == (6, 8, 8)
    assert not conv.maps.flags.writeable and not conv.kernels.flags.writeable
    # the gradient before the in-place ReLU is what autograd gives for the
    # BatchNorm's output in a model without in-place ops
    plain = copy.deepcopy(model)
    plain[3] = nn.ReLU()
    h = plain[2](plain[1](plain[0](x)))
    h.retain_grad()
    rest = plain[4:](plain[3](h))
    rest.square().mean().backward()
    _check_stats(bn.grad, h.grad)


def test_a_capture_changes_no_batchnorm_statistic_and_no_number():
    torch.manual_seed(1)
    model, x = _cnn(), torch.randn(6, 64, dtype=torch.float64)
    twin = copy.deepcopy(model)
    with ModuleCapture(model):
        out = model(x)
        out.square().mean().backward()
    ref = twin(x)
    ref.square().mean().backward()
    torch.testing.assert_close(out, ref, rtol=0, atol=0)
    for (k, v), (_, w) in zip(model.state_dict().items(), twin.state_dict().items()):
        torch.testing.assert_close(v, w, rtol=0, atol=0, msg=k)
    for p, q in zip(model.parameters(), twin.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=0, atol=0)
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


@pytest.mark.parametrize("cell", [nn.LSTM, nn.GRU])
def test_recurrent_tuple_outputs_use_the_sequence_output(cell):
    torch.manual_seed(2)
    model, x = _Recurrent(cell).double(), torch.randn(4, 6, 3, dtype=torch.float64)
    blocks, order, outs, grads = _capture_and_oracle(model, x)
    assert [b.name for b in blocks] == order == ["rnn", "head"]
    rnn = blocks[0]
    assert rnn.type == cell.__name__ and rnn.shape == (4, 6, 5)
    # every tensor it returned: the output, then h (and c)
    n_state = 2 if cell is nn.LSTM else 1
    assert rnn.out_shapes == ((4, 6, 5),) + ((1, 4, 5),) * n_state
    for b in blocks:
        _check_stats(b.act, outs[b.name])
        _check_stats(b.grad, grads[b.name])


def test_transformer_encoder_layer_blocks_nest_in_forward_order():
    torch.manual_seed(3)
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.1, batch_first=True)
    model = nn.Sequential(nn.Linear(4, 8), layer, nn.Linear(8, 3)).double()
    x = torch.randn(2, 5, 4, dtype=torch.float64)
    blocks, order, outs, grads = _capture_and_oracle(model, x)
    names = [b.name for b in blocks]
    assert names[0] == "0" and names[1] == "1" and names[-1] == "2"
    inner = [b for b in blocks if b.parent == "1"]
    assert blocks[1].container and blocks[1].type == "TransformerEncoderLayer"
    assert [b.name for b in inner] == [n for n in order if n.startswith("1.")]
    assert [b.type for b in inner][:3] == ["MultiheadAttention", "Dropout", "LayerNorm"]
    assert all(b.depth == 1 for b in inner)
    for b in blocks:
        if b.container:
            continue
        _check_stats(b.act, outs[b.name])
        _check_stats(b.grad, grads[b.name])


def test_trainer_snapshots_carry_blocks_only_for_models_that_are_not_linear_chains():
    sc = get_scenario("digits-mlp")
    torch.manual_seed(0)
    tr = Trainer(sc, TrainConfig.for_scenario(sc, batch_size=16), model=_cnn(images=True).float())
    snap = tr.step(snapshot=True).snapshot
    assert [b.type for b in snap.blocks][1] == "Conv2d"
    assert snap.blocks[1].maps.shape == (4, 8, 8)
    snap2 = tr.snapshot(sample_row=5)
    x, _ = tr.sample_batch()
    with torch.no_grad():
        first = tr.model[1](tr.model[0](x))
    np.testing.assert_allclose(snap2.blocks[1].maps, first[5].numpy(), rtol=1e-5, atol=1e-6)
    size = len(pickle.dumps(snap.blocks))
    assert size < 64_000  # statistics and one sample's maps: small enough to send
    mlp = Trainer(sc, TrainConfig.for_scenario(sc, batch_size=16))
    assert is_linear_chain(mlp.model) and not is_linear_chain(tr.model)
    assert mlp.step(snapshot=True).snapshot.blocks == ()


def test_nan_values_are_counted_not_binned():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU()).double()
    with torch.no_grad():
        model[0].bias[0] = float("nan")
    with ModuleCapture(model, grads=False) as cap:
        model(torch.ones(4, 2, dtype=torch.float64))
    lin = cap.blocks()[0].act
    assert lin.nonfinite == 4 and lin.count == 8 and lin.hist.sum() == 8
