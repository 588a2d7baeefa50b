"""Data sets: toy sets, digits, IDX files, the seed-000 folder format and their errors."""

from __future__ import annotations

import csv
import gzip

import numpy as np
import pytest
import torch
from PIL import Image

from nnviz.core import datasets as D
from nnviz.core.errors import NnvizError
from tests.factories import make_idx_dir, make_image_folder

# --- 2-D toy sets -------------------------------------------------------------------


@pytest.mark.parametrize("kind", D.TOY_KINDS)
def test_toy_sets_are_two_class_points_in_the_unit_square(kind):
    ds = D.toy_2d(kind, n_samples=400, seed=3)
    assert ds.input_shape == (2,) and ds.binary
    assert ds.n_train == 200 and len(ds.x_val) == 200
    for x, y in ((ds.x_train, ds.y_train), (ds.x_val, ds.y_val)):
        assert x.dtype == np.float32 and x.shape[1] == 2
        assert y.dtype == np.float32 and y.shape == (len(x), 1)
        assert set(np.unique(y)) <= {0.0, 1.0}
    y = np.concatenate([ds.y_train, ds.y_val])
    assert 0.35 < y.mean() < 0.65  # both classes, roughly balanced
    assert np.abs(np.concatenate([ds.x_train, ds.x_val])).max() < 1.6


@pytest.mark.parametrize("kind", D.TOY_KINDS)
def test_toy_sets_are_deterministic_by_seed(kind):
    a, b, c = D.toy_2d(kind, seed=1), D.toy_2d(kind, seed=1), D.toy_2d(kind, seed=2)
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_val, b.y_val)
    assert not np.array_equal(a.x_train, c.x_train)


def test_toy_split_is_disjoint_and_follows_the_fraction():
    ds = D.toy_2d("xor", n_samples=300, val_fraction=0.2, seed=0)
    assert len(ds.x_val) == 60 and ds.n_train == 240
    rows = {tuple(r) for r in ds.x_train}
    assert not rows & {tuple(r) for r in ds.x_val}


def test_noise_means_what_playgrounds_slider_means():
    # circle/xor: without noise every label follows the rule exactly; with noise some flip.
    clean = D.toy_2d("xor", noise=0.0, n_samples=1000)
    x, y = clean.x_train, clean.y_train[:, 0]
    assert np.array_equal(y == 1, x[:, 0] * x[:, 1] >= 0)
    noisy = D.toy_2d("xor", noise=0.5, n_samples=1000)
    x, y = noisy.x_train, noisy.y_train[:, 0]
    flipped = np.mean((y == 1) != (x[:, 0] * x[:, 1] >= 0))
    assert 0.05 < flipped < 0.5
    circ = D.toy_2d("circle", noise=0.0, n_samples=1000)
    r = np.linalg.norm(circ.x_train, axis=1)
    assert np.all(r[circ.y_train[:, 0] == 1] <= 0.5) and np.all(r[circ.y_train[:, 0] == 0] >= 0.7)
    # gauss: the blobs spread out as noise grows.
    assert D.toy_2d("gauss", noise=0.5).x_train.std() > D.toy_2d("gauss", noise=0.0).x_train.std()


def test_spiral_is_learnable_by_a_small_tanh_mlp():
    ds = D.toy_2d("spiral", seed=0)
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(2, 8),
        torch.nn.Tanh(),
        torch.nn.Linear(8, 8),
        torch.nn.Tanh(),
        torch.nn.Linear(8, 1),
    )
    opt = torch.optim.Adam(net.parameters(), lr=0.03)
    x, y = torch.from_numpy(ds.x_train), torch.from_numpy(ds.y_train)
    for _ in range(500):
        opt.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(net(x), y).backward()
        opt.step()
    with torch.no_grad():
        pred = (net(torch.from_numpy(ds.x_val)) > 0).float().numpy()
    assert (pred == ds.y_val).mean() >= 0.9


def test_toy_errors_name_the_choices():
    with pytest.raises(NnvizError, match="circle, xor, gauss, spiral"):
        D.toy_2d("moons")
    with pytest.raises(NnvizError, match="noise"):
        D.toy_2d("xor", noise=-0.1)
    with pytest.raises(NnvizError, match="validation fraction"):
        D.toy_2d("xor", val_fraction=1.0)


# --- digits -------------------------------------------------------------------------


