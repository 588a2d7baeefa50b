"""The built-in scenarios, from the source material (DESIGN.md section 3).

A scenario is a frozen recipe: a model (a layer-list spec), its data, loss,
optimizer and defaults, or — for the two pure autograd examples — an
expression. ``SCENARIOS`` lists them in the order the picker shows them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from nnviz.core import datasets
from nnviz.core.datasets import Dataset
from nnviz.core.errors import NnvizError
from nnviz.core.models import MLPSpec, build_mlp

Expression = Callable[
    ..., tuple[torch.Tensor, dict[str, torch.Tensor]]
]  # (vals=None) -> (out, leaves)


@dataclass(frozen=True)
class Scenario:
    id: str
    title: str
    source: str  # where it comes from in the seeds
    description: str
    figure: str = ""  # the figure it reproduces, shown in the picker
    kind: str = "model"  # "model" or "expression"
    spec: MLPSpec | None = None
    data: Callable[[int, Path | None], Dataset] | None = None  # (seed, data_dir) -> Dataset
    loss: str = "cross_entropy"
    optimizer: str = "adam"
    lr: float = 1e-3
    batch_size: int | None = None  # None: full batch
    steps: int | None = None  # default length: steps ...
    epochs: int | None = None  # ... or epochs
    dtype: torch.dtype = torch.float32
    init: Callable[[nn.Module], None] | None = None  # replaces torch's default init
    editable: bool = False  # hidden layers can be changed in the app
    two_d: bool = False  # show the decision boundary
    data_kind: str | None = None  # "mnist" / "apparel": user files (--data DIR)
    expression: Expression | None = None

    @property
    def trainable(self) -> bool:
        return self.kind == "model"

    def build_model(self, spec: MLPSpec | None = None) -> nn.Module:
        if not self.trainable:
            raise NnvizError(
                f"{self.id} is an expression, not a trainable model; "
                f"try `nnviz graph {self.id}` to see its gradients"
            )
        model = build_mlp(spec or self.spec, dtype=self.dtype)
        if self.init is not None:
            self.init(model)
        return model

    def load_data(self, seed: int, data_dir: Path | None) -> Dataset:
        assert self.data is not None
        return self.data(seed, data_dir)


# --- expressions -------------------------------------------------------------


def _leaf(value) -> torch.Tensor:
    return torch.tensor(value, dtype=torch.float64, requires_grad=True)


def chain_rule_expression(
    vals: dict[str, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """L = 3(a + b·c) with a=5, b=3, c=2 (seed 002): L = 33.

    ``vals`` gives other leaf values (the gradient check perturbs them).
    """
    vals = vals or {"a": _leaf(5.0), "b": _leaf(3.0), "c": _leaf(2.0)}
    a, b, c = vals["a"], vals["b"], vals["c"]
    u = b * c
    v = a + u
    L = 3 * v
    return L, {"a": a, "b": b, "c": c}


def autograd_mean_expression(
    vals: dict[str, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """b = a + 5, c = mean(b), a a 2×2 of ones (seed 000): every dc/da = 0.25."""
    vals = vals or {"a": _leaf([[1.0, 1.0], [1.0, 1.0]])}
    a = vals["a"]
    b = a + 5
    c = b.mean()
    return c, {"a": a}


# --- data ----------------------------------------------------------------------


def _fixed(name: str, x, y, input_shape) -> Callable[[int, Path | None], Dataset]:
    def make(seed: int, data_dir: Path | None) -> Dataset:
        xa = np.asarray(x, dtype=np.float64)
        ya = np.asarray(y, dtype=np.float64).reshape(-1, 1)
        # Tiny truth tables are their own validation set: there is nothing to hold out.
        return Dataset(name, xa, ya, xa, ya, input_shape, classes=("0", "1"))

    return make


def _toy(kind: str, noise: float = 0.1) -> Callable[[int, Path | None], Dataset]:
    make = lambda seed, data_dir: datasets.toy_2d(kind, noise=noise, seed=seed)  # noqa: E731
    # --- playground (issue 11): which toy set, so noise/test ratio can be changed ---
    make.toy_kind, make.toy_noise = kind, noise
    # --- end playground (issue 11) ---
    return make


def _sphere(seed: int, data_dir: Path | None) -> Dataset:
    """3-D points labelled by whether they lie inside a sphere (for deep-mlp)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(600, 3)).astype(np.float32)
    y = (np.linalg.norm(x, axis=1) < 0.8).astype(np.float32).reshape(-1, 1)
    return Dataset("sphere", x[:400], y[:400], x[400:], y[400:], (3,), classes=("out", "in"))


