"""Weights in and out: ``--weights FILE``, ``--save FILE``, ``--torchscript FILE``.

Weights come in only as a ``state_dict`` read with ``torch.load(weights_only=True)``:
nothing from outside is unpickled. A full pickled model, a TorchScript archive,
or any file that would run code to load is refused, with what to do instead.
Weights go out atomically (a temporary name, then a rename), as a
``state_dict``, or as a TorchScript export that is checked by loading it back
and comparing its outputs with the model's on a batch.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import re
import tempfile
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from nnviz.core.errors import NnvizError

SAVE_HINT = "save the weights with torch.save(model.state_dict(), FILE) and pass that file"
STATE_DICT_KEYS = ("state_dict", "model_state_dict", "model")  # checkpoints that wrap one
TORCHSCRIPT_RTOL, TORCHSCRIPT_ATOL = 1e-5, 1e-6


# --- in -------------------------------------------------------------------------------


def _is_torchscript(path: Path) -> bool:
    """A TorchScript archive: a zip holding compiled code (``code/``) or ``constants.pkl``."""
    try:
        if not zipfile.is_zipfile(path):
            return False
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return False
    return any("/code/" in n or n.endswith("/constants.pkl") for n in names)


def load_weights(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A ``state_dict`` from ``path``, or an NnvizError saying why not."""
    path = Path(path)
    name = str(path)
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise NnvizError(f"the weights file {name!r} {what}; {SAVE_HINT}")
    if _is_torchscript(path):
        raise NnvizError(
            f"{name!r} is a TorchScript archive (torch.jit.save), not a state_dict; its "
            f"compiled code is not loaded here. {SAVE_HINT[0].upper() + SAVE_HINT[1:]}"
        )
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        if found is None and "global" not in str(exc).lower():
            raise NnvizError(f"{name!r} is not a torch weights file; {SAVE_HINT}") from None
        what = f" (it names {found.group(1)})" if found else ""
        raise NnvizError(
            f"{name!r} would run code to load{what}: it is a pickled object, e.g. a whole "
            "model saved with torch.save(model), not only tensors, so it is refused. "
            f"{SAVE_HINT[0].upper() + SAVE_HINT[1:]}"
        ) from None
    except Exception as exc:  # a damaged file fails in many ways inside torch.load
        raise NnvizError(
            f"{name!r} is not a torch weights file ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:200] if str(exc) else ''}); {SAVE_HINT}"
        ) from None
    if isinstance(obj, Mapping):
        for key in STATE_DICT_KEYS:  # a training checkpoint holding one
            inner = obj.get(key)
            if isinstance(inner, Mapping) and inner and _all_tensors(inner):
                obj = inner
                break
    if not isinstance(obj, Mapping) or not obj or not _all_tensors(obj):
        what = (
            f"a {type(obj).__name__}" if not isinstance(obj, Mapping) else "a dict of other things"
        )
        raise NnvizError(
            f"{name!r} holds {what}, not a state_dict (parameter names to tensors); {SAVE_HINT}"
        )
    return dict(obj)


def _all_tensors(d: Mapping) -> bool:
    return all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in d.items())