def test_digits_shapes_scale_and_split():
    ds = D.load_digits(seed=0)
    assert ds.input_shape == (8, 8) and ds.classes == D.DIGIT_CLASSES
    assert ds.x_train.shape[1:] == (8, 8) and ds.x_train.dtype == np.float32
    assert ds.y_train.dtype == np.int64 and ds.y_train.ndim == 1
    assert ds.n_train + len(ds.x_val) == 1797 and len(ds.x_val) == round(1797 * 0.2)
    x = np.concatenate([ds.x_train, ds.x_val])
    assert x.min() == 0.0 and x.max() == 1.0
    assert set(np.unique(ds.y_train)) == set(range(10))

    big = D.load_digits(seed=0, size=28)
    assert big.input_shape == (28, 28) and big.x_train.shape[1:] == (28, 28)
    assert big.x_train.min() >= 0.0 and big.x_train.max() <= 1.0
    assert "MNIST" in big.note and "8x8" in big.note
    assert np.array_equal(big.y_train, ds.y_train)  # same split, same labels
    # The resize keeps each picture: it matches Pillow's bilinear resize closely.
    small, up = ds.x_train[0], big.x_train[0]
    ref = np.asarray(Image.fromarray(small).resize((28, 28), Image.BILINEAR))
    assert np.corrcoef(ref.ravel(), up.ravel())[0, 1] > 0.95


# --- IDX files ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "arr",
    [
        np.arange(24, dtype=np.uint8).reshape(2, 3, 4),
        np.array([0, 9, 3], dtype=np.uint8),
        np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3),
        np.array([-5, 70000], dtype=np.int32),
    ],
)
@pytest.mark.parametrize("name", ["a-idx-ubyte", "a-idx-ubyte.gz"])
def test_idx_round_trip(tmp_path, arr, name):
    path = D.write_idx(tmp_path / name, arr)
    back = D.read_idx(path)
    assert back.dtype == arr.dtype and np.array_equal(back, arr)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")


def test_gzip_is_sniffed_not_taken_from_the_name(tmp_path):
    arr = np.arange(12, dtype=np.uint8).reshape(3, 4)
    D.write_idx(tmp_path / "x.gz", arr)
    (tmp_path / "x.gz").rename(tmp_path / "plain-name-idx1-ubyte")
    assert np.array_equal(D.read_idx(tmp_path / "plain-name-idx1-ubyte"), arr)
    D.write_idx(tmp_path / "y", arr)
    (tmp_path / "y").rename(tmp_path / "y.gz")  # says .gz, is plain
    assert np.array_equal(D.read_idx(tmp_path / "y.gz"), arr)


def test_idx_magic_and_length_errors(tmp_path):
    bad = tmp_path / "bad-idx3-ubyte"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(20))
    with pytest.raises(NnvizError, match=r"magic number is 0x89504e47"):
        D.read_idx(bad)
    labels = D.write_idx(tmp_path / "l", np.zeros(5, np.uint8))
    with pytest.raises(NnvizError, match=r"0x00000801.*0x00000803"):
        D.read_idx(labels, expected_magic=0x0803)
    short = tmp_path / "short"
    short.write_bytes(labels.read_bytes()[:-2])
    with pytest.raises(NnvizError, match=r"truncated.*13 bytes.*has 11 bytes"):
        D.read_idx(short)
    long = tmp_path / "long"
    long.write_bytes(labels.read_bytes() + b"\x00")
    with pytest.raises(NnvizError, match="longer than its header"):
        D.read_idx(long)
    broken = tmp_path / "broken.gz"
    broken.write_bytes(gzip.compress(labels.read_bytes())[:-6])
    with pytest.raises(NnvizError, match="decompress"):
        D.read_idx(broken)


@pytest.mark.parametrize("gz", [False, True])
def test_idx_dir_loads_train_and_t10k(tmp_path, gz):
    make_idx_dir(tmp_path, n_train=100, n_test=20, gz=gz)
    ds = D.load_idx_dir(tmp_path, val_fraction=0.1, seed=0)
    assert ds.x_train.shape == (90, 28, 28) and ds.x_val.shape == (10, 28, 28)
    assert ds.x_train.dtype == np.float32 and ds.x_train.min() >= 0 and ds.x_train.max() <= 1
    assert ds.y_train.dtype == np.int64 and ds.classes == D.DIGIT_CLASSES
    assert ds.x_test.shape == (20, 28, 28) and ds.test_ids == tuple(str(i) for i in range(20))
    assert ds.y_test.shape == (20,) and ds.y_test.dtype == np.int64
    raw = D.read_idx(next(tmp_path.glob("train-images*")))
    assert np.allclose(
        np.sort(np.concatenate([ds.x_train, ds.x_val]).sum(axis=(1, 2))),
        np.sort(raw.sum(axis=(1, 2)) / 255.0),
        atol=1e-3,
    )


