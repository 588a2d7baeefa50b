"""The run's history, without Qt: metrics per step and the byte-bounded snapshot ring."""

from __future__ import annotations

import dataclasses
import math
from types import MappingProxyType, SimpleNamespace

import numpy as np
import pytest

from nnviz.core.history import History, MetricsHistory, SnapshotHistory, snapshot_nbytes
from nnviz.core.smoothing import ema_debiased
from nnviz.core.snapshot import LayerSnapshot, Snapshot


def noisy_loss(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 0.1 + 2.0 * np.exp(-np.arange(n) / (n / 5)) * np.exp(rng.normal(0, 0.3, n))


def hand_snapshot(step: int, width: int = 3, n_in: int = 2) -> Snapshot:
    """A snapshot whose values encode its step: a[j] = step + j / 10, x[i] = -step - i."""
    a = np.array([step + j / 10 for j in range(width)])
    w = np.zeros((width, n_in))
    layer = LayerSnapshot(
        "0", "tanh", z=a * 2, a=a, dz=-a, da=None, weight=w, bias=np.zeros(width),
        weight_grad=None, bias_grad=None, a_mean=a, a_std=a, dz_abs_mean=None,
        dead_fraction=0.0,
    )  # fmt: skip
    x = -float(step) - np.arange(n_in, dtype=np.float64)
    return Snapshot(
        step=step, epoch=0, loss=1.0, sample_row=0, sample_index=0, input=x,
        input_shape=(n_in,), target=np.zeros(1), output=np.zeros(1), layers=(layer,),
    )  # fmt: skip


@pytest.fixture(scope="module")
def real_snapshot():
    """A snapshot of a tiny real model (xor: 2-8-1 with a decision field)."""
    from nnviz.core.engine import TrainConfig, Trainer
    from nnviz.core.scenarios import get_scenario

    sc = get_scenario("xor")
    tr = Trainer(sc, TrainConfig.for_scenario(sc, device="cpu", seed=0))
    for _ in range(3):
        tr.step()
    return tr.snapshot()


# --- metrics ------------------------------------------------------------------------------


def test_metrics_append_and_version():
    m = MetricsHistory()
    assert len(m) == 0 and m.last_step == 0 and math.isnan(m.last_loss)
    v0 = m.version
    m.set_steps_per_epoch(4)
    assert m.version > v0
    loss = noisy_loss(10)
    m.append_train(np.arange(10), loss)
    assert m.version > v0 + 1
    np.testing.assert_array_equal(m.train_step.view, np.arange(10))
    np.testing.assert_allclose(m.train_loss.view, loss)
    np.testing.assert_allclose(m.train_epoch.view, np.arange(10) / 4)
    assert m.last_step == 10 and m.last_loss == pytest.approx(loss[-1])
    with pytest.raises(ValueError):
        m.train_loss.view[0] = 5.0  # views are read-only
    with pytest.raises(ValueError):
        m.append_train([1, 2], [0.5])
    v = m.version
    m.set_steps_per_epoch(4)  # no change: no new version
    assert m.version == v


def test_smoothed_equals_the_ema_of_every_loss_however_it_arrived():
    m = MetricsHistory()
    loss = noisy_loss(1000, seed=3)
    for a in range(0, 1000, 37):
        m.append_train(np.arange(a, min(a + 37, 1000)), loss[a : a + 37])
        if a % 3 == 0:
            m.smoothed(0.9)  # a frame drew in between
    np.testing.assert_allclose(m.smoothed(0.9), ema_debiased(loss, 0.9), rtol=1e-9)
    # another weight: recomputed from all the losses
    np.testing.assert_allclose(m.smoothed(0.3), ema_debiased(loss, 0.3), rtol=1e-9)
    np.testing.assert_allclose(m.smoothed(0.0), loss)
    assert m.smoothed(0.9)[0] == pytest.approx(loss[0])  # debiased


def test_arrays_handed_out_keep_their_numbers():
    """A view draws arrays it was handed; nothing later may write into them."""
    m = MetricsHistory()
    loss = noisy_loss(100)
    m.append_train(np.arange(100), loss)
    drawn_loss, drawn_smooth = m.train_loss.view, m.smoothed(0.9)
    kept_loss, kept_smooth = drawn_loss.copy(), drawn_smooth.copy()
    m.smoothed(0.5)  # another view, another weight
    m.clear()  # a new model
    m.append_train(np.arange(100), noisy_loss(100, seed=9))
    m.smoothed(0.9)
    np.testing.assert_array_equal(drawn_loss, kept_loss)
    np.testing.assert_array_equal(drawn_smooth, kept_smooth)


def test_non_finite_losses_are_counted_not_stored():
    m = MetricsHistory()
    loss = noisy_loss(50)
    loss[[10, 11, 30]] = [np.nan, np.inf, -np.inf]
    m.append_train(np.arange(50), loss)
    v = m.version
    m.append_train([50], [np.nan])
    assert m.version > v  # the count changed
    assert m.nonfinite_count == 4 and len(m) == 47
    assert np.isfinite(m.train_loss.view).all()
    assert 10 not in m.train_step.view and 30 not in m.train_step.view
    finite = loss[np.isfinite(loss)]
    np.testing.assert_allclose(m.smoothed(0.8), ema_debiased(finite, 0.8), rtol=1e-9)
    assert m.last_step == 50  # step 49 was the last finite one


def test_evaluations():
    m = MetricsHistory()
    m.set_steps_per_epoch(20)
    m.append_eval(40, 0.8)
    m.append_eval(80, 0.6, 0.75, train_accuracy=0.8, train_loss=0.5)
    m.append_eval(100, None, epoch=7.0)
    np.testing.assert_array_equal(m.eval_step.view, [40, 80, 100])
    np.testing.assert_allclose(m.eval_epoch.view, [2.0, 4.0, 7.0])
    np.testing.assert_allclose(m.val_loss.view, [0.8, 0.6, np.nan])
    np.testing.assert_allclose(m.val_accuracy.view, [np.nan, 0.75, np.nan])
    np.testing.assert_allclose(m.train_accuracy.view, [np.nan, 0.8, np.nan])
    np.testing.assert_allclose(m.eval_train_loss.view, [np.nan, 0.5, np.nan])
    assert len(m) == 0  # evaluations are not train steps


def test_a_run_event_fills_losses_evaluations_rate_and_wall_clock():
    ev = SimpleNamespace(
        step=10, epoch=2.0, train_loss=0.5, train_accuracy=0.9, val_loss=0.6, val_accuracy=0.85
    )
    event = SimpleNamespace(
        steps=np.arange(10), losses=noisy_loss(10), evals=(ev, None), steps_per_epoch=5,
        rate=123.0,
    )  # fmt: skip
    m = MetricsHistory()
    m.append_metrics(event)
    assert m.steps_per_epoch == 5 and m.rate == 123.0
    np.testing.assert_allclose(m.train_epoch.view, np.arange(10) / 5)
    np.testing.assert_allclose(m.val_loss.view, [0.6])
    np.testing.assert_allclose(m.val_accuracy.view, [0.85])
    np.testing.assert_allclose(m.eval_epoch.view, [2.0])
    np.testing.assert_array_equal(m.wall_step.view, [10])
    assert m.wall_s.view[0] >= 0
    # an event with evaluations only (no new losses) adds no wall-clock point
    evals_only = SimpleNamespace(
        steps=np.arange(0), losses=np.zeros(0), evals=(ev,), steps_per_epoch=5, rate=0.0
    )
    m.append_metrics(evals_only)
    assert len(m.wall_step) == 1 and len(m.eval_step) == 2


def test_clear_forgets_everything():
    m = MetricsHistory()
    m.append_train(np.arange(5), [1.0, np.nan, 2.0, 3.0, 4.0])
    m.append_eval(4, 0.5, 0.5)
    m.smoothed(0.9)
    v = m.version
    m.clear()
    assert m.version > v
    assert len(m) == 0 and len(m.eval_step) == 0 and m.nonfinite_count == 0
    assert m.smoothed(0.9).size == 0
    m.append_train([0, 1], [2.0, 1.0])  # the smoothing starts again from the new run
    np.testing.assert_allclose(m.smoothed(0.9), ema_debiased([2.0, 1.0], 0.9))


# --- snapshots ----------------------------------------------------------------------------


def _unique_nbytes(snap: Snapshot) -> int:
    """Every array a snapshot refers to, each counted once (by identity)."""
    arrays = {}

    def take(a):
        if isinstance(a, np.ndarray):
            arrays[id(a)] = a

    for f in dataclasses.fields(snap):
        take(getattr(snap, f.name))
    for a in (*snap.params.values(), *snap.grads.values()):
        take(a)
    for layer in snap.layers:
        for f in dataclasses.fields(layer):
            take(getattr(layer, f.name))
    if snap.field is not None:
        take(snap.field.output)
        for h in snap.field.hidden:
            take(h)
    return sum(a.nbytes for a in arrays.values())


def test_snapshot_bytes_count_each_array_once(real_snapshot):
    snap = real_snapshot
    assert snap.params and snap.layers[0].weight is snap.params["0.weight"]  # shared
    assert snapshot_nbytes(snap) == _unique_nbytes(snap)
    assert snapshot_nbytes(hand_snapshot(3)) == _unique_nbytes(hand_snapshot(3))


def test_stays_within_its_budget_and_keeps_the_newest(real_snapshot):
    size = snapshot_nbytes(real_snapshot)
    h = SnapshotHistory(budget=10 * size)
    for i in range(200):
        assert h.add(dataclasses.replace(real_snapshot, step=i), now=float(i))
        assert h.nbytes <= h.budget
        assert h.latest.step == i and h.steps[-1] == i
        assert h.nbytes == sum(snapshot_nbytes(h[k]) for k in range(len(h)))
    assert len(h) == 10
    # one snapshot bigger than the whole budget: the newest is kept alone
    tiny = SnapshotHistory(budget=size // 2)
    for i in range(3):
        tiny.add(dataclasses.replace(real_snapshot, step=i), now=float(i))
    assert len(tiny) == 1 and tiny.latest.step == 2


def test_keeps_the_whole_span_with_density_falling_with_age():
    size = snapshot_nbytes(hand_snapshot(0))
    n_keep, n_steps = 40, 5000
    h = SnapshotHistory(budget=n_keep * size)
    for i in range(n_steps):
        h.add(hand_snapshot(i), now=float(i))
    steps = h.steps
    assert len(h) == n_keep
    assert steps[0] == 0  # the first step stays: the whole run can be scrubbed
    np.testing.assert_array_equal(steps[-5:], np.arange(n_steps - 5, n_steps))  # recent: dense
    gaps = np.diff(steps)
    assert np.all(np.diff(gaps) <= 0)  # older gaps are never smaller than newer ones
    # every doubling of age holds some snapshots: nowhere is the run left bare
    age = n_steps - 1 - steps
    for k in range(int(math.log2(n_steps)) - 1):
        assert np.any((age >= 2**k) & (age < 2 ** (k + 2))), k


def test_at_returns_the_newest_at_or_before():
    h = SnapshotHistory()
    assert h.at(5) is None and h.latest is None and h.index_of(5) == -1
    for i in (0, 4, 8, 9):
        h.add(hand_snapshot(i), now=float(i))
    assert [h.at(s).step for s in (0, 3, 4, 7, 8, 9, 100)] == [0, 0, 4, 4, 8, 9, 9]
    assert h.at(-3).step == 0  # before every snapshot: the first
    assert h.index_of(7) == 1 and h[h.index_of(7)] is h.at(7)


def test_going_back_in_steps_drops_the_future():
    h = SnapshotHistory()
    for i in range(11):
        h.add(hand_snapshot(i), now=float(i))
    v = h.version
    back = hand_snapshot(5)
    assert h.add(back, now=20.0)  # undo to step 5
    np.testing.assert_array_equal(h.steps, np.arange(6))
    assert h.latest is back and h.version > v
    assert h.nbytes == sum(snapshot_nbytes(h[k]) for k in range(len(h)))
    again = hand_snapshot(5)  # the same step again (another sample): the newest wins
    h.add(again, now=21.0)
    assert len(h) == 6 and h.latest is again


def test_series_equals_the_values_in_the_snapshots(real_snapshot):
    h = SnapshotHistory()
    rng = np.random.default_rng(0)
    kept = []
    for i in range(6):  # snapshots of the real model, each with its own values
        layers = tuple(
            dataclasses.replace(ly, a=rng.normal(size=ly.a.shape), dz=rng.normal(size=ly.z.shape))
            for ly in real_snapshot.layers
        )
        s = dataclasses.replace(real_snapshot, step=3 * i, layers=layers, input=rng.normal(size=2))
        h.add(s, now=float(i))
        kept.append(s)
    steps, values = h.series(1, 3, "a")
    np.testing.assert_array_equal(steps, [s.step for s in kept])
    np.testing.assert_allclose(values, [s.layers[0].a[3] for s in kept])
    steps, values = h.series(2, 0, "dz", until=7)
    np.testing.assert_array_equal(steps, [0, 3, 6])
    np.testing.assert_allclose(values, [s.layers[1].dz[0] for s in kept[:3]])
    steps, values = h.series(0, 1)  # the input
    np.testing.assert_allclose(values, [s.input[1] for s in kept])
    # no such neuron or layer: nothing, not an error
    assert h.series(1, 99)[0].size == 0 and h.series(5, 0)[0].size == 0
    assert h.series(1, 0, "da")[0].size == 6  # the real model has dL/da


def test_series_skips_missing_values():
    h = SnapshotHistory()
    h.add(hand_snapshot(0), now=0.0)
    assert h.series(1, 0, "da")[0].size == 0  # da is None in this snapshot
    np.testing.assert_allclose(h.series(1, 2, "z")[1], [0.4])


def test_min_interval_keeps_racing_snapshots_a_few_a_second_and_always_the_newest():
    h = SnapshotHistory(min_interval_s=0.2)
    assert h.add(hand_snapshot(0), now=0.0)
    assert h.add(hand_snapshot(50), now=0.05)  # racing: kept as the newest for now...
    h.add(hand_snapshot(91), now=0.16)  # ...and replaced: it came too soon after step 0
    np.testing.assert_array_equal(h.steps, [0, 91])
    h.add(hand_snapshot(120), now=0.25)  # 91 was too soon too; 120 is long enough after 0
    h.add(hand_snapshot(150), now=0.30)  # the newest is always there to draw
    np.testing.assert_array_equal(h.steps, [0, 120, 150])
    assert h.latest.step == 150 and h.at(149).step == 120
    h2 = SnapshotHistory(min_interval_s=0.2)
    h2.add(hand_snapshot(0), now=0.0)
    assert h2.add(hand_snapshot(1), now=0.01)  # one step at a time (Step): always kept
    assert h2.add(hand_snapshot(2), now=0.02)
    assert h2.add(hand_snapshot(2), now=0.03)  # the same step again: kept, replaces
    assert h2.add(hand_snapshot(200), now=0.5)  # long enough after: kept
    np.testing.assert_array_equal(h2.steps, [0, 1, 2, 200])


def test_history_holds_both_and_clears_both():
    hist = History(snapshot_budget=12345)
    assert hist.snapshots.budget == 12345
    hist.metrics.append_train([0], [1.0])
    hist.snapshots.add(hand_snapshot(0))
    mv, sv = hist.metrics.version, hist.snapshots.version
    hist.clear()
    assert len(hist.metrics) == 0 and len(hist.snapshots) == 0 and hist.snapshots.nbytes == 0
    assert hist.metrics.version > mv and hist.snapshots.version > sv
    assert hist.snapshots.add(hand_snapshot(7))  # a fresh run is kept at once


# --- issue 9: snapshots of non-chain models carry module blocks ----------------------


def _kept_arrays(obj, into: dict) -> dict:
    """Every numpy array reachable from ``obj``, each once: what keeping it keeps alive."""
    if isinstance(obj, np.ndarray):
        into[id(obj)] = obj
    elif isinstance(obj, tuple | list):
        for v in obj:
            _kept_arrays(v, into)
    elif hasattr(obj, "values") and hasattr(obj, "keys"):
        for v in obj.values():
            _kept_arrays(v, into)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            _kept_arrays(getattr(obj, f.name), into)
    return into


def _fresh(obj, **changes):
    """``obj`` with a fresh copy of every array in it (as each new step's snapshot has)."""
    if isinstance(obj, np.ndarray):
        return obj.copy()
    if isinstance(obj, tuple | list):
        return type(obj)(_fresh(v) for v in obj)
    if hasattr(obj, "values") and hasattr(obj, "keys"):
        return MappingProxyType({k: _fresh(v) for k, v in obj.items()})
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = {f.name: _fresh(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
        return dataclasses.replace(obj, **{**fields, **changes})
    return obj


@pytest.fixture(scope="module")
def cnn_snapshots():
    """Snapshots of examples/cnn_digits.py: Conv2d feature maps, their gradients and
    kernels in ``blocks``; the later ones with a health report."""
    from pathlib import Path

    from nnviz.core.engine import TrainConfig
    from nnviz.core.model_file import load_model_file

    root = Path(__file__).resolve().parents[2]
    mf = load_model_file(str(root / "examples" / "cnn_digits.py"))
    tr = mf.trainer(TrainConfig.for_scenario(mf.scenario, device="cpu", seed=0))
    snaps = [tr.snapshot()]
    tr.health_every = 1
    for _ in range(2):
        m = tr.step(snapshot=True)
        snaps.append(m.snapshot)
    return snaps


def test_snapshot_bytes_count_module_blocks_and_health(cnn_snapshots):
    for snap in cnn_snapshots:
        assert any(b.maps is not None and b.kernels is not None for b in snap.blocks)
        kept = sum(a.nbytes for a in _kept_arrays(snap, {}).values())
        blocks = sum(a.nbytes for a in _kept_arrays(snap.blocks, {}).values())
        assert blocks > 0.3 * kept  # the feature maps are a good part of a CNN's snapshot
        assert snapshot_nbytes(snap) == kept
    assert any(s.health is not None for s in cnn_snapshots)


def test_a_history_of_cnn_snapshots_stays_within_its_budget(cnn_snapshots):
    """The bytes of the arrays actually kept, not only the ones a chain model has."""
    sizes = [sum(a.nbytes for a in _kept_arrays(s, {}).values()) for s in cnn_snapshots]
    h = SnapshotHistory(budget=8 * max(sizes))
    for i in range(60):
        h.add(_fresh(cnn_snapshots[i % 3], step=i), now=float(i))
        kept = _kept_arrays([h[k] for k in range(len(h))], {})
        assert sum(a.nbytes for a in kept.values()) <= h.budget
        assert h.latest.step == i
    assert 8 <= len(h) <= 8 * max(sizes) // min(sizes)
