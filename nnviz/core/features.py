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
    if kind is None or (noise is None and ratio is None):
        if noise is not None or ratio is not None:
            raise NnvizError(
                f"noise and test ratio apply to the 2-D sets (circle, xor, gauss, spiral), "
                f"not to {scenario.id}"
            )
        return scenario.load_data(config.seed, data_dir)
    from nnviz.core.data_synthetic import toy_2d

    return toy_2d(
        kind,
        noise=make.toy_noise if noise is None else noise,
        val_fraction=0.5 if ratio is None else ratio,
        seed=config.seed,
    )


def same_data(a, b) -> bool:
    """Whether two configs load the same data (seed, noise, test ratio)."""
    return (a.seed, getattr(a, "noise", None), getattr(a, "test_ratio", None)) == (
        b.seed,
        getattr(b, "noise", None),
        getattr(b, "test_ratio", None),
    )


# --- the Playground preset ---------------------------------------------------------------

# Playground's settings: SGD, batch 10, MSE, 4-2 tanh, tanh output, x1 and x2 only.
# Its learning rate is 0.03, but its inputs lie in ±6 and its targets are ±1;
# nnviz's 2-D sets lie in ±1.2 with targets 0/1, so the same steps are far
# smaller here: lr 0.3 on nnviz's data learns at Playground's pace (measured:
# circle and xor ≥ 97 % test accuracy by epoch 100 for seed 0; see
# docs/readme_parts/playground.md).
PLAYGROUND_PRESET = dict(
    optimizer="sgd",
    lr=0.3,
    batch_size=10,
    loss="mse",
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


def check_playground(config) -> None:
    """TrainConfig's Playground fields, checked (called by TrainConfig.validate)."""
    from nnviz.core import regularisation
    from nnviz.core.data_common import check_fraction

    regularisation.check(config.reg, config.reg_rate)
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
