"""A user's own model file: any ``nn.Module`` and its data, in every command.

A model file is a plain Python file (or ``package.module:function``) that defines

- ``model()`` → an ``nn.Module`` (required; with ``package.module:function``
  the named function plays this part);
- ``data()`` → ``(X, y)`` tensors or arrays, a torch ``Dataset``, a
  ``DataLoader``, or a ``(train, validation)`` pair of those (optional when
  ``example_input()`` is given);
- optionally ``loss`` (a callable ``loss(output, target)`` or one of the names in
  :data:`nnviz.core.training_parts.LOSSES`), ``optimizer(params)`` → a torch
  optimizer, ``example_input()`` → one batch, ``classes`` → label names,
  ``task`` (``"classify"`` or ``"regress"``; guessed from the targets), and the
  defaults ``lr``, ``batch_size``, ``epochs`` or ``steps``.

:func:`load_model_file` imports it, reads its data once, and runs one forward,
loss and backward on a small batch, so that a mistake (a syntax error, no
``model()``, data of the wrong type, a shape mismatch, a loss that does not fit,
NaN in the data) is reported at once, naming the file and line, with the
user's own traceback frames (:class:`nnviz.core.user_code.UserCodeError`).
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import importlib.util
import itertools
import re
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType

import numpy as np
import torch
from torch import nn

from nnviz.core.data_common import Dataset
from nnviz.core.engine import TrainConfig, Trainer
from nnviz.core.errors import NnvizError
from nnviz.core.model_data import DataProblem, describe, materialise
from nnviz.core.scenarios import Scenario
from nnviz.core.training_parts import CUSTOM, LOSSES, OPTIMIZERS, CustomParts, make_loss
from nnviz.core.user_code import UserCode, UserCodeError

PROBE_ROWS = 4  # the batch the load-time check runs
DEFAULT_LR = 1e-3
DEFAULT_BATCH = 64
DEFAULT_EPOCHS = 10
TASKS = ("classify", "regress")
_MODULE_SPEC = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")
_CLASSIFY_LOSSES = (nn.CrossEntropyLoss, nn.NLLLoss, nn.BCELoss, nn.BCEWithLogitsLoss)
_counter = itertools.count(1)


@dataclass(frozen=True)
class FileScenario(Scenario):
    """A scenario made from a model file; ``model_file`` is where it came from
    (an absolute path, or ``package.module:function``): a run given this
    scenario loads that file. Plain fields only, so it crosses to the training
    process."""

    model_file: str = ""


def is_model_file(text: str) -> bool:
    """Whether a command's target names a model file rather than a scenario id."""
    text = str(text)
    return text.endswith(".py") or bool(_MODULE_SPEC.fullmatch(text)) or "/" in text or "\\" in text


@dataclass
class ModelFile:
    """A loaded model file: its scenario, data (None when it has only
    ``example_input()``), loss and optimizer parts, and ``build_model``."""

    spec: str  # absolute path, or package.module:function
    display: str  # as the user named it
    module: ModuleType
    scenario: FileScenario
    dataset: Dataset | None
    parts: CustomParts
    example_input: torch.Tensor | None
    user: UserCode
    model_fn: Callable
    model_name: str  # the function's name in the file (for messages)

    def build_model(self, seed: int = 0) -> nn.Module:
        """A fresh model from ``model()``; the same seed gives the same start."""
        torch.manual_seed(seed)
        with self.user.calling(f"{self.model_name}() raised", at=self.model_name), _on_path(self):
            model = self.model_fn()
        if not isinstance(model, nn.Module):
            raise self.user.at(
                self.model_name,
                f"{self.model_name}() returned {describe(model)}, not an nn.Module; "
                "return the network, e.g. nn.Sequential(...)",
            )
        return model

    def config(self, **overrides) -> TrainConfig:
        return TrainConfig.for_scenario(self.scenario, **overrides)

    def trainer(self, config: TrainConfig | None = None, model: nn.Module | None = None) -> Trainer:
        """A trainer for this file: its data, its parts and ``model`` (default: a
        fresh ``model()``)."""
        if self.dataset is None:
            raise UserCodeError(
                self.display,
                None,
                "defines no data(), so there is nothing to train on; add "
                "`def data(): return X, y` (tensors, a Dataset or a DataLoader)",
            )
        config = config or self.config()
        model = model if model is not None else self.build_model(config.seed)
        if config.loss != self.scenario.loss:  # chosen instead of the file's: does it fit?
            ds = self.dataset
            loss_fn = make_loss(config.loss, self.parts)
            check_fit(
                self,
                copy.deepcopy(model),
                loss_fn,
                config.loss,
                ds.x_train,
                ds.y_train,
                self.scenario.dtype,
            )
        return Trainer(self.scenario, config, dataset=self.dataset, model=model, parts=self.parts)