def _digits(seed: int, data_dir: Path | None) -> Dataset:
    return datasets.load_digits(seed=seed)


def _mnist(seed: int, data_dir: Path | None) -> Dataset:
    if data_dir is None:
        return datasets.load_digits(seed=seed, size=28)
    return datasets.load_data_dir(data_dir, seed=seed, classes=datasets.DIGIT_CLASSES)


def _apparel(seed: int, data_dir: Path | None) -> Dataset:
    if data_dir is None:
        raise NnvizError(
            "apparel-mlp trains on the apparel images you have: pass --data DIR with "
            "train.csv (id,label) and the <id>.png images, or Fashion-MNIST IDX files"
        )
    return datasets.load_data_dir(data_dir, seed=seed, classes=datasets.APPAREL_CLASSES)


def _or_gate_init(model: nn.Module) -> None:
    """numpy.random.seed(1); weights rand(1, 2), then bias rand(1, 1) (seed 001)."""
    rng = np.random.RandomState(1)
    w = rng.rand(1, 2)
    b = rng.rand(1, 1)
    lin = model[0]
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(w))
        lin.bias.copy_(torch.from_numpy(b.reshape(1)))


# --- the table -------------------------------------------------------------------

_TOY = dict(
    loss="bce",
    optimizer="adam",
    lr=0.03,
    batch_size=10,
    editable=True,
    two_d=True,
    epochs=30,
)

