"""Real :class:`Snapshot` objects from a torch model and a batch, for the view tests.

Written independently of the engine (forward hooks on every Linear and its
activation, tensor hooks for dL/dz and dL/da), so the views can be tested
against torch's own numbers whatever the engine does.
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np
import torch
from torch import nn

from nnviz.core.models import MLPSpec, build_mlp, neuron_layers
from nnviz.core.snapshot import DecisionField, LayerSnapshot, Snapshot, frozen


def make_model(sizes, activation: str = "tanh", out: str = "sigmoid", seed: int = 0, flatten=False):
    torch.manual_seed(seed)
    sizes = tuple(int(s) for s in sizes)
    acts = (*([activation] * (len(sizes) - 2)), out)
    return build_mlp(MLPSpec(sizes, acts, flatten=flatten))


def capture(model: nn.Module, x: torch.Tensor):
    """One forward pass with hooks: per Linear path, z / a tensors (requires grad)."""
    layers = neuron_layers(model)
    rec: dict[str, dict[str, torch.Tensor]] = {}
    handles = []

    def hook(path, key):
        def fwd(_m, _inp, out):
            rec.setdefault(path, {})[key] = out
            if out.requires_grad:
                out.retain_grad()

        return fwd

    for spec in layers:
        handles.append(
            model.get_submodule(spec.linear).register_forward_hook(hook(spec.linear, "z"))
        )
        if spec.act is not None:
            handles.append(
                model.get_submodule(spec.act).register_forward_hook(hook(spec.linear, "a"))
            )
    try:
        out = model(x)
    finally:
        for h in handles:
            h.remove()
    return layers, rec, out


def make_snapshot(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    loss_fn: nn.Module,
    *,
    sample_row: int = 0,
    input_shape: tuple[int, ...] | None = None,
    step: int = 0,
    field_points: np.ndarray | None = None,
    field_res: int = 32,
) -> Snapshot:
    """A Snapshot of one forward + backward of ``model`` on ``(x, y)`` (no update)."""
    model.zero_grad(set_to_none=True)
    layers, rec, out = capture(model, x)
    loss = loss_fn(out, y)
    loss.backward()
    row = sample_row
    snaps = []
    for spec in layers:
        r = rec[spec.linear]
        z = r["z"]
        a = r.get("a", z)
        lin = model.get_submodule(spec.linear)
        z2, a2 = z.reshape(z.shape[0], -1), a.reshape(a.shape[0], -1)
        dz = z.grad.reshape(z.shape[0], -1) if z.grad is not None else None
        da = a.grad.reshape(a.shape[0], -1) if a.grad is not None else dz
        snaps.append(
            LayerSnapshot(
                name=spec.linear,
                activation=spec.activation,
                z=frozen(z2[row]),
                a=frozen(a2[row]),
                dz=frozen(dz[row]) if dz is not None else None,
                da=frozen(da[row]) if da is not None else None,
                weight=frozen(lin.weight),
                bias=frozen(lin.bias) if lin.bias is not None else None,
                weight_grad=frozen(lin.weight.grad),
                bias_grad=frozen(lin.bias.grad) if lin.bias is not None else None,
                a_mean=frozen(a2.mean(0)),
                a_std=frozen(a2.std(0)) if a2.shape[0] > 1 else frozen(torch.zeros_like(a2[0])),
                dz_abs_mean=frozen(dz.abs().mean(0)) if dz is not None else None,
                dead_fraction=float((a2 == 0).float().mean()) if spec.activation == "relu" else 0.0,
            )
        )
    field = None
    if field_points is not None:
        field = decision_field(model, field_points, field_res)
    shape = input_shape or tuple(x.shape[1:])
    return Snapshot(
        step=step,
        epoch=0,
        loss=float(loss.detach()),
        sample_row=row,
        sample_index=row,
        input=frozen(x[row].reshape(-1)),
        input_shape=shape,
        target=frozen(y[row].reshape(-1)),
        output=frozen(out[row].reshape(-1)),
        layers=tuple(snaps),
        params=MappingProxyType({n: frozen(p) for n, p in model.named_parameters()}),
        grads=MappingProxyType(
            {n: frozen(p.grad) for n, p in model.named_parameters() if p.grad is not None}
        ),
        field=field,
    )


@torch.no_grad()
def decision_field(model: nn.Module, points: np.ndarray, res: int = 32) -> DecisionField:
    lo = points.min(0) - 0.2
    hi = points.max(0) + 0.2
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], res), np.linspace(lo[1], hi[1], res))
    grid = torch.as_tensor(np.stack([gx.ravel(), gy.ravel()], 1), dtype=torch.float32)
    layers, rec, out = capture(model, grid)
    hidden = tuple(
        frozen(rec[s.linear].get("a", rec[s.linear]["z"]).T.reshape(-1, res, res))
        for s in layers[:-1]
    )
    return DecisionField(
        (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])),
        frozen(out[:, 0].reshape(res, res)),
        hidden,
    )


def toy_data(n: int = 128, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two noisy concentric rings (label 1 inside)."""
    rng = np.random.default_rng(seed)
    r = np.where(np.arange(n) % 2 == 0, rng.uniform(0, 0.5, n), rng.uniform(0.7, 1.0, n))
    t = rng.uniform(0, 2 * np.pi, n)
    x = np.stack([r * np.cos(t), r * np.sin(t)], 1) + rng.normal(0, 0.05, (n, 2))
    y = (r < 0.6).astype(np.float32)
    return x.astype(np.float32), y