def model_file_for(ref, scenario, loaded: ModelFile | None) -> ModelFile:
    """The model file a run's Configure names: ``ref`` (a spec, loaded anew so
    that opening a file again picks up its edits, or a loaded ModelFile), else
    the scenario's own file (a settings change: ``loaded`` is kept if it is that file)."""
    if isinstance(ref, ModelFile):
        return ref
    if ref is not None:
        return load_model_file(str(ref))
    if loaded is not None and loaded.spec == scenario.model_file:
        return loaded
    return load_model_file(scenario.model_file)


# --- importing ------------------------------------------------------------------------


@contextlib.contextmanager
def _on_path(mf_or_user):
    """The file's folder on sys.path while its code runs (``import helpers`` works)."""
    user = mf_or_user.user if isinstance(mf_or_user, ModelFile) else mf_or_user
    folder = str(user.path.parent) if user.path is not None and user.root is None else None
    if folder is None or folder in sys.path:
        yield
        return
    sys.path.insert(0, folder)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(folder)


def _import_file(text: str) -> tuple[ModuleType, UserCode, str, str]:
    """(module, user code, absolute spec, model function name) for a file path."""
    path = Path(text).expanduser()
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise NnvizError(
            f"the model file {text!r} {what}; give a .py file that defines model() "
            "(or a scenario id: `nnviz scenarios` lists them)"
        )
    if path.suffix != ".py":
        raise NnvizError(
            f"{text!r} is not a Python file; a model file is a .py file that defines model()"
        )
    path = path.resolve()
    user = UserCode(text, path)
    stem = re.sub(r"\W", "_", path.stem)
    name = f"nnviz_model_file_{stem}_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise NnvizError(f"cannot import {text!r} as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its classes can be pickled and deep-copied by name
    try:
        with user.calling("importing the file raised"), _on_path(user):
            spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module, user, str(path), "model"


def _import_module(text: str) -> tuple[ModuleType, UserCode, str, str]:
    """(module, user code, spec, function name) for ``package.module:function``."""
    mod_name, fn_name = text.split(":")
    try:
        found = importlib.util.find_spec(mod_name)
    except (ImportError, ValueError):
        found = None
    if found is None or found.origin is None:
        raise NnvizError(
            f"no module {mod_name!r} to import for {text!r}; install it, or give the "
            "path of a .py file instead"
        )
    path = Path(found.origin)
    root = path.parent if mod_name.count(".") or path.name == "__init__.py" else None
    user = UserCode(text, path, root)
    with user.calling(f"importing {mod_name} raised"):
        module = importlib.import_module(mod_name)
    return module, user, text, fn_name


# --- loading ----------------------------------------------------------------------------


def load_model_file(spec: str) -> ModelFile:
    """Import a model file, read its data and check that it runs (see the module
    docstring); every problem is a :class:`UserCodeError` naming the file and line."""
    text = str(spec)
    if _MODULE_SPEC.fullmatch(text) and not text.endswith(".py"):
        module, user, abs_spec, fn_name = _import_module(text)
    else:
        module, user, abs_spec, fn_name = _import_file(text)
    model_fn = getattr(module, fn_name, None)
    if model_fn is None:
        raise UserCodeError(
            user.display,
            None,
            f"defines no {fn_name}() function; add a `def {fn_name}():` that returns the "
            "nn.Module to train, e.g. `return nn.Sequential(nn.Linear(2, 8), nn.ReLU(), ...)`",
        )
    if isinstance(model_fn, nn.Module) or not callable(model_fn):
        raise user.at(
            fn_name,
            f"{fn_name} must be a function that returns an nn.Module, but it is "
            f"{describe(model_fn)}; write `def {fn_name}(): return ...`",
        )
    mf = ModelFile(
        spec=abs_spec,
        display=user.display,
        module=module,
        scenario=FileScenario("", "", "", ""),  # filled in below
        dataset=None,
        parts=CustomParts(),
        example_input=None,
        user=user,
        model_fn=model_fn,
        model_name=fn_name,
    )
    model = mf.build_model(0)
    dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
    arrays = _read_data(mf)
    mf.example_input = _example_input(mf)
    if arrays is None:
        if mf.example_input is None:
            raise UserCodeError(
                user.display,
                None,
                "defines neither data() nor example_input(); add `def data(): return X, y` "
                "(to train) or `def example_input(): return torch.randn(...)` (to see its graph)",
            )
        with torch.no_grad():
            _forward(mf, copy.deepcopy(model), mf.example_input)
        mf.scenario = _scenario(mf, dtype, CUSTOM, CUSTOM, n_train=0, lr=DEFAULT_LR)
        return mf
    x, y, xv, yv, held_out = arrays
    task = _task(mf, y)
    loss_name, loss_fn, parts = _resolve_loss(mf, model, x, y, task, dtype)
    probe = copy.deepcopy(model)  # the check's forward must not move the model's statistics
    check_fit(mf, probe, loss_fn, loss_name, x, y, dtype)
    opt_name, factory, opt_lr = _optimizer(mf, probe)
    lr = opt_lr if opt_lr is not None else _number(mf, "lr", float, DEFAULT_LR)
    mf.parts = replace(parts, optimizer=factory, default_lr=opt_lr)
    note = f"{len(x):,} training and {len(xv):,} validation rows" + (
        " (held out from data())" if held_out else ""
    )
    classes = _classes(mf, task, y)
    shape = tuple(int(s) for s in x.shape[1:])
    mf.dataset = Dataset(user.display, x, y, xv, yv, shape, classes, note=note)
    mf.scenario = _scenario(mf, dtype, loss_name, opt_name, n_train=len(x), lr=lr)
    return mf