SCENARIOS: dict[str, Scenario] = {
    s.id: s
    for s in (
        Scenario(
            "chain-rule",
            "Chain rule: L = 3(a + b·c)",
            "the lecture notes on backprop: the computation graph",
            "u = b·c, v = a + u, L = 3v with a = 5, b = 3, c = 2. Step through backprop "
            "and watch the chain rule multiply upstream by local derivatives.",
            figure="L = 33; dL/da = 3, dL/db = 6, dL/dc = 9",
            kind="expression",
            expression=chain_rule_expression,
        ),
        Scenario(
            "autograd-mean",
            "Autograd: c = mean(a + 5)",
            "the PyTorch beginner's guide: the autograd module",
            "a is a 2×2 tensor requiring grad; b = a + 5; c = mean(b).",
            figure="every dc/da = 0.25",
            kind="expression",
            expression=autograd_mean_expression,
        ),
        Scenario(
            "or-gate",
            "OR gate perceptron",
            "the OR-gate notebook",
            "Linear(2,1) + Sigmoid in float64, weights from numpy.random.seed(1), "
            "L1 loss (sum), SGD lr 0.05, the whole truth table as one batch.",
            figure="loss 1.47 at step 0, 2.14e-2 at step 9000; w = 9.98578506, 9.98589032, "
            "b = -4.52752860",
            spec=MLPSpec((2, 1), ("sigmoid",)),
            data=_fixed("or-gate", [[0, 0], [0, 1], [1, 0], [1, 1]], [0, 1, 1, 1], (2,)),
            loss="l1_sum",
            optimizer="sgd",
            lr=0.05,
            steps=10_000,
            dtype=torch.float64,
            init=_or_gate_init,
        ),
        Scenario(
            "logistic-regression",
            "Logistic regression",
            "the lecture notes on backprop: backprop for logistic regression",
            "One sigmoid unit trained with binary cross-entropy on two Gaussian blobs; "
            "its gradient is dz = a − y, dw = (a − y)x, db = a − y.",
            figure="dz = a − y, dw = (a − y)x, db = a − y",
            spec=MLPSpec((2, 1), ("sigmoid",)),
            data=_toy("gauss"),
            loss="bce",
            optimizer="sgd",
            lr=0.5,
            batch_size=20,
            epochs=20,
            two_d=True,
        ),
        Scenario(
            "scratch-mlp",
            "Sigmoid network from scratch",
            "the PyTorch beginner's guide: a neural network from scratch",
            "X = [[1,0,1,0],[1,0,1,1],[0,1,0,1]], y = [1,1,0]; one hidden sigmoid layer "
            "of 3; gradient descent on ½·SSE with lr 0.1 for 5,000 epochs.",
            figure="predictions near 0.98, 0.97, 0.03",
            spec=MLPSpec((4, 3, 1), ("sigmoid", "sigmoid")),
            data=_fixed("scratch", [[1, 0, 1, 0], [1, 0, 1, 1], [0, 1, 0, 1]], [1, 1, 0], (4,)),
            loss="half_sse",
            optimizer="sgd",
            lr=0.1,
            epochs=5_000,
            dtype=torch.float64,
            editable=True,
        ),
        Scenario(
            "deep-mlp",
            "Deep network 3-5-5-3-1",
            "the lecture notes on backprop: L = 4 layers",
            "Four layers of sizes 3-5-5-3-1 learn whether a 3-D point lies inside a "
            "sphere; the per-layer backprop formulas are checked against autograd.",
            figure="dZ = dA ⊙ g'(Z), dW = (1/m) dZᵀ A_prev, db = (1/m) Σ dZ, dA_prev = dZ W",
            spec=MLPSpec((3, 5, 5, 3, 1), ("tanh", "tanh", "tanh", "sigmoid")),
            data=_sphere,
            loss="bce",
            optimizer="adam",
            lr=0.03,
            batch_size=32,
            epochs=150,  # ≥ 92 % test accuracy for seeds 0-5 (60 epochs: as low as 76 %)
            editable=True,
        ),
        Scenario(
            "mnist-mlp",
            "MNIST digits MLP",
            "the lecture notes on backprop: Flatten → Linear(784,512) → ReLU → Linear(512,512) "
            "→ ReLU → Linear(512,10)",
            "Handwritten digits from your MNIST IDX files (--data DIR); without files, "
            "scikit-learn's digits resized to 28×28 stand in.",
            figure="669,706 learnable parameters",
            spec=MLPSpec((784, 512, 512, 10), ("relu", "relu", "linear"), flatten=True),
            data=_mnist,
            loss="cross_entropy",
            optimizer="adam",
            lr=1e-3,
            batch_size=64,
            epochs=5,
            data_kind="mnist",
        ),
        Scenario(
            "apparel-mlp",
            "Apparel images MLP",
            "the PyTorch beginner's guide: the image classification case study",
            "10 apparel classes, 28×28 grey images from train.csv + PNGs (or Fashion-MNIST "
            "IDX files), one hidden layer of 500, Adam, cross-entropy, 10 % validation.",
            figure="the guide’s MLP reached about 65 %; well trained, well over 85 %",
            spec=MLPSpec((784, 500, 10), ("relu", "linear"), flatten=True),
            data=_apparel,
            loss="cross_entropy",
            optimizer="adam",
            lr=5e-4,
            batch_size=128,
            epochs=20,
            data_kind="apparel",
        ),
        Scenario(
            "digits-mlp",
            "Handwritten digits (8×8)",
            "scikit-learn's bundled digits: real data that ships with the package",
            "1,797 8×8 digits, trained offline with no download.",
            figure="≥ 95 % validation accuracy",
            spec=MLPSpec((64, 64, 10), ("relu", "linear"), flatten=True),
            data=_digits,
            loss="cross_entropy",
            optimizer="adam",
            lr=3e-3,
            batch_size=32,
            epochs=20,
            editable=True,
        ),
        Scenario(
            "circle",
            "Circle",
            "TensorFlow Playground-style 2-D set",
            "One class inside a circle, the other around it.",
            figure="decision-boundary heatmap",
            spec=MLPSpec((2, 8, 1), ("tanh", "sigmoid")),
            data=_toy("circle"),
            **_TOY,
        ),
        Scenario(
            "xor",
            "Exclusive or",
            "TensorFlow Playground-style 2-D set",
            "Opposite quadrants share a class.",
            figure="decision-boundary heatmap",
            spec=MLPSpec((2, 8, 1), ("tanh", "sigmoid")),
            data=_toy("xor"),
            **_TOY,
        ),
        Scenario(
            "gauss",
            "Two Gaussians",
            "TensorFlow Playground-style 2-D set",
            "Two Gaussian blobs.",
            figure="decision-boundary heatmap",
            spec=MLPSpec((2, 2, 1), ("tanh", "sigmoid")),
            data=_toy("gauss"),
            **_TOY,
        ),
        Scenario(
            "spiral",
            "Spiral",
            "TensorFlow Playground-style 2-D set",
            "Two interleaved spirals: the hard one. Two hidden ReLU layers of 32 "
            "untangle them; narrower tanh networks stall near 60 %.",
            figure="≥ 90 % test accuracy after about 340 steps (34 epochs); 1,000 steps by default",
            spec=MLPSpec((2, 32, 32, 1), ("relu", "relu", "sigmoid")),
            data=_toy("spiral"),
            **{**_TOY, "epochs": 100, "lr": 0.02, "batch_size": 20},
        ),
    )
}