def train(model, x, y, loss_fn, steps: int, lr: float = 0.05, batch: int | None = None, seed=0):
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        if batch is not None:
            idx = torch.randint(0, x.shape[0], (batch,), generator=gen)
            xb, yb = x[idx], y[idx]
        else:
            xb, yb = x, y
        opt.zero_grad()
        loss_fn(model(xb), yb).backward()
        opt.step()


def snapshot_2d(sizes=(2, 4, 4, 1), activation="tanh", seed=0, steps=0, field=True, row=0):
    """A 2-D classification snapshot (with a decision field)."""
    xn, yn = toy_data(seed=seed)
    model = make_model(sizes, activation, "sigmoid", seed=seed)
    x = torch.as_tensor(xn)
    y = torch.as_tensor(yn).reshape(-1, 1)
    loss_fn = nn.BCELoss()
    if steps:
        train(model, x, y, loss_fn, steps)
    return make_snapshot(
        model, x, y, loss_fn, sample_row=row, step=steps, field_points=xn if field else None
    ), (xn, yn)


def digit_images(n: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """28×28 digit pictures (scikit-learn's bundled 8×8 digits, upscaled) in [0, 1]."""
    from sklearn.datasets import load_digits

    d = load_digits()
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(d.images), n, replace=False)
    img = d.images[idx] / 16.0  # (n, 8, 8)
    t = torch.as_tensor(img, dtype=torch.float32)[:, None]
    big = torch.nn.functional.interpolate(t, size=(20, 20), mode="bilinear", align_corners=False)
    out = torch.zeros(n, 28, 28)
    out[:, 4:24, 4:24] = big[:, 0].clamp(0, 1)
    return out.numpy(), d.target[idx].astype(np.int64)


def snapshot_mnist(hidden=(512, 512), seed=0, steps=0, row=0, n=64):
    """An MNIST-sized snapshot (784-…-10, ReLU, cross-entropy)."""
    xn, yn = digit_images(n, seed)
    model = make_model((784, *hidden, 10), "relu", "linear", seed=seed, flatten=True)
    x, y = torch.as_tensor(xn), torch.as_tensor(yn)
    loss_fn = nn.CrossEntropyLoss()
    if steps:
        train(model, x, y, loss_fn, steps, lr=1e-3, batch=32, seed=seed)
    return make_snapshot(model, x, y, loss_fn, sample_row=row, input_shape=(28, 28), step=steps)


def training_series(kind: str = "2d", snapshots: int = 12, every: int = 4, row: int = 0, seed=0):
    """Snapshots of one model as it trains (one every ``every`` steps), and the data."""
    if kind == "2d":
        xn, yn = toy_data(seed=seed)
        model = make_model((2, 8, 8, 1), "tanh", "sigmoid", seed=seed)
        x, y = torch.as_tensor(xn), torch.as_tensor(yn).reshape(-1, 1)
        loss_fn, lr, batch, shape, pts = nn.BCELoss(), 0.05, None, None, xn
    else:
        xn, yn = digit_images(64, seed)
        model = make_model((784, 512, 512, 10), "relu", "linear", seed=seed, flatten=True)
        x, y = torch.as_tensor(xn), torch.as_tensor(yn)
        loss_fn, lr, batch, shape, pts = nn.CrossEntropyLoss(), 1e-3, 32, (28, 28), None
    out = []
    for i in range(snapshots):
        step = i * every
        field_kw = {"field_points": pts, "field_res": 64} if pts is not None else {}
        out.append(
            make_snapshot(
                model, x, y, loss_fn, sample_row=row, input_shape=shape, step=step, **field_kw
            )
        )
        train(model, x, y, loss_fn, every, lr=lr, batch=batch, seed=seed + i)
    return out, (xn, yn)


def snapshot_series(kind: str = "mnist", frames: int = 8, seed: int = 0, **kw) -> list[Snapshot]:
    """Several snapshots of the same architecture on different samples (for benchmarks)."""
    make = snapshot_mnist if kind == "mnist" else snapshot_2d
    out = []
    for i in range(frames):
        s = make(seed=seed, row=i, **kw)
        out.append(s if kind == "mnist" else s[0])
    return out
