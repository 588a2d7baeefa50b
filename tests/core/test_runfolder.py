"""Run folders: written off-thread, read back equal, tailed live, thinned to a
budget, survive a SIGKILL, refuse bad folders with one clear line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from nnviz.core.engine import Trainer
from nnviz.core.errors import NnvizError
from nnviz.core.history import snapshot_nbytes
from nnviz.core.runfolder import FORMAT_VERSION, RunReader, RunWriter, open_run
from nnviz.core.scenarios import get_scenario

CLI = "import sys; from nnviz.cli import main; sys.exit(main())"
ROOT = Path(__file__).resolve().parents[2]
_ARRAYS = ("z", "a", "dz", "da", "weight", "bias", "weight_grad", "bias_grad", "a_mean", "a_std",
           "dz_abs_mean")  # fmt: skip


@pytest.fixture(scope="module")
def snaps():
    """Real snapshots of a few spiral steps (the app's own capture)."""
    tr = Trainer(get_scenario("spiral"))
    out = []
    for _ in range(6):
        m = tr.step(snapshot=True)
        out.append((m.loss, m.snapshot))
    return out


def same_snapshot(a, b) -> None:
    assert (a.step, a.epoch, a.loss, a.sample_row, a.sample_index, a.input_shape) == (
        b.step, b.epoch, b.loss, b.sample_row, b.sample_index, b.input_shape)  # fmt: skip
    for k in ("input", "target", "output"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))
    assert len(a.layers) == len(b.layers)
    for la, lb in zip(a.layers, b.layers):
        assert (la.name, la.activation, la.dead_fraction) == (
            lb.name,
            lb.activation,
            lb.dead_fraction,
        )
        for k in _ARRAYS:
            va, vb = getattr(la, k), getattr(lb, k)
            assert (va is None) == (vb is None), k
            if va is not None:
                assert va.dtype == vb.dtype
                np.testing.assert_array_equal(va, vb)
    assert a.params.keys() == b.params.keys() and a.grads.keys() == b.grads.keys()
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    for k in a.grads:
        np.testing.assert_array_equal(a.grads[k], b.grads[k])
    assert (a.field is None) == (b.field is None)
    if a.field is not None:
        assert a.field.extent == b.field.extent
        np.testing.assert_array_equal(a.field.output, b.field.output)
        for ha, hb in zip(a.field.hidden, b.field.hidden, strict=True):
            np.testing.assert_array_equal(ha, hb)


def test_written_run_reads_back_equal(tmp_path, snaps):
    d = tmp_path / "run"
    with RunWriter(d, {"scenario": "spiral", "lr": 0.03}) as w:
        for i, (loss, snap) in enumerate(snaps):
            w.log(i, loss=loss, accuracy=float("nan"))
            w.add_snapshot(snap)
            w.flush()  # (a burst faster than the disk may drop queued snapshots)
    r = RunReader(d)
    assert r.complete
    assert r.meta == {"scenario": "spiral", "lr": 0.03}
    assert r.header["version"] == FORMAT_VERSION
    assert [m["step"] for m in r.metrics()] == list(range(6))
    assert [m["loss"] for m in r.metrics()] == [loss for loss, _ in snaps]
    assert r.metrics()[0]["accuracy"] is None  # NaN is written as null (strict JSON)
    assert r.metric_names() == ["loss", "accuracy"]
    assert r.last()["loss"] == snaps[-1][0]
    assert r.snapshot_steps() == [s.step for _, s in snaps]
    for _, s in snaps:
        same_snapshot(r.snapshot(s.step), s)
    assert r.snapshot_at(10**9).step == snaps[-1][1].step
    # arrays are plain numeric arrays: they load with allow_pickle=False
    for f in (d / "snapshots").glob("*.npz"):
        with np.load(f, allow_pickle=False) as z:
            assert all(z[k].dtype != object for k in z.files)