def _read_data(mf: ModelFile):
    fn = getattr(mf.module, "data", None)
    if fn is None:
        return None
    if not callable(fn):
        raise mf.user.at("data", f"data must be a function, but it is {describe(fn)}")
    try:
        with mf.user.calling("data() raised", at="data"), _on_path(mf):
            return materialise(fn())
    except DataProblem as exc:
        raise mf.user.at("data", f"data() {exc}") from None


def _example_input(mf: ModelFile) -> torch.Tensor | None:
    fn = getattr(mf.module, "example_input", None)
    if fn is None:
        return None
    with mf.user.calling("example_input() raised", at="example_input"), _on_path(mf):
        x = fn() if callable(fn) else fn
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if not isinstance(x, torch.Tensor):
        raise mf.user.at(
            "example_input",
            f"example_input() returned {describe(x)}; return one batch as a tensor",
        )
    return x


def _task(mf: ModelFile, y: np.ndarray) -> str:
    task = getattr(mf.module, "task", None)
    if task is None:
        loss = getattr(mf.module, "loss", None)
        if y.dtype.kind in "iu" or loss in ("cross_entropy", "bce"):
            return "classify"
        if isinstance(loss, _CLASSIFY_LOSSES) or loss in _CLASSIFY_LOSSES:
            return "classify"
        return "regress"
    if task not in TASKS:
        raise mf.user.at("task", f"task must be 'classify' or 'regress', not {task!r}")
    return task


def _batch(x: np.ndarray, y: np.ndarray, dtype: torch.dtype, rows: int = PROBE_ROWS):
    xb = torch.as_tensor(x[:rows])
    xb = xb if xb.dtype == torch.long else xb.to(dtype)
    yb = torch.as_tensor(y[:rows])
    yb = yb if yb.dtype == torch.long else yb.to(dtype)
    return xb, yb


def _forward(mf: ModelFile, model: nn.Module, xb: torch.Tensor):
    model.train()
    shape = "×".join(str(s) for s in xb.shape)
    with mf.user.calling(
        f"the model does not fit the data: on a batch of inputs shaped {shape} "
        f"({str(xb.dtype).removeprefix('torch.')}) it raised",
        at=mf.model_name,
    ):
        return model(xb)


def _resolve_loss(mf: ModelFile, model, x, y, task: str, dtype):
    """(config loss name, loss callable, parts) from the file's ``loss``."""
    raw = getattr(mf.module, "loss", None)
    out = None
    if raw is None:  # a default from the task and the targets
        if task == "regress":
            return "mse", make_loss("mse"), CustomParts(task=task)
        if y.dtype.kind in "iu":
            return "cross_entropy", make_loss("cross_entropy"), CustomParts(task=task)
        xb, _ = _batch(x, y, dtype)
        with torch.no_grad():
            out = _forward(mf, copy.deepcopy(model), xb)
        if isinstance(out, torch.Tensor) and bool(((out >= 0) & (out <= 1)).all()):
            return "bce", make_loss("bce"), CustomParts(task=task)
        fn = nn.BCEWithLogitsLoss()
        parts = CustomParts(fn, "BCEWithLogitsLoss", task=task, logits=True)
        return CUSTOM, fn, parts
    if isinstance(raw, str):
        if raw not in LOSSES:
            raise mf.user.at(
                "loss",
                f"unknown loss {raw!r}; use one of {', '.join(LOSSES)}, "
                "or a function loss(output, target)",
            )
        return raw, make_loss(raw), CustomParts(task=task)
    if isinstance(raw, type) and issubclass(raw, nn.Module):
        raw = raw()  # `loss = nn.CrossEntropyLoss`: the class, meant as an instance
    if not callable(raw):
        raise mf.user.at(
            "loss", f"loss must be a function loss(output, target) or a name, not {describe(raw)}"
        )
    label = type(raw).__name__ if isinstance(raw, nn.Module) else getattr(raw, "__name__", "loss")
    logits = isinstance(raw, nn.BCEWithLogitsLoss) or label == "binary_cross_entropy_with_logits"
    return CUSTOM, raw, CustomParts(raw, label, task=task, logits=logits)