def apply_weights(model: nn.Module, state: Mapping[str, torch.Tensor], name: str = "") -> None:
    """Load ``state`` into ``model`` exactly (every name, every shape), or say what differs."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    extra = [k for k in state if k not in own]
    wrong = [
        f"{k} {tuple(state[k].shape)} (the model's is {tuple(v.shape)})"
        for k, v in own.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    if missing or extra or wrong:
        parts = []
        if missing:
            parts.append(f"missing {_few(missing)}")
        if extra:
            parts.append(f"not in the model: {_few(extra)}")
        if wrong:
            parts.append(f"other shapes: {_few(wrong)}")
        raise NnvizError(
            f"the weights in {name or 'the file'} do not fit this model ({'; '.join(parts)}); "
            "use the state_dict saved from the same model"
        )
    with torch.no_grad():
        model.load_state_dict(state, strict=True)


def _few(names: list[str], k: int = 3) -> str:
    return ", ".join(names[:k]) + (f" and {len(names) - k} more" if len(names) > k else "")


def model_with_weights(scenario, config, path, model_file=None, model: nn.Module | None = None):
    """The model a run starts from with ``--weights``: ``model`` if given, else
    a model file's ``model()`` or the scenario's network, with the weights loaded."""
    state = load_weights(path)
    if model is None:
        if model_file is not None:
            model = model_file.build_model(config.seed)
        else:
            spec = scenario.spec
            if scenario.editable and config.hidden is not None and spec is not None:
                spec = spec.with_hidden(config.hidden, config.activation)
            torch.manual_seed(config.seed)
            model = scenario.build_model(spec)
    apply_weights(model, state, repr(str(path)))
    return model


# --- out ------------------------------------------------------------------------------


@contextlib.contextmanager
def _atomic(path: Path):
    """A temporary file beside ``path``, renamed onto it when the block succeeds."""
    path = Path(path)
    if path.is_dir():
        raise NnvizError(f"{str(path)!r} is a folder; give a file name to write")
    if not path.parent.is_dir():
        raise NnvizError(f"the folder {str(path.parent)!r} does not exist; create it first")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def save_state_dict(model: nn.Module, path: str | os.PathLike) -> Path:
    """Write ``model.state_dict()`` (on the CPU) to ``path`` atomically."""
    path = Path(path)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    try:
        with _atomic(path) as tmp:
            torch.save(state, tmp)
    except OSError as exc:
        raise NnvizError(f"could not write {str(path)!r}: {exc.strerror or exc}") from None
    return path


def _outputs(out):
    from nnviz.core.training_parts import first_tensor

    t = first_tensor(out)
    if t is None:
        raise NnvizError("the model returns no tensor, so there is nothing to export")
    return t


def export_torchscript(model: nn.Module, batch: torch.Tensor, path: str | os.PathLike) -> float:
    """Trace ``model`` (eval mode) on ``batch`` (scripting it if tracing fails), write
    it atomically, load it back and compare its outputs with the model's on
    ``batch``; returns the largest difference. Raises NnvizError if they differ."""
    path = Path(path)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            expected = _outputs(model(batch)).detach()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # tracer and deprecation notes: we check below
                try:
                    compiled = torch.jit.trace(model, (batch,), check_trace=False)
                except Exception as trace_exc:
                    try:
                        compiled = torch.jit.script(model)
                    except Exception:
                        raise NnvizError(
                            "TorchScript could not trace this model "
                            f"({type(trace_exc).__name__}: {str(trace_exc).splitlines()[0][:200]}); "
                            "use --save for its state_dict instead"
                        ) from None
            try:
                with _atomic(path) as tmp:
                    torch.jit.save(compiled, str(tmp))
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        reloaded = torch.jit.load(str(tmp), map_location=batch.device)
                    got = _outputs(reloaded(batch)).detach()
                    diff = _compare(expected, got)
            except OSError as exc:
                raise NnvizError(f"could not write {str(path)!r}: {exc.strerror or exc}") from None
    finally:
        model.train(was_training)
    return diff


def _compare(expected: torch.Tensor, got: torch.Tensor) -> float:
    if expected.shape != got.shape:
        raise NnvizError(
            f"the TorchScript export gives outputs of shape {tuple(got.shape)}, the model "
            f"{tuple(expected.shape)}; not written (use --save for its state_dict)"
        )
    diff = float((expected.double() - got.double()).abs().max()) if expected.numel() else 0.0
    tol = TORCHSCRIPT_ATOL + TORCHSCRIPT_RTOL * float(expected.double().abs().max())
    if not diff <= tol:
        raise NnvizError(
            f"the TorchScript export differs from the model by up to {diff:.3g} on a batch "
            "(tracing may have fixed a data-dependent branch); not written — "
            "use --save for its state_dict"
        )
    return diff