def test_live_tailing_sees_new_steps_while_the_writer_runs(tmp_path, snaps):
    d = tmp_path / "live"
    w = RunWriter(d, {})
    w.log(0, loss=1.0)
    w.flush()
    r = RunReader(d)
    assert not r.complete and [m["step"] for m in r.metrics()] == [0]
    w.log(1, loss=0.5)
    w.add_snapshot(snaps[0][1])
    w.flush()
    ch = r.refresh()
    assert [m["step"] for m in ch.metrics] == [1] and ch.snapshots == [snaps[0][1].step]
    assert [m["step"] for m in r.metrics()] == [0, 1] and not r.complete
    assert not r.refresh()  # nothing new
    # a half-written line is not read until its newline arrives
    with open(d / "metrics.jsonl", "a") as f:
        f.write('{"step": 2, "lo')
    assert not r.refresh().metrics
    with open(d / "metrics.jsonl", "a") as f:
        f.write('ss": 0.25}\n')
    assert r.refresh().metrics == [{"step": 2, "loss": 0.25}]
    w.close()
    assert r.refresh().completed and r.complete


def test_snapshots_thinned_to_the_budget_keep_the_whole_span(tmp_path, snaps):
    snap = snaps[0][1]
    size = snapshot_nbytes(snap)
    d = tmp_path / "thin"
    budget = int(size * 12)  # room for about a dozen
    from dataclasses import replace

    with RunWriter(d, {}, snapshot_budget_bytes=budget) as w:
        for step in range(200):
            w.add_snapshot(replace(snap, step=step))
            w.flush()  # every snapshot reaches the disk (none merged in the queue)
    r = RunReader(d)
    steps = r.snapshot_steps()
    assert r.snapshot_bytes() <= budget
    assert 5 <= len(steps) <= 13
    assert steps[0] == 0 and steps[-1] == 199  # the whole span stays
    gaps = np.diff(steps)
    assert gaps[-1] < gaps[0]  # denser near the newest: gaps grow with age
    on_disk = sorted(int(f.stem.split("_")[1]) for f in (d / "snapshots").glob("*.npz"))
    assert on_disk == steps  # thinned files are deleted
    same_snapshot(r.snapshot(199), replace(snap, step=199))


def test_metrics_are_never_dropped_even_when_snapshots_are(tmp_path, snaps):
    d = tmp_path / "burst"
    w = RunWriter(d, {})
    for step in range(300):
        w.log(step, loss=float(step))
        w.add_snapshot(snaps[step % len(snaps)][1])
    w.close()
    r = RunReader(d)
    assert [m["loss"] for m in r.metrics()] == [float(s) for s in range(300)]
    assert r.snapshot_steps()  # some snapshots made it


_KILLED = r"""
import sys, time
from nnviz.core.engine import Trainer
from nnviz.core.runfolder import RunWriter
from nnviz.core.scenarios import get_scenario
tr = Trainer(get_scenario("spiral"))
w = RunWriter(sys.argv[1], {"killed": True})
step = 0
while True:
    m = tr.step(snapshot=step % 5 == 0)
    w.log(step, loss=m.loss)
    if m.snapshot is not None:
        w.add_snapshot(m.snapshot)
    if step == 20:
        w.flush()
        print("ready", flush=True)
    step += 1
"""


