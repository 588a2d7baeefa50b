"""TensorFlow Playground's extra input features for the 2-D sets, its data
controls (noise, test ratio) and its preset.

The model's input is always the two coordinates first, then the extra
features chosen (in the order of :data:`FEATURES`), so ``x[:, :2]`` stays the
point itself: the decision boundary and the scatter plot keep drawing raw
coordinates, and the decision field applies :func:`apply_features` to its
grid exactly as the data were transformed.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from nnviz.core.data_common import Dataset
from nnviz.core.errors import NnvizError
from nnviz.core.training_parts import HalfMSE

# name -> (label, what it computes from x1, x2, the tooltip)
FEATURES: dict[str, tuple[str, str]] = {
    "x1sq": ("x₁²", "x₁ squared: lets one neuron see distance from the vertical axis"),
    "x2sq": ("x₂²", "x₂ squared: lets one neuron see distance from the horizontal axis"),
    "x1x2": ("x₁x₂", "x₁ times x₂: positive in two opposite quadrants (xor in one feature)"),
    "sinx1": ("sin x₁", "sine of x₁: a wave across the plane"),
    "sinx2": ("sin x₂", "sine of x₂: a wave up the plane"),
}
# the spellings the CLI also accepts
_ALIASES = {
    "x1^2": "x1sq",
    "x2^2": "x2sq",
    "x1*x2": "x1x2",
    "sin(x1)": "sinx1",
    "sin(x2)": "sinx2",
    "sinx_1": "sinx1",
    "sinx_2": "sinx2",
}


def parse_features(spec) -> tuple[str, ...]:
    """Feature names (a comma list or a sequence) in canonical order, checked."""
    if spec is None:
        return ()
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    names = set()
    for item in items:
        key = str(item).strip().lower().replace(" ", "")
        if not key or key in ("x1", "x2"):
            continue  # the coordinates are always there
        key = _ALIASES.get(key, key)
        if key not in FEATURES:
            raise NnvizError(
                f"unknown input feature {item!r}; choose from {', '.join(FEATURES)} "
                "(comma-separated, e.g. x1sq,x2sq)"
            )
        names.add(key)
    return tuple(k for k in FEATURES if k in names)


def _columns(x1, x2, features, lib):
    cols = [x1, x2]
    for f in features:
        if f == "x1sq":
            cols.append(x1 * x1)
        elif f == "x2sq":
            cols.append(x2 * x2)
        elif f == "x1x2":
            cols.append(x1 * x2)
        elif f == "sinx1":
            cols.append(lib.sin(x1))
        elif f == "sinx2":
            cols.append(lib.sin(x2))
    return cols


def apply_features(x, features: tuple[str, ...]):
    """``(N, 2)`` points -> ``(N, 2 + len(features))`` model inputs (numpy or torch)."""
    if not features:
        return x
    if isinstance(x, torch.Tensor):
        return torch.stack(_columns(x[:, 0], x[:, 1], features, torch), dim=1)
    x = np.asarray(x)
    return np.stack(_columns(x[:, 0], x[:, 1], features, np), axis=1).astype(x.dtype)


def input_labels(features: tuple[str, ...]) -> tuple[str, ...]:
    """The input neurons' names, as Playground labels them."""
    return ("x₁", "x₂", *(FEATURES[f][0] for f in features))


def featurize(ds: Dataset, features: tuple[str, ...]) -> Dataset:
    """The same data set with the extra feature columns added."""
    if not features:
        return ds
    if tuple(ds.input_shape) != (2,):
        raise NnvizError(
            "extra input features need a 2-D data set (circle, xor, gauss, spiral); "
            f"this one has inputs of shape {tuple(ds.input_shape)}"
        )
    return replace(
        ds,
        x_train=apply_features(ds.x_train, features),
        x_val=apply_features(ds.x_val, features),
        input_shape=(2 + len(features),),
        note=f"{ds.note}; inputs {', '.join(input_labels(features))}",
    )


def load_data(scenario, config, data_dir=None) -> Dataset:
    """The scenario's data with the config's noise and test ratio (2-D sets)."""
    make = scenario.data
    kind = getattr(make, "toy_kind", None)
    noise, ratio = getattr(config, "noise", None), getattr(config, "test_ratio", None)
    if kind is None or (noise is None and ratio is None and not is_playground(config)):
        if noise is not None or ratio is not None or is_playground(config):
            raise NnvizError(
                f"noise, test ratio and the Playground preset apply to the 2-D sets "
                "(circle, xor, gauss, spiral), "
                f"not to {scenario.id}"
            )
        return scenario.load_data(config.seed, data_dir)
    from nnviz.core.data_synthetic import toy_2d

    pg = is_playground(config)  # Playground's 500 points in its own units
    return toy_2d(
        kind,
        n_samples=PLAYGROUND_POINTS if pg else 400,
        noise=make.toy_noise if noise is None else noise,
        val_fraction=0.5 if ratio is None else ratio,
        seed=config.seed,
        scale=1.0 if pg else None,
    )