# --- health demonstrations (issue 12): networks that train badly, and one that doesn't ---


def _kaiming_init(model: nn.Module) -> None:
    """He (Kaiming) normal weights for ReLU, zero biases."""
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)


def _negative_bias_init(model: nn.Module) -> None:
    """Every bias −3: on inputs in [−1, 1] no ReLU unit ever switches on."""
    for m in model.modules():
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.constant_(m.bias, -3.0)


_DEEP = 8  # hidden layers of the vanishing-gradient pair
_HEALTH = dict(data=_toy("circle"), loss="bce", batch_size=20, steps=300, two_d=True, editable=True)
_HEALTH_SOURCE = "Training-health demonstration: watch the Gradient flow and Distributions tabs"

SCENARIOS.update(
    {
        s.id: s
        for s in (
            Scenario(
                "vanishing-sigmoid",
                "Vanishing gradients: 8 sigmoid layers",
                _HEALTH_SOURCE,
                "Eight hidden sigmoid layers of 16 with PyTorch's default initialisation: "
                "each layer scales the gradient by σ' ≤ ¼ times its weights, so the first "
                "layers get gradients a millionth of the output layer's and barely move.",
                figure="layer 1's gradient about 1e-7 of the output layer's; the loss stays near 0.69",
                spec=MLPSpec((2, *[16] * _DEEP, 1), ("sigmoid",) * (_DEEP + 1)),
                optimizer="sgd",
                lr=0.5,
                **_HEALTH,
            ),
            Scenario(
                "deep-relu-kaiming",
                "Healthy twin: 8 ReLU layers, Kaiming init",
                _HEALTH_SOURCE,
                "The same depth with ReLU and He (Kaiming) initialisation: the gradient "
                "keeps its size through all eight layers and the network learns the circle.",
                figure="every layer's gradient within 10× of the output layer's; ≥ 90 % accuracy",
                spec=MLPSpec((2, *[16] * _DEEP, 1), ("relu",) * _DEEP + ("sigmoid",)),
                optimizer="sgd",
                lr=0.05,
                init=_kaiming_init,
                **_HEALTH,
            ),
            Scenario(
                "lr-too-high",
                "Learning rate too high: updates explode",
                _HEALTH_SOURCE,
                "A small tanh network regressing with MSE and SGD at learning rate 0.5: "
                "each step overshoots, the output layer's updates grow to many times its "
                "weights and within a few dozen steps the loss becomes infinite.",
                figure="updates over 1× the weights a step, then a NaN/Inf loss",
                spec=MLPSpec((2, 32, 32, 1), ("tanh", "tanh", "linear")),
                optimizer="sgd",
                lr=0.5,
                **{**_HEALTH, "loss": "mse", "steps": 200},
            ),
            Scenario(
                "dead-relu",
                "Dead ReLUs: a large negative bias",
                _HEALTH_SOURCE,
                "A ReLU network whose biases all start at −3: no unit is ever active on "
                "the inputs, so no gradient reaches the hidden layers and nothing learns.",
                figure="100 % of units dead in both hidden layers; accuracy stays at chance",
                spec=MLPSpec((2, 32, 32, 1), ("relu", "relu", "sigmoid")),
                optimizer="adam",
                lr=0.01,
                init=_negative_bias_init,
                **_HEALTH,
            ),
        )
    }
)
# --- end health demonstrations (issue 12) ---

DEFAULT_SCENARIO = "spiral"


def get_scenario(scenario_id: str) -> Scenario:
    try:
        return SCENARIOS[scenario_id]
    except KeyError:
        raise NnvizError(
            f"unknown scenario {scenario_id!r}; `nnviz scenarios` lists them "
            f"({', '.join(SCENARIOS)})"
        ) from None