def check_fit(mf: ModelFile, model, loss_fn, loss_name: str, x, y, dtype) -> None:
    """One forward, loss and backward on a few rows: a shape mismatch or a loss
    that does not fit the output is found now, not at step one."""
    xb, yb = _batch(x, y, dtype)
    out = _forward(mf, model, xb)
    at = "loss" if getattr(mf.module, "loss", None) is not None else mf.model_name
    what = f"the loss {loss_name!r}" if loss_name != CUSTOM else "the loss"
    if isinstance(loss_fn, nn.Module):
        loss_fn = copy.deepcopy(loss_fn)
    out_shape = tuple(out.shape) if isinstance(out, torch.Tensor) else describe(out)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # MSE's silent broadcasting, above all
        with mf.user.calling(
            f"{what} does not fit the model's output {out_shape} and the targets "
            f"{tuple(yb.shape)} ({str(yb.dtype).removeprefix('torch.')}): it raised",
            at=at,
        ):
            loss = loss_fn(out, yb)
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        raise mf.user.at(
            at,
            f"{what} must return one number (a 0-d tensor), but it returned {describe(loss)}; "
            "average it (.mean()) or use reduction='mean'",
        )
    if not loss.requires_grad:
        raise mf.user.at(
            at,
            f"{what} returned a value with no gradient (did it call .item(), .detach() "
            "or numpy?); compute it with torch operations on the output",
        )
    with mf.user.calling("the backward pass raised", at=at):
        loss.reshape(()).backward()


def _optimizer(mf: ModelFile, model: nn.Module) -> tuple[str, Callable | None, float | None]:
    """(config name, factory, the factory's own lr) from the file's ``optimizer``."""
    fn = getattr(mf.module, "optimizer", None)
    if fn is None:
        return "adam", None, None
    if isinstance(fn, str):
        key = fn.strip().lower()
        if key not in OPTIMIZERS:
            raise mf.user.at(
                "optimizer", f"unknown optimizer {fn!r}; use one of {', '.join(OPTIMIZERS)}"
            )
        return key, None, None
    if not callable(fn):
        raise mf.user.at(
            "optimizer", f"optimizer must be a function optimizer(params), not {describe(fn)}"
        )
    with mf.user.calling("optimizer(params) raised", at="optimizer"):
        opt = fn([p for p in model.parameters() if p.requires_grad])
    if not isinstance(opt, torch.optim.Optimizer):
        raise mf.user.at(
            "optimizer",
            f"optimizer(params) returned {describe(opt)}; return a torch optimizer, "
            "e.g. torch.optim.Adam(params, lr=1e-3)",
        )
    return CUSTOM, fn, float(opt.param_groups[0]["lr"])


def _number(mf: ModelFile, name: str, kind: type, default, allow_none: bool = False):
    value = getattr(mf.module, name, None)
    if value is None:
        return default
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value > 0
    if kind is int:
        ok = ok and isinstance(value, int)
    if not ok:
        raise mf.user.at(name, f"{name} must be a positive {kind.__name__}, not {value!r}")
    return kind(value)


def _classes(mf: ModelFile, task: str, y: np.ndarray) -> tuple[str, ...]:
    names = getattr(mf.module, "classes", None)
    if names is not None:
        if isinstance(names, str) or not all(isinstance(c, str) for c in names):
            raise mf.user.at("classes", "classes must be a list of label names (strings)")
        return tuple(names)
    if task == "classify" and y.dtype.kind in "iu" and y.size:
        return tuple(str(i) for i in range(int(y.max()) + 1))
    return ()


def _scenario(mf: ModelFile, dtype, loss: str, optimizer: str, n_train: int, lr: float):
    doc = (mf.module.__doc__ or "").strip()
    first, _, rest = doc.partition("\n")
    stem = Path(mf.user.path).stem if mf.user.path is not None else mf.model_name
    if mf.user.root is not None or mf.user.path is None:
        stem = mf.spec.replace(":", ".")
    batch = _number(mf, "batch_size", int, None)
    if batch is None:
        batch = DEFAULT_BATCH if n_train > DEFAULT_BATCH else None
    steps = _number(mf, "steps", int, None)
    epochs = None if steps else _number(mf, "epochs", int, DEFAULT_EPOCHS)
    return FileScenario(
        id=stem,
        title=first.strip().rstrip(".") or stem,
        source=f"Your model file: {mf.display}",
        description=rest.strip(),
        loss=loss,
        optimizer=optimizer,
        lr=lr,
        batch_size=batch,
        steps=steps,
        epochs=epochs,
        dtype=dtype,
        model_file=mf.spec,
    )
