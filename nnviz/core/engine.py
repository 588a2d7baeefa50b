"""The training engine: one scenario, one model, stepped batch by batch.

``Trainer.step()`` runs one batch (and evaluates when it is time);
``Trainer.snapshot()`` captures one forward and backward for the views.
Snapshots are captured through hooks only on the steps that ask for one, so
unwatched training runs the plain torch loop. What to train when — play,
pause, step, the planned length, undo — is the run loop's (``nnviz.core.run``).
"""

from __future__ import annotations

import copy
import math
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from nnviz.core import features as playground  # issue 11: the preset's init, loss, cut
from nnviz.core.capture_state import kept_state
from nnviz.core.datasets import Dataset
from nnviz.core.devices import resolve_device
from nnviz.core.errors import NnvizError
from nnviz.core.features import apply_features, check_playground, featurize  # issue 11
from nnviz.core.features import load_data as load_toy_data
from nnviz.core.models import MLPSpec, neuron_layers, param_count
from nnviz.core.module_capture import SnapshotCapture  # module blocks (issue 9)
from nnviz.core.regularisation import regularised  # playground (issue 11)
from nnviz.core.scenarios import Scenario
from nnviz.core.snapshot import DecisionField, Snapshot, frozen
from nnviz.core.step_capture import BufferPool, LayerCapture, layer_snapshot
from nnviz.core.training_parts import (
    CUSTOM,
    LOSSES,
    CustomParts,
    accuracy_of,
    first_tensor,
    is_linear_chain,
    make_loss,
    make_optimizer,
)

MAX_BATCH = 65_536
FIELD_RES = 64
# Automatic evaluation: after at least EVAL_MIN_INTERVAL seconds of training,
# and no more than EVAL_SHARE of the training time (or at an epoch's end, where
# epochs are long, at most 4 × as often); or, while training mostly
# waits (paused, stepped by hand: under EVAL_IDLE_SHARE of the time), once
# every EVAL_IDLE_INTERVAL seconds. Training time, not wall time, so that
# pauses and other work in the process don't make evaluation more frequent.
EVAL_SHARE = 0.01
EVAL_MIN_INTERVAL = 0.1
EVAL_MAX_INTERVAL = 2.0  # training seconds: the validation curve never stalls longer
EVAL_EPOCH_MIN = 10  # also at the end of epochs of at least this many steps
EVAL_IDLE_INTERVAL = 1.0
EVAL_IDLE_SHARE = 0.1
EVAL_VAL_MAX = 1024  # validation samples per periodic evaluation
EVAL_TRAIN_MAX = 512  # training samples per periodic evaluation


def check_lr(lr) -> float:
    """The learning rate as a float, or a clear error (the one place it is checked)."""
    ok = isinstance(lr, int | float) and not isinstance(lr, bool)
    if not (ok and math.isfinite(lr) and lr > 0):
        raise NnvizError(f"the learning rate must be a positive number, got {lr!r}")
    return float(lr)


