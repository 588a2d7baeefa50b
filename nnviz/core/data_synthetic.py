"""Data sets made in code: TensorFlow Playground's 2-D toy sets, scikit-learn's
bundled 8x8 digits (imported only when asked for) and blocky synthetic
images for tests and benchmarks. Nothing is downloaded."""

from __future__ import annotations

import numpy as np

from nnviz.core.data_common import DIGIT_CLASSES, TOY_KINDS, Dataset, check_fraction, split_rows
from nnviz.core.errors import NnvizError

# --- 2-D toy sets ------------------------------------------------------------------


def toy_2d(
    kind: str,
    n_samples: int = 400,
    noise: float = 0.1,
    val_fraction: float = 0.5,
    seed: int = 0,
    scale: float | None = None,
) -> Dataset:
    """A two-class 2-D set made the way TensorFlow Playground makes it.

    ``kind`` is one of :data:`TOY_KINDS`. Points are generated in Playground's
    units (radius 5) and divided by 5, so they lie in about [-1, 1]², or
    multiplied by ``scale`` when given (the Playground preset keeps its units: 1).
    ``noise`` is Playground's noise slider as a fraction (its 0..50 % is
    0..0.5 here): for circle and xor each point's label is taken from a
    position jittered by up to ``noise`` x 5 units, so labels near the border
    flip; for gauss the blobs' variance grows from 0.5 (noise 0) to 4
    (noise 0.5); for spiral each point moves by up to ``noise`` units.
    ``y`` is float32 ``(N, 1)`` of 0/1; ``x_val``/``y_val`` are the test split
    (``val_fraction`` of the points), fixed by ``seed``.
    """
    if kind not in TOY_KINDS:
        raise NnvizError(f"unknown 2-D data set {kind!r}; choose one of {', '.join(TOY_KINDS)}")
    n_samples = int(n_samples)
    if n_samples < 4:
        raise NnvizError(f"a 2-D data set needs at least 4 points, not {n_samples}")
    noise = float(noise)
    if not 0.0 <= noise <= 1.0:
        raise NnvizError(
            f"noise must be between 0 and 1 (Playground's 0..50 % is 0..0.5), not {noise}"
        )
    check_fraction(val_fraction)

    rng = np.random.default_rng(seed)
    half = n_samples // 2
    rest = n_samples - half
    if kind == "circle":
        radius = 5.0

        def ring(n: int, r_lo: float, r_hi: float) -> tuple[np.ndarray, np.ndarray]:
            r = rng.uniform(r_lo, r_hi, n)
            angle = rng.uniform(0, 2 * np.pi, n)
            pts = np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1)
            jitter = rng.uniform(-radius, radius, (n, 2)) * noise
            label = np.linalg.norm(pts + jitter, axis=1) < radius * 0.5
            return pts, label

        p_in, l_in = ring(half, 0.0, radius * 0.5)
        p_out, l_out = ring(rest, radius * 0.7, radius)
        pts, label = np.concatenate([p_in, p_out]), np.concatenate([l_in, l_out])
    elif kind == "xor":
        pts = rng.uniform(-5, 5, (n_samples, 2))
        pts += np.where(pts > 0, 0.3, -0.3)  # Playground's padding off the axes
        jitter = rng.uniform(-5, 5, (n_samples, 2)) * noise
        moved = pts + jitter
        label = moved[:, 0] * moved[:, 1] >= 0
    elif kind == "gauss":
        variance = 0.5 + (4.0 - 0.5) * noise / 0.5
        std = np.sqrt(variance)
        pos = rng.normal(2.0, std, (half, 2))
        neg = rng.normal(-2.0, std, (rest, 2))
        pts = np.concatenate([pos, neg])
        label = np.r_[np.ones(half, bool), np.zeros(rest, bool)]
    else:  # spiral

        def arm(n: int, delta: float) -> np.ndarray:
            i = np.arange(n)
            r = i / n * 5.0
            t = 1.75 * i / n * 2 * np.pi + delta
            xy = np.stack([r * np.sin(t), r * np.cos(t)], axis=1)
            return xy + rng.uniform(-1, 1, (n, 2)) * noise

        pts = np.concatenate([arm(half, 0.0), arm(rest, np.pi)])
        label = np.r_[np.ones(half, bool), np.zeros(rest, bool)]

    x = (pts / 5.0 if scale is None else pts * float(scale)).astype(np.float32)
    y = label.astype(np.float32).reshape(-1, 1)
    x_tr, y_tr, x_va, y_va = split_rows(x, y, val_fraction, seed)
    return Dataset(
        kind,
        x_tr,
        y_tr,
        x_va,
        y_va,
        (2,),
        classes=("0", "1"),
        note=f"{kind}: {n_samples} points, noise {noise:g}, {len(x_va)} held out for testing",
    )