def test_writer_killed_mid_run_leaves_a_readable_folder(tmp_path):
    d = tmp_path / "killed"
    p = subprocess.Popen(
        [sys.executable, "-c", _KILLED, str(d)], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert p.stdout.readline().strip() == "ready"
        time.sleep(0.3)  # let it write on (any moment will do; this one is mid-run)
    finally:
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
    # a torn last record, as a kill mid-write leaves it
    with open(d / "metrics.jsonl", "a") as f:
        f.write('{"step": 99999, "loss": 0.')
    r = RunReader(d)
    assert not r.complete
    steps = [m["step"] for m in r.metrics()]
    assert len(steps) >= 21 and steps == list(range(len(steps)))  # the torn line skipped
    assert r.snapshot_steps()[:5] == [0, 5, 10, 15, 20]
    for s in r.snapshot_steps():
        assert r.snapshot(s).step == s
    out = subprocess.run([sys.executable, "-c", CLI, "inspect", str(d), "--json"],
                         capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.splitlines()[-1])["complete"] is False


def _err(path) -> str:
    with pytest.raises(NnvizError) as e:
        open_run(path)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def test_bad_folders_raise_one_clear_line(tmp_path, snaps):
    assert "does not exist" in _err(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    assert "is empty" in _err(tmp_path / "empty")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("hi")
    assert "not a run folder" in _err(tmp_path / "other")
    (tmp_path / "afile").write_text("x")
    assert "not a run folder" in _err(tmp_path / "afile")
    bad = tmp_path / "badmeta"
    bad.mkdir()
    (bad / "meta.json").write_text("{not json")
    assert "damaged" in _err(bad)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "meta.json").write_text('{"format": "something-else", "version": 1}')
    assert "not describe an nnviz run" in _err(foreign)
    newer = tmp_path / "newer"
    newer.mkdir()
    (newer / "meta.json").write_text(
        json.dumps({"format": "nnviz-run", "version": FORMAT_VERSION + 1})
    )
    assert "newer nnviz" in _err(newer)
    # a corrupt record in the middle (not a torn last line)
    corrupt = tmp_path / "corrupt"
    with RunWriter(corrupt, {}) as w:
        w.log(0, loss=1.0)
    text = (corrupt / "metrics.jsonl").read_text()
    (corrupt / "metrics.jsonl").write_text("garbage\n" + text)
    assert "line 1 is not a JSON record" in _err(corrupt)
    # a damaged snapshot file: the folder opens, that snapshot says so
    damaged = tmp_path / "damaged"
    with RunWriter(damaged, {}) as w:
        w.add_snapshot(snaps[0][1])
    (next((damaged / "snapshots").glob("*.npz"))).write_bytes(b"PK\x03\x04 torn")
    r = RunReader(damaged)
    with pytest.raises(NnvizError, match="not a readable array file"):
        r.snapshot(snaps[0][1].step)


def test_a_pickled_array_is_refused(tmp_path, snaps):
    d = tmp_path / "pickled"
    with RunWriter(d, {}) as w:
        w.add_snapshot(snaps[0][1])
    f = next((d / "snapshots").glob("*.npz"))
    np.savez(f, input=np.array([object()], dtype=object))  # what an attacker might put there
    with pytest.raises(NnvizError, match="not a readable array file"):
        RunReader(d).snapshot(snaps[0][1].step)


def test_writer_refuses_an_existing_run_and_logs_only_numbers(tmp_path):
    d = tmp_path / "r"
    RunWriter(d, {}).close()
    with pytest.raises(NnvizError, match="already holds a recorded run"):
        RunWriter(d, {})
    w = RunWriter(d, {}, overwrite=True)
    with pytest.raises(NnvizError, match="must be a number"):
        w.log(0, loss="low")
    w.close()
    with pytest.raises(NnvizError, match="closed"):
        w.log(1, loss=1.0)


def test_autograd_trace_round_trip(tmp_path):
    from nnviz.core.autograd_graph import capture_scenario_graph

    trace = capture_scenario_graph("spiral")
    d = tmp_path / "tr"
    with RunWriter(d, {}) as w:
        w.add_trace(3, trace)
    back = RunReader(d).trace(3)
    assert back.backward_order == trace.backward_order
    assert set(back.graph.edges) == set(trace.graph.edges)
    for nid, n in trace.nodes.items():
        m = back.nodes[nid]
        assert (m.op, m.label, m.shape) == (n.op, n.label, n.shape)
        if n.grad is not None:
            np.testing.assert_array_equal(m.grad, n.grad)


def test_a_script_that_forgets_close_still_writes_its_queue(tmp_path):
    code = (
        "import sys; from nnviz.core.runfolder import RunWriter; w = RunWriter(sys.argv[1], {});"
        "[w.log(i, loss=1.0 / (i + 1)) for i in range(50)]"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "r")], cwd=ROOT,
                         capture_output=True, text=True)  # fmt: skip
    assert out.returncode == 0, out.stderr
    r = RunReader(tmp_path / "r")
    assert len(r.metrics()) == 50  # flushed at exit
    assert r.ended and not r.complete and "without closing" in r.end["reason"]