@dataclass(frozen=True)
class TrainConfig:
    """Everything the user can change; frozen, replaced as a whole."""

    optimizer: str
    lr: float
    batch_size: int | None  # None: the whole training set
    loss: str
    hidden: tuple[int, ...] | None = None  # layer-list scenarios only
    activation: str | None = None  # hidden activation, layer-list scenarios only
    seed: int = 0
    device: str = "auto"
    # Steps between evaluations; < 0: never; 0: automatic (by training time, at
    # most EVAL_SHARE of it; see EVAL_* above).
    eval_every: int = 0
    # --- playground (issue 11): 2-D data and Playground's controls; the defaults
    # change nothing (None: the scenario's own noise / test ratio / output) ---
    noise: float | None = None
    test_ratio: float | None = None
    features: tuple[str, ...] = ()  # extra inputs after x1, x2 (nnviz.core.features)
    reg: str = "none"  # "none", "l1", "l2": rate·Σ|w| or rate·Σw² over the weights
    reg_rate: float = 0.0
    output_activation: str | None = None  # layer-list scenarios only
    preset: str | None = None  # "playground": its data units, init, ±1 labels, ½(out-y)²

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", tuple(self.features or ()))

    # --- end playground (issue 11) ---

    @classmethod
    def for_scenario(cls, scenario: Scenario, **overrides) -> TrainConfig:
        spec = scenario.spec
        cfg = cls(
            optimizer=scenario.optimizer,
            lr=scenario.lr,
            batch_size=scenario.batch_size,
            loss=scenario.loss,
            hidden=spec.hidden if spec else None,
            activation=(spec.activations[0] if spec and len(spec.activations) > 1 else None),
        )
        return replace(cfg, **overrides)

    def validate(self) -> None:
        check_lr(self.lr)
        if self.batch_size is not None and not (1 <= self.batch_size <= MAX_BATCH):
            raise NnvizError(
                f"the batch size must be between 1 and {MAX_BATCH}, got {self.batch_size!r}"
            )
        if self.loss not in LOSSES and self.loss != CUSTOM:
            raise NnvizError(f"unknown loss {self.loss!r}; choose one of {', '.join(LOSSES)}")
        if not isinstance(self.eval_every, int):
            raise NnvizError(f"eval_every must be a whole number, got {self.eval_every!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise NnvizError(f"the seed must be a whole number ≥ 0, got {self.seed!r}")
        check_playground(self)  # playground (issue 11): noise, ratio, features, L1/L2


@dataclass(frozen=True)
class EvalMetrics:
    step: int
    epoch: float
    train_loss: float
    train_accuracy: float | None
    val_loss: float
    val_accuracy: float | None


class StepMetrics(NamedTuple):
    """One training step's result (a named tuple: made every step, so cheap)."""

    step: int  # steps done so far (1 after the first)
    epoch: int  # epochs completed so far
    loss: float  # this batch's loss
    snapshot: Snapshot | None = None
    eval: EvalMetrics | None = None


def _accuracy(out: torch.Tensor, y: torch.Tensor, binary: bool, cut: float = 0.5) -> float:
    if binary:
        return float(((out > cut) == (y > 0.5)).float().mean())
    return float((out.argmax(dim=1) == y).float().mean())


class Trainer:
    """A scenario's model, data, loss and optimizer on one device."""

    def __init__(
        self,
        scenario: Scenario,
        config: TrainConfig | None = None,
        data_dir: str | Path | None = None,
        dataset: Dataset | None = None,
        model: nn.Module | None = None,
        parts: CustomParts | None = None,
    ) -> None:
        self.scenario = scenario
        # a model file's loss callable, optimizer factory and task (nnviz.core.model_file)
        self.parts = parts
        self.config = config or TrainConfig.for_scenario(scenario)
        self.config.validate()
        self.device = resolve_device(self.config.device)
        # Denormal floats (below 1e-38) appear in Adam's moments within seconds and
        # made mnist-mlp's optimizer step twice as slow on the CPU (1.1 -> 2.3 ms,
        # measured); flushing them to zero changes no number that matters. It is
        # set for the training thread, before torch starts its thread pool from it,
        # so the pool's threads inherit it.
        torch.set_flush_denormal(True)
        self.data_dir = Path(data_dir) if data_dir is not None else None
        if dataset is None:
            if not scenario.trainable:
                scenario.build_model()  # raises the "expression, not a model" error
            torch.manual_seed(self.config.seed)
            dataset = load_toy_data(scenario, self.config, self.data_dir)  # playground (issue 11)
        self.raw_dataset = dataset  # --- playground (issue 11): + extra input features ---
        dataset = featurize(dataset, self.config.features)
        self.dataset = dataset
        self._user_model = model
        self.dtype = scenario.dtype
        self._to = dict(device=self.device, dtype=self.dtype)
        # integer inputs (token ids for an nn.Embedding) stay integer
        xdt = torch.long if dataset.x_train.dtype.kind in "iu" else self.dtype
        self.x_train = torch.as_tensor(dataset.x_train, device=self.device, dtype=xdt)
        self.x_val = torch.as_tensor(dataset.x_val, device=self.device, dtype=xdt)
        self.binary = dataset.binary
        ydt = self.dtype if self.binary or dataset.y_train.dtype.kind == "f" else torch.long
        self.y_train = torch.as_tensor(dataset.y_train, device=self.device, dtype=ydt)
        self.y_val = torch.as_tensor(dataset.y_val, device=self.device, dtype=ydt)
        self.n_train = int(self.x_train.shape[0])
        bs = self.config.batch_size or self.n_train
        self.batch_size = min(bs, self.n_train)
        self.steps_per_epoch = max(1, math.ceil(self.n_train / self.batch_size))
        # Evaluation runs on subsets, by default at a cadence that keeps its
        # measured cost under EVAL_SHARE of the time (see evaluate_now).
        self.eval_every = self.config.eval_every
        self._user_state = (
            {k: v.detach().clone() for k, v in model.state_dict().items()}
            if model is not None
            else None
        )
        self._param_pool, self._grad_pool = BufferPool(), BufferPool()
        self._snap_request = threading.Event()
        self.sample_row = 0  # the batch row snapshots show by default (wraps around)
        self._snap_row = 0
        self.reset()

    # --- set-up -------------------------------------------------------------------

    @property
    def spec(self) -> MLPSpec | None:
        sc, cfg = self.scenario, self.config
        if sc.spec is None or self._user_model is not None:
            return None
        spec = sc.spec
        if sc.editable and cfg.hidden is not None:
            spec = sc.spec.with_hidden(cfg.hidden, cfg.activation)
        # --- playground (issue 11): the input width with features; the output activation ---
        if cfg.features or cfg.output_activation:
            out = cfg.output_activation or spec.activations[-1]
            spec = replace(spec, sizes=(2 + len(cfg.features), *spec.sizes[1:]))
            spec = replace(spec, activations=(*spec.activations[:-1], out))
        return spec  # --- end playground (issue 11) ---

    def fork(self) -> Trainer:
        """A copy holding this trainer's model, optimizer and counters as they
        are now, sharing its data: what :meth:`reset` replaces, kept for undo.

        ``reset`` makes a new model and optimizer rather than changing these,
        so the copy shares them; a user's own model is reloaded in place, so
        it is copied (with its optimizer, in one go: the optimizer must keep
        pointing at the copy's parameters)."""
        other = copy.copy(self)
        if self._user_model is not None:
            other.model, other.optimizer = copy.deepcopy((self.model, self.optimizer))
            other._user_model = other.model
            other.layers = self._neuron_layers(other.model)
        return other

    def reset(self) -> None:
        """A fresh model and optimizer (same seed: the same start)."""
        torch.manual_seed(self.config.seed)
        if self._user_model is not None:
            self.model = self._user_model
            self.model.load_state_dict(self._user_state)
        else:
            self.model = self.scenario.build_model(self.spec)
            playground.preset_init(self.model, self.config)  # issue 11: Playground's start
        self.model.to(**self._to)
        self.model.train()
        self.loss_fn = playground.preset_loss(self.config) or make_loss(
            self.config.loss, self.parts
        )
        if isinstance(self.loss_fn, nn.Module):
            self.loss_fn.to(self.device)
        # --- playground (issue 11): training adds rate·penalty; evaluation does not ---
        self._train_loss = regularised(
            self.loss_fn, self.model, self.config.reg, self.config.reg_rate
        )
        if self.parts is None:  # a model file's loss was checked on its data when loaded
            self._check_loss_fits()
        self.optimizer = make_optimizer(
            self.config.optimizer, self.model, self.config.lr, self.parts
        )
        self.layers = self._neuron_layers(self.model)
        self.step_count = 0
        self.epoch = 0
        self._gen = torch.Generator().manual_seed(self.config.seed)
        self._order: torch.Tensor | None = None
        self._pos = 0
        self.last_eval: EvalMetrics | None = None
        self._eval_step = 0
        self._eval_wall = time.perf_counter()  # when the last evaluation ended
        self._train_time = 0.0  # seconds spent in step() since then
        self._eval_after = EVAL_MIN_INTERVAL  # training seconds until the next one
        self._batch = self._next_batch_indices()

    def _neuron_layers(self, model: nn.Module):
        """The Linear layers the neuron view draws: all of a built-in model's;
        a user's model only when it is a Linear chain (else its modules are
        shown as blocks)."""
        if self._user_model is not None and not is_linear_chain(model):
            return []
        return neuron_layers(model)

    def _check_loss_fits(self) -> None:
        kind = LOSSES[self.config.loss].classification
        if kind == "multiclass" and self.binary:
            raise NnvizError(
                "cross-entropy needs one output per class, but this model has one "
                "probability output; use binary cross-entropy, MSE or L1"
            )
        if kind == "binary" and not self.binary:
            raise NnvizError(
                "binary cross-entropy needs one probability output, but this model "
                "outputs class scores; use cross-entropy"
            )
        if not self.binary and self.y_train.dtype == torch.long and kind == "any":
            raise NnvizError(
                f"{LOSSES[self.config.loss].label} compares outputs with targets of the "
                "same shape; for classes use cross-entropy"
            )

    def set_lr(self, lr: float) -> None:
        """A new learning rate, live: the model and optimizer state are kept."""
        lr = check_lr(lr)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.config = replace(self.config, lr=lr)

    @property
    def param_count(self) -> int:
        return param_count(self.model)

    # --- batches --------------------------------------------------------------------

    def _next_batch_indices(self) -> torch.Tensor | None:
        if self.batch_size >= self.n_train:
            return None  # full batch: the whole set, in order
        if self._order is None or self._pos >= self.n_train:
            self._order = torch.randperm(self.n_train, generator=self._gen)
            self._pos = 0
        idx = self._order[self._pos : self._pos + self.batch_size]
        self._pos += self.batch_size
        return idx

    def _batch_tensors(self, idx: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        if idx is None:
            return self.x_train, self.y_train
        idx = idx.to(self.device)
        return self.x_train[idx], self.y_train[idx]

    def sample_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch the next step will train on."""
        return self._batch_tensors(self._batch)

    # --- stepping ---------------------------------------------------------------------

    def request_snapshot(self, sample_row: int | None = None) -> None:
        """Ask for a snapshot of the next step (thread-safe); the row of the
        batch it shows defaults to :attr:`sample_row`."""
        self._snap_row = self.sample_row if sample_row is None else sample_row
        self._snap_request.set()

    def step(self, snapshot: bool = False) -> StepMetrics:
        """Train on one batch (with a snapshot of it if asked for, here or by
        :meth:`request_snapshot`)."""
        t_start = time.perf_counter()
        idx = self._batch
        if idx is None:
            x, y = self.x_train, self.y_train
        else:
            x, y = self._batch_tensors(idx)
        snap = None
        requested = self._snap_request.is_set()
        if snapshot or requested:
            self._snap_request.clear()
            row = self._snap_row if requested else self.sample_row
            with SnapshotCapture(self.model, self.layers, row=row) as capture:  # issue 9
                out = self.model(x)
                loss = self._train_loss(out, y)  # playground (issue 11)
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
            snap = self._make_snapshot(capture, x, y, out, loss, idx, row)
        else:
            out = self.model(x)
            loss = self._train_loss(out, y)  # playground (issue 11)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
        self.optimizer.step()
        # --- health (issue 12): per-layer statistics on snapshot steps, after the update ---
        if snap is not None:
            from nnviz.core.health import observe

            snap = observe(self, snap, capture)
        # --- end health (issue 12) ---
        self.step_count += 1
        loss_value = loss.item()
        epoch_before = self.epoch
        if idx is None:
            self.epoch += 1
        else:
            if self._pos >= self.n_train:
                self.epoch += 1
            self._batch = self._next_batch_indices()
        ev = None
        every = self.eval_every
        if every == 0:
            now = time.perf_counter()
            self._train_time += now - t_start
            epoch_end = self.epoch != epoch_before and self.steps_per_epoch >= EVAL_EPOCH_MIN
            if self._train_time >= self._eval_after or (
                epoch_end and self._train_time >= max(EVAL_MIN_INTERVAL, self._eval_after / 4)
            ):
                ev = self.evaluate_now()
            else:
                waited = now - self._eval_wall
                if waited >= EVAL_IDLE_INTERVAL and self._train_time < EVAL_IDLE_SHARE * waited:
                    ev = self.evaluate_now()
        elif every > 0 and self.step_count - self._eval_step >= every:
            ev = self.evaluate_now()
        return StepMetrics(self.step_count, self.epoch, loss_value, snap, ev)

    def evaluate_now(self) -> EvalMetrics:
        """A periodic evaluation (on the usual subsets) now, and the cadence
        restarted from here: when training stops, the curves show where."""
        # The cost is this thread's CPU time: in the app, time spent waiting for
        # the GIL while the GUI draws is not evaluation's cost, and counting it
        # once pushed the next evaluation seconds away.
        c0 = time.thread_time()
        ev = self.evaluate(EVAL_TRAIN_MAX, EVAL_VAL_MAX)
        cost = time.thread_time() - c0
        self._eval_step = self.step_count
        self._eval_wall, self._train_time = time.perf_counter(), 0.0
        self._eval_after = min(max(EVAL_MIN_INTERVAL, cost / EVAL_SHARE), EVAL_MAX_INTERVAL)
        return ev

    # --- evaluation ---------------------------------------------------------------------

    @torch.no_grad()
    def _loss_acc(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float | None]:
        total, correct, n = 0.0, 0.0, int(x.shape[0])
        if n == 0:  # (issue 13) no samples (a one-sample set has no validation)
            return math.nan, None
        chunk = 4096
        parts = self.parts
        # a model file's own loss function: taken as a mean (the usual) unless it says
        reduction = getattr(self.loss_fn, "reduction", "sum" if parts is None else "mean")
        for i in range(0, n, chunk):
            out = self.model(x[i : i + chunk])
            yy = y[i : i + chunk]
            rows = int(yy.shape[0])
            part = float(self.loss_fn(out, yy))
            total += part * (rows if reduction == "mean" else 1)
            if parts is None:
                correct += (
                    _accuracy(out, yy, self.binary, playground.output_cut(self.config)) * rows
                )
            elif correct is not None:
                acc = accuracy_of(out, yy, parts)
                correct = None if acc is None else correct + acc * rows
        loss = total / n if reduction == "mean" else total
        return loss, (correct / n if correct is not None else None)

    def evaluate(self, max_train: int | None = None, max_val: int | None = None) -> EvalMetrics:
        """Loss and accuracy on (the first ``max_*`` samples of) both sets."""
        was_training = self.model.training
        self.model.eval()
        try:
            tl, ta = self._loss_acc(self.x_train[:max_train], self.y_train[:max_train])
            vl, va = self._loss_acc(self.x_val[:max_val], self.y_val[:max_val])
        finally:
            self.model.train(was_training)
        self.last_eval = EvalMetrics(
            self.step_count, self.step_count / self.steps_per_epoch, tl, ta, vl, va
        )
        return self.last_eval

    @torch.no_grad()
    def predict(self, x: np.ndarray) -> np.ndarray:
        out = self.model(torch.as_tensor(x, **self._to))
        if self.binary:
            return (out > playground.output_cut(self.config)).long().reshape(-1).cpu().numpy()
        return out.argmax(dim=1).cpu().numpy()

    # --- snapshots --------------------------------------------------------------------------

    def snapshot(self, sample_row: int | None = None) -> Snapshot:
        """A snapshot of one forward/backward on the next batch, with no update."""
        x, y = self.sample_batch()
        row = self.sample_row if sample_row is None else sample_row
        capture = SnapshotCapture(self.model, self.layers, row=row)  # issue 9: + blocks
        # No update: BatchNorm's running statistics and the RNG stay as they were.
        with kept_state(self.model), capture:
            out = self.model(x)
            loss = self._train_loss(out, y)  # playground (issue 11)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
        return self._make_snapshot(capture, x, y, out, loss, self._batch, row)

    def _make_snapshot(self, capture, x, y, out, loss, idx, row) -> Snapshot:
        row = int(row) % int(x.shape[0])  # rows wrap: a view can cycle through the batch
        # Each parameter and gradient is copied once, into reused buffers;
        # layers share the copies.
        named = list(self.model.named_parameters())
        params = self._param_pool.copy(named)
        grads = self._grad_pool.copy([(n, p.grad) for n, p in named if p.grad is not None])
        layers = []
        for spec in self.layers:
            rec = capture.records.get(spec.linear, {})
            layer = layer_snapshot(spec, rec, params, grads, self.model, row)
            if layer is not None:  # None: a layer the forward did not run
                layers.append(layer)
        sample_index = int(idx[row]) if idx is not None else row
        return Snapshot(
            step=self.step_count,
            epoch=self.epoch,
            loss=float(loss.detach()),
            sample_row=row,
            sample_index=sample_index,
            input=frozen(x[row].reshape(-1)),
            input_shape=tuple(self.dataset.input_shape),
            target=frozen(playground.as_target(y[row], self.config).reshape(-1)),  # issue 11
            output=frozen(first_tensor(out)[row].reshape(-1)),  # a tuple: its first tensor
            layers=tuple(layers),
            blocks=capture.blocks() if hasattr(capture, "blocks") else (),  # issue 9
            params=MappingProxyType(params),
            grads=MappingProxyType(grads),
            field=self.decision_field() if self.scenario.two_d else None,
        )

    @torch.no_grad()
    def decision_field(self, res: int = FIELD_RES) -> DecisionField:
        """The model over a grid of the input plane (2-D scenarios)."""
        raw = getattr(self, "raw_dataset", self.dataset)  # playground (issue 11): the 2-D points
        pts = np.concatenate([raw.x_train, raw.x_val])
        lo = np.floor(pts.min(0) * 10) / 10 - 0.1
        hi = np.ceil(pts.max(0) * 10) / 10 + 0.1
        xs = np.linspace(lo[0], hi[0], res)
        ys = np.linspace(lo[1], hi[1], res)
        gx, gy = np.meshgrid(xs, ys)  # row = y, column = x
        grid = torch.as_tensor(np.stack([gx.ravel(), gy.ravel()], 1), **self._to)
        grid = apply_features(grid, self.config.features)  # playground (issue 11)
        capture = LayerCapture(self.model, self.layers, grads=False)
        with capture:
            out = self.model(grid)
        hidden = []
        for spec in self.layers[:-1]:
            a = capture.records[spec.linear].get("a", capture.records[spec.linear]["z"])
            # thumbnails a few dozen pixels wide: every other grid point (a quarter to send)
            hidden.append(frozen(a.T.reshape(-1, res, res)[:, ::2, ::2]))
        prob = out[:, 0] if self.binary else torch.softmax(out, 1)[:, -1]
        prob = playground.as_probability(prob, self.config)  # issue 11: tanh's ±1 to 0..1
        return DecisionField(
            (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])),
            frozen(prob.reshape(res, res)),
            tuple(hidden),
        )
