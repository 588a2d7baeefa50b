"""The forward half of a capture: which module made each op, what Python saw.

``Recorder`` (a ``TorchFunctionMode`` plus module hooks) maps each new
``grad_fn`` to a copy of its output and to the module it was made in;
``LocalNames`` names intermediate results after the variables of an
expression's frames; ``record_values`` runs the forward once more under
``OpValues`` (``autograd_values``) for the value of every ATen op.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import keystr, tree_flatten_with_path

from nnviz.core.autograd_values import OpValues
from nnviz.core.errors import NnvizError

_TORCH_DIR = str(Path(torch.__file__).parent)


class Outputs:
    """Wraps what a forward returned when it may be a tuple, list or dict of
    tensors (``capture_module_graph`` uses it), so a tuple is not read as
    ``(output, named)``."""

    def __init__(self, value) -> None:
        self.value = value


def output_tensors(out) -> list[tuple[str, torch.Tensor]]:
    """(label, tensor) of each output that takes a gradient: one for a tensor,
    one per tensor of a tuple, list or dict (labelled ``[0]``, ``['logits']``)."""
    if isinstance(out, Outputs):
        out = out.value
    if isinstance(out, torch.Tensor):
        found = [("", out)]
    else:
        leaves, _spec = tree_flatten_with_path(out)
        found = [(keystr(p), t) for p, t in leaves if isinstance(t, torch.Tensor)]
        if not found:
            raise NnvizError(
                f"the forward returned {type(out).__name__}, not tensors; return the loss, "
                "the output, or a tuple, list or dict of tensors"
            )
    outs = [(k, t) for k, t in found if t.grad_fn is not None]
    if not outs:
        raise NnvizError(
            "the output does not depend on anything that requires a gradient; "
            "mark the leaves with requires_grad=True"
        )
    return outs


# --- forward recording -----------------------------------------------------------

_LOCAL = threading.local()  # the captures running in this thread (worker and GUI apart)


def _active() -> list[Recorder]:
    if not hasattr(_LOCAL, "recorders"):
        _LOCAL.recorders = []
    return _LOCAL.recorders


class module_scope:  # noqa: N801 (used like a function: ``with module_scope("0"):``)
    """Ops made inside ``with module_scope(path):`` during a capture belong to
    module ``path`` (for forwards that compute a module's work by hand, like the
    scalar graph)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __enter__(self) -> None:
        for rec in _active():
            rec.module_stack.append(self.path)

    def __exit__(self, *exc) -> None:
        for rec in _active():
            rec.module_stack.pop()


class Recorder(TorchFunctionMode):
    """Maps each new grad_fn to a detached copy of its output and its module."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[int, tuple[object, torch.Tensor]] = {}  # id(grad_fn) -> (fn, value)
        self.modules: dict[int, str] = {}
        self.module_stack: list[str] = []

    def note(self, out) -> None:
        if isinstance(out, torch.Tensor):
            fn = out.grad_fn
            if fn is not None and id(fn) not in self.values:
                self.values[id(fn)] = (fn, out.detach().clone())
                if self.module_stack:
                    self.modules[id(fn)] = self.module_stack[-1]
        elif isinstance(out, list | tuple):
            for o in out:
                self.note(o)

    def value(self, fn) -> torch.Tensor | None:
        """The output recorded for ``fn`` (None if Python never saw it)."""
        entry = self.values.get(id(fn))
        return entry[1] if entry is not None and entry[0] is fn else None

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if torch.is_grad_enabled():
            self.note(out)
        return out


class LocalNames:
    """Variable names of tensors in the frames of an expression (u, v, L)."""

    def __init__(self) -> None:
        self.names: dict[int, str] = {}
        self.keep: list[torch.Tensor] = []
        self.depth = 0

    def __call__(self, frame, event, arg) -> None:
        if event == "call":
            self.depth += 1
        elif event == "return":
            fname = frame.f_code.co_filename
            if 0 < self.depth <= 2 and not fname.startswith(_TORCH_DIR) and fname != __file__:
                for k, v in frame.f_locals.items():
                    fresh = isinstance(v, torch.Tensor) and id(v) not in self.names
                    if fresh and not k.startswith("_"):
                        self.names[id(v)] = k
                        self.keep.append(v)  # ids stay unique while we look
            self.depth -= 1


def named_tensors(names) -> dict[str, torch.Tensor]:
    if names is None:
        return {}
    if isinstance(names, nn.Module):
        return dict(names.named_parameters())
    return dict(names)


def hook_modules(rec: Recorder, hooked: list[tuple[str, nn.Module]]) -> list:
    """Forward hooks that tell ``rec`` which module each op is made in."""
    handles = []
    for path, m in hooked:

        def pre(_m, _inp, path=path):
            rec.module_stack.append(path)

        def post(_m, _inp, out, path=path):
            rec.module_stack.pop()
            if out is not None:
                rec.note(out)

        handles.append(m.register_forward_pre_hook(pre))
        handles.append(m.register_forward_hook(post))
    return handles


def split_named(out, named):
    """``(output, named)`` from a forward that returned one (expression scenarios):
    the output, the leaves by name and the named intermediate results."""
    inner: list[tuple[str, torch.Tensor]] = []
    if isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], Mapping):
        out, extra = out
        extra = dict(extra)
        inner = [(k, t) for k, t in extra.items() if t.grad_fn is not None]
        named = {**{k: t for k, t in extra.items() if t.grad_fn is None}, **named}
    return out, named, inner


def record_values(fn, hooked) -> tuple[OpValues, list[torch.Tensor]]:
    """Run the forward once with every op's output recorded (``OpValues``)."""
    rec = Recorder()  # only for its module stack
    ops = OpValues(rec.module_stack)
    handles = hook_modules(rec, hooked)
    try:
        with torch.enable_grad():
            _active().append(rec)
            try:
                with ops:
                    out = fn()
                ops.flush()
            finally:
                _active().remove(rec)
    finally:
        for h in handles:
            h.remove()
    out = split_named(out, {})[0]
    try:
        outs = [t for _k, t in output_tensors(out)]
    except NnvizError:
        outs = []
    return ops, outs


def run_forward(fn, rec: Recorder, hooked, locals_rec):
    handles = hook_modules(rec, hooked)
    old_profile = sys.getprofile()
    try:
        with torch.enable_grad():
            if locals_rec is not None:
                sys.setprofile(locals_rec)
            try:
                _active().append(rec)
                with rec:
                    out = fn()
            finally:
                _active().remove(rec)
                if locals_rec is not None:
                    sys.setprofile(old_profile)
    finally:
        for h in handles:
            h.remove()
    return out