def test_idx_dir_accepts_dotted_names_and_no_test_set(tmp_path):
    make_idx_dir(tmp_path, n_train=40, n_test=0)
    for p in tmp_path.iterdir():
        p.rename(tmp_path / p.name.replace("-idx", ".idx"))
    ds = D.load_data_dir(tmp_path)
    assert ds.n_train + len(ds.x_val) == 40 and ds.x_test is None and ds.y_test is None


def test_idx_dir_errors(tmp_path):
    make_idx_dir(tmp_path / "ok", n_train=30, n_test=0)
    (tmp_path / "ok" / "train-labels-idx1-ubyte").unlink()
    with pytest.raises(NnvizError, match=r"no MNIST training labels.*train-labels-idx1-ubyte\.gz"):
        D.load_idx_dir(tmp_path / "ok")

    make_idx_dir(tmp_path / "big", n_train=30, n_test=0, shape=(32, 32))
    with pytest.raises(NnvizError, match="images are 32x32 but mnist-mlp needs 28x28"):
        D.load_idx_dir(tmp_path / "big")
    with pytest.raises(NnvizError, match="images are 32x32 but apparel-mlp needs 28x28"):
        D.load_data_dir(tmp_path / "big", classes=D.APPAREL_CLASSES)

    d = make_idx_dir(tmp_path / "lab", n_train=30, n_test=0)
    labels = D.read_idx(d / "train-labels-idx1-ubyte")
    labels[[3, 7]] = [10, 200]
    D.write_idx(d / "train-labels-idx1-ubyte", labels)
    with pytest.raises(
        NnvizError, match=r"labels must be 0\.\.9.*10 at position 3.*2 labels out of range"
    ):
        D.load_idx_dir(d)

    d = make_idx_dir(tmp_path / "count", n_train=30, n_test=0)
    D.write_idx(d / "train-labels-idx1-ubyte", np.zeros(29, np.uint8))
    with pytest.raises(NnvizError, match="30 images but train-labels-idx1-ubyte has 29 labels"):
        D.load_idx_dir(d)

    d = make_idx_dir(tmp_path / "swap", n_train=30, n_test=0)
    imgs = (d / "train-images-idx3-ubyte").read_bytes()
    (d / "train-images-idx3-ubyte").write_bytes((d / "train-labels-idx1-ubyte").read_bytes())
    (d / "train-labels-idx1-ubyte").write_bytes(imgs)
    with pytest.raises(NnvizError, match=r"magic number 0x00000801 but 0x00000803 \(images\)"):
        D.load_idx_dir(d)


# --- the seed-000 folder format -----------------------------------------------------------


def test_image_folder_round_trip_with_test_set(tmp_path):
    make_image_folder(tmp_path, n_train=50, n_test=7)
    ds = D.load_image_folder(tmp_path, val_fraction=0.1, seed=0)
    assert ds.x_train.shape == (45, 28, 28) and ds.x_val.shape == (5, 28, 28)
    assert ds.classes == D.APPAREL_CLASSES and ds.y_train.dtype == np.int64
    assert ds.x_test.shape == (7, 28, 28) and ds.test_ids == tuple(str(i) for i in range(51, 58))
    assert ds.y_test is None
    # Pixels come back as written (uint8 / 255).
    png = np.asarray(Image.open(tmp_path / "test" / "51.png"), dtype=np.float32) / 255
    assert np.allclose(ds.x_test[0], png)
    with open(tmp_path / "train.csv") as fh:
        truth = {r["id"]: int(r["label"]) for r in csv.DictReader(fh)}
    first = np.asarray(Image.open(tmp_path / "train" / "1.png"), dtype=np.float32) / 255
    both_x = np.concatenate([ds.x_train, ds.x_val])
    both_y = np.concatenate([ds.y_train, ds.y_val])
    k = int(np.flatnonzero(np.all(both_x == first, axis=(1, 2)))[0])
    assert both_y[k] == truth["1"]