# --- scikit-learn's digits -----------------------------------------------------------


def _resize_bilinear(images: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of ``(N, h, w)`` images to ``(N, size, size)`` (pixel centres aligned)."""

    def weights(n_in: int) -> np.ndarray:
        pos = (np.arange(size) + 0.5) * n_in / size - 0.5
        pos = np.clip(pos, 0, n_in - 1)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, n_in - 1)
        frac = pos - lo
        m = np.zeros((size, n_in))
        m[np.arange(size), lo] += 1 - frac
        m[np.arange(size), hi] += frac
        return m

    rows, cols = weights(images.shape[1]), weights(images.shape[2])
    return np.einsum("ri,nij,cj->nrc", rows, images, cols)


def load_digits(val_fraction: float = 0.2, seed: int = 0, size: int = 8) -> Dataset:
    """scikit-learn's bundled 8x8 handwritten digits (1,797 images, no download).

    ``x`` is float32 ``(N, size, size)`` in [0, 1], ``y`` int64 ``(N,)``. With
    ``size=28`` every image is resized bilinearly to 28x28, an offline stand-in
    for MNIST (``note`` says so).
    """
    from sklearn.datasets import load_digits as sk_load_digits

    size = int(size)
    if size < 1:
        raise NnvizError(f"digit image size must be positive, not {size}")
    bunch = sk_load_digits()
    x = np.asarray(bunch.images, dtype=np.float64) / 16.0
    y = np.asarray(bunch.target, dtype=np.int64)
    note = "scikit-learn's bundled 8x8 digits (1,797 images)"
    if size != 8:
        x = _resize_bilinear(x, size)
        note = (
            f"no MNIST files given: using scikit-learn's bundled 8x8 digits resized to "
            f"{size}x{size} as an offline stand-in for MNIST (pass --data DIR for real MNIST)"
        )
    x = np.clip(x, 0.0, 1.0).astype(np.float32)
    x_tr, y_tr, x_va, y_va = split_rows(x, y, val_fraction, seed)
    name = "digits" if size == 8 else f"digits-{size}x{size}"
    return Dataset(name, x_tr, y_tr, x_va, y_va, (size, size), classes=DIGIT_CLASSES, note=note)


# --- synthetic images for tests and benchmarks --------------------------------------------


def synthetic_images(
    n: int, shape: tuple[int, ...] = (28, 28), n_classes: int = 10, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` noisy images of ``n_classes`` patterns: float32 in [0, 1] and int64 labels.

    Each class is a fixed blocky pattern (the same for every ``seed``, so sets
    made with different seeds share their classes) plus per-image noise and
    brightness; a small MLP separates them in a few epochs. Labels are
    balanced and shuffled.
    """
    n, n_classes = int(n), int(n_classes)
    if n < 0 or n_classes < 1:
        raise NnvizError(f"need n >= 0 and at least one class, not n={n}, n_classes={n_classes}")
    h = int(shape[0])
    w = int(shape[1]) if len(shape) > 1 else 1
    protos_small = np.random.default_rng(1234).random((n_classes, 7, 7)) > 0.5
    rows = np.arange(h) * 7 // h
    cols = np.arange(w) * 7 // w
    protos = protos_small[:, rows][:, :, cols].astype(np.float32)
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % n_classes).astype(np.int64)
    bright = rng.uniform(0.6, 0.9, (n, 1, 1)).astype(np.float32)
    x = protos[y] * bright + rng.normal(0.1, 0.12, (n, h, w)).astype(np.float32)
    x = np.clip(x, 0.0, 1.0).astype(np.float32).reshape(n, *shape)
    return x, y