def same_data(a, b) -> bool:
    """Whether two configs load the same data (seed, noise, test ratio)."""
    return (a.seed, getattr(a, "noise", None), getattr(a, "test_ratio", None)) == (
        b.seed,
        getattr(b, "noise", None),
        getattr(b, "test_ratio", None),
    )


# --- the Playground preset ---------------------------------------------------------------

# TensorFlow Playground's settings, and its algorithm (src/nn.ts, playground.ts,
# dataset.ts): 500 points in its own units (about ±6, not nnviz's ±1.2), half of
# them for training; x1, x2 only; hidden 4-2 tanh and a tanh output; weights
# uniform in [-0.5, 0.5] and biases 0.1; labels ±1 and the loss ½(out - label)²;
# the gradient averaged over batches of 10; SGD, learning rate 0.03. With
# ``preset="playground"`` the engine does all of this (see the helpers below).
# The loss has its own name, "half_mse" (½·MSE, mean), so that the loss box and
# the formula panel show the loss autograd differentiates. Labels are ±1 only
# while the preset's loss and tanh output stay: another loss chosen after the
# preset (MSE included) is that loss on the 0/1 labels, as in every other
# scenario, with the classes split at 0.5.
PLAYGROUND_POINTS = 500
PLAYGROUND_PRESET = dict(
    preset="playground",
    optimizer="sgd",
    lr=0.03,
    batch_size=10,
    loss="half_mse",
    hidden=(4, 2),
    activation="tanh",
    output_activation="tanh",
    features=(),
    reg="none",
    reg_rate=0.0,
    noise=0.0,
    test_ratio=0.5,
)
PRESETS = {"playground": PLAYGROUND_PRESET}


def preset_overrides(name: str, scenario) -> dict:
    """The TrainConfig fields a named preset sets (2-D scenarios only)."""
    key = str(name).strip().lower()
    if key not in PRESETS:
        raise NnvizError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    if not (scenario.two_d and scenario.editable and getattr(scenario.data, "toy_kind", None)):
        raise NnvizError(
            f"the {key} preset is for the 2-D sets (circle, xor, gauss, spiral), not {scenario.id}"
        )
    return dict(PRESETS[key])


def is_playground(config) -> bool:
    return getattr(config, "preset", None) == "playground"


def _plus_minus_one(config) -> bool:
    """Labels ±1 against a tanh output: the preset's, while its loss (½·MSE) and
    output stay."""
    out = getattr(config, "output_activation", None) or "tanh"
    return is_playground(config) and config.loss == "half_mse" and out == "tanh"


class PlaygroundSquare(HalfMSE):
    """Playground's loss: ``½(out - label)²`` with labels ±1 (nnviz's 0/1 targets
    mapped to -1/+1), averaged over the batch: ``half_mse`` on ±1 labels."""

    def forward(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return super().forward(out, 2 * y - 1)


def preset_loss(config):
    """The preset's loss, or None where the config's own loss applies (another
    loss or output chosen after the preset)."""
    return PlaygroundSquare() if _plus_minus_one(config) else None


@torch.no_grad()
def preset_init(model: torch.nn.Module, config) -> None:
    """Playground's start: every weight uniform in [-0.5, 0.5], every bias 0.1
    (drawn from torch's generator, which the engine has seeded)."""
    if not is_playground(config):
        return
    for m in model.modules():
        if isinstance(m, torch.nn.Linear):
            m.weight.uniform_(-0.5, 0.5)
            if m.bias is not None:
                m.bias.fill_(0.1)


def output_cut(config) -> float:
    """Where a one-output model's output splits the classes: 0 under the preset
    (a tanh output against labels ±1, as Playground colours it), else 0.5."""
    return 0.0 if _plus_minus_one(config) else 0.5


def as_target(y, config):
    """The target the loss compares with: labels ±1 under the preset, else ``y``."""
    return 2 * y - 1 if _plus_minus_one(config) else y


def as_probability(out, config):
    """The output as the decision field draws it, in [0, 1] with the classes split
    at 0.5: ``(out + 1) / 2`` under the preset."""
    return (out + 1) / 2 if _plus_minus_one(config) else out


def check_playground(config) -> None:
    """TrainConfig's Playground fields, checked (called by TrainConfig.validate)."""
    from nnviz.core import regularisation
    from nnviz.core.data_common import check_fraction

    regularisation.check(config.reg, config.reg_rate)
    preset = getattr(config, "preset", None)
    if preset is not None and preset not in PRESETS:
        raise NnvizError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    if parse_features(config.features) != tuple(config.features):
        raise NnvizError(
            f"input features must be among {', '.join(FEATURES)}, each once, in that order; "
            f"got {config.features!r}"
        )
    noise = config.noise
    if noise is not None and not (isinstance(noise, int | float) and 0 <= noise <= 0.5):
        raise NnvizError(f"noise must be between 0 and 0.5 (Playground's 0-50 %), got {noise!r}")
    if config.test_ratio is not None:
        check_fraction(config.test_ratio)
        if not 0 < config.test_ratio < 1:
            raise NnvizError(f"the test ratio must be above 0 and below 1, got {config.test_ratio}")