def test_image_folder_layouts_and_colour_pngs(tmp_path):
    # directory/train/train.csv with images beside it, one RGBA and one RGB image.
    root = tmp_path / "comp"
    sub = root / "train"
    sub.mkdir(parents=True)
    rows = [("a", 0), ("b", 9), ("c", 3)]
    grey = np.full((28, 28), 128, np.uint8)
    Image.fromarray(np.dstack([grey] * 3 + [np.full_like(grey, 255)])).save(sub / "a.png")
    Image.fromarray(np.dstack([grey] * 3)).save(sub / "b.png")
    Image.fromarray(grey).save(sub / "c.png")
    with open(sub / "train.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([("id", "label"), *rows])
    ds = D.load_data_dir(root, val_fraction=0.0)
    assert ds.n_train == 3 and len(ds.x_val) == 0
    assert np.allclose(ds.x_train, 128 / 255, atol=1 / 255)

    # images/ folder, labels given by class name.
    flat = tmp_path / "flat"
    (flat / "images").mkdir(parents=True)
    Image.fromarray(grey).save(flat / "images" / "7.png")
    (flat / "train.csv").write_text("id,label\n7,Ankle boot\n")
    assert D.load_data_dir(flat, val_fraction=0.0).y_train.tolist() == [9]


def _folder(tmp_path, rows, header="id,label"):
    d = tmp_path / "f"
    (d / "train").mkdir(parents=True, exist_ok=True)
    img = np.zeros((28, 28), np.uint8)
    for i, _ in rows:
        Image.fromarray(img).save(d / "train" / f"{i}.png")
    (d / "train.csv").write_text(header + "\n" + "".join(f"{i},{lab}\n" for i, lab in rows))
    return d


def test_image_folder_errors(tmp_path):
    with pytest.raises(NnvizError, match=r"no train\.csv.*id,label"):
        D.load_image_folder(tmp_path)

    d = _folder(tmp_path, [(1, 0), (2, 1)], header="name,class")
    with pytest.raises(NnvizError, match=r"header.*id,label.*missing id, label"):
        D.load_image_folder(d)

    d = _folder(tmp_path, [(1, 0), (2, 1), (3, 2), (4, 3)])
    (d / "train" / "2.png").unlink()
    (d / "train" / "4.png").unlink()
    with pytest.raises(
        NnvizError, match=r"2 of the 4 images listed in train\.csv are missing.*2\.png, 4\.png"
    ):
        D.load_image_folder(d)

    d = _folder(tmp_path, [(1, 0), (2, 12), (3, "Hat")])
    with pytest.raises(
        NnvizError, match=r"0\.\.9 \(10 classes\) but line 3 has '12' \(2 bad labels\)"
    ):
        D.load_image_folder(d)

    d = _folder(tmp_path, [(1, 0), (2, 1)])
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(d / "train" / "2.png")
    with pytest.raises(NnvizError, match=r"images are 32x32 but apparel-mlp needs 28x28.*2\.png"):
        D.load_image_folder(d)

    d = _folder(tmp_path, [(1, 0), (2, 1)])
    (d / "train" / "2.png").write_bytes(b"not a png at all")
    with pytest.raises(NnvizError, match=r"cannot read image .*2\.png"):
        D.load_image_folder(d)

    d = _folder(tmp_path, [(1, 0)])
    (d / "test.csv").write_text("id\n99\n")
    with pytest.raises(NnvizError, match=r"test\.csv.*99\.png"):
        D.load_image_folder(d)


def test_load_data_dir_errors_say_what_was_expected(tmp_path):
    with pytest.raises(NnvizError, match="data folder not found"):
        D.load_data_dir(tmp_path / "nope")
    with pytest.raises(NnvizError, match=r"no data found.*train-images-idx3-ubyte.*train\.csv"):
        D.load_data_dir(tmp_path)


# --- splits, predictions, synthetic images ---------------------------------------------------


def test_loader_splits_are_deterministic_and_disjoint(tmp_path):
    make_idx_dir(tmp_path, n_train=120, n_test=0)
    a, b = D.load_idx_dir(tmp_path, seed=5), D.load_idx_dir(tmp_path, seed=5)
    c = D.load_idx_dir(tmp_path, seed=6)
    assert np.array_equal(a.x_val, b.x_val) and np.array_equal(a.y_train, b.y_train)
    assert not np.array_equal(a.x_val, c.x_val)
    train = {r.tobytes() for r in a.x_train}
    assert not train & {r.tobytes() for r in a.x_val}
    assert len(a.x_val) == 12 and a.n_train == 108


def test_write_predictions_csv(tmp_path):
    path = D.write_predictions_csv(tmp_path / "p.csv", ("61", "62"), np.array([3, 9]))
    assert path.read_text().splitlines() == ["id,label", "61,3", "62,9"]
    with pytest.raises(NnvizError, match="2 ids but 1 labels"):
        D.write_predictions_csv(tmp_path / "q.csv", ("1", "2"), [0])


def test_synthetic_images_are_learnable():
    x, y = D.synthetic_images(300, seed=0)
    assert x.shape == (300, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
    assert x.min() >= 0 and x.max() <= 1 and np.bincount(y).tolist() == [30] * 10
    xt, yt = D.synthetic_images(100, seed=1)  # another seed: same classes, new images
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    for _ in range(30):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        opt.step()
    acc = (net(torch.from_numpy(xt)).argmax(1).numpy() == yt).mean()
    assert acc >= 0.9


def test_core_import_stays_light():
    import subprocess
    import sys

    code = "import sys, nnviz.core.datasets; print('sklearn' in sys.modules, 'PIL' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
