"""The ranks of a distributed run side by side (issue 10, item 6).

Two data-parallel replicas are trained in this process the way DDP trains
them (each rank its own batch, gradients averaged across ranks before the
update) and recorded the way ``nnviz.watch`` records DDP: each rank's
statistics from ``nnviz.watch.rank_stats``, gathered per recording step into
the run folder. Torch, on the replicas themselves, is the oracle for every
number the view shows."""

from __future__ import annotations

import importlib

import pytest
import torch
from torch import nn

from nnviz.cli.inspect_cmd import summary
from nnviz.core.models import neuron_layers
from nnviz.core.rank_stats import MODEL_ROW, desync_text
from nnviz.core.runfolder import RunReader, RunWriter
from nnviz.core.step_capture import BufferPool
from nnviz.qt.rank_view import AGREE_TEXT, VALUE_ROLE, RankView
from nnviz.watch import _Capture, rank_stats

watch_module = importlib.import_module("nnviz.watch")  # (nnviz.watch: the function)

STEPS, EVERY, PERTURB_AT = 12, 3, 6


def _model() -> nn.Sequential:
    torch.manual_seed(0)  # the same initial weights on every rank
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 3))


def record_ddp(run_dir, perturb_rank: int | None, world: int = 2) -> dict:
    """Train ``world`` replicas in step, recorded by ``nnviz.watch`` on rank 0
    as under torchrun (the collective that gathers the ranks' statistics is
    played by this function); the oracle: per recorded step, per rank, what
    torch says the view must show."""
    models = [_model() for _ in range(world)]
    opts = [torch.optim.SGD(m.parameters(), lr=0.1) for m in models]
    gens = [torch.Generator().manual_seed(100 + r) for r in range(world)]
    layers = neuron_layers(models[0])
    oracle: dict[int, list[dict]] = {}
    others: list[dict] = []

    def all_gather_object(out, stats) -> None:  # rank 0's stats, then the other ranks'
        out[:] = [stats, *others]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(watch_module, "_dist", lambda: (0, world))
        mp.setattr(torch.distributed, "all_gather_object", all_gather_object)
        probe = watch_module.watch(models[0], run_dir, every=EVERY, snapshot_duty=None)
        with probe:
            for step in range(STEPS):
                recording = probe.records(step)
                caps = [probe._capture] + [
                    _Capture(m, layers, False, BufferPool()) if recording else None
                    for m in models[1:]
                ]
                losses = []
                for r, m in enumerate(models):
                    x = torch.randn(16, 4, generator=gens[r])
                    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
                    loss = nn.functional.cross_entropy(m(x), y)
                    opts[r].zero_grad()
                    loss.backward()
                    losses.append(loss)
                with torch.no_grad():  # DDP's all-reduce: every rank gets the mean gradient
                    for ps in zip(*(m.parameters() for m in models)):
                        mean = torch.stack([p.grad for p in ps]).mean(0)
                        for p in ps:
                            p.grad.copy_(mean)
                for o in opts:
                    o.step()
                if step == PERTURB_AT and perturb_rank is not None:
                    with torch.no_grad():  # the bug: this rank's weights drift
                        models[perturb_rank][0].weight.add_(0.01)
                if recording:
                    others[:] = []
                    for r in range(1, world):
                        caps[r].remove()
                        stats = rank_stats(models[r], layers, caps[r], losses[r].item())
                        others.append(stats | {"rank": r})
                    oracle[step] = [_truth(m, cap, losses[r].item()) for r, (m, cap) in
                                    enumerate(zip(models, caps))]  # fmt: skip
                probe.log(loss=losses[0])
    return oracle


def _truth(m: nn.Sequential, cap, loss: float) -> dict:
    """What the view must show for one rank, straight from torch."""
    out = {"loss": loss}
    for name, act in (("0", "1"), ("2", "3"), ("4", None)):
        lin = m.get_submodule(name)
        g = torch.cat([lin.weight.grad.flatten(), lin.bias.grad.flatten()]).double()
        p = torch.cat([lin.weight.detach().flatten(), lin.bias.detach().flatten()]).double()
        a = cap.records[name]["a" if act else "z"].double()
        out[name] = {
            "grad_norm": float(torch.linalg.vector_norm(g)),
            "layer_param_norm": float(torch.linalg.vector_norm(p)),
            "act_mean": float(a.mean()),
            "act_std": float(a.std()),
        }
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("ranks")
    clean, bad = base / "clean", base / "perturbed"
    return {"clean": (clean, record_ddp(clean, None)), "bad": (bad, record_ddp(bad, 1))}


@pytest.fixture
def view(qtbot):
    v = RankView()
    qtbot.addWidget(v)
    v.resize(700, 800)
    return v


def test_the_view_shows_each_rank_and_the_recorded_numbers(view, runs):
    run_dir, oracle = runs["clean"]
    info = RunReader(run_dir).ranks
    view.set_info(info)
    assert view.world_size == 2
    assert [c.name() for c in view.curves] == ["rank 0", "rank 1"]
    # one loss curve per rank, over the recorded steps: each rank's own loss
    for r in range(2):
        xs, ys = view.curves[r].getData()
        assert list(xs) == list(range(0, STEPS, EVERY))
        assert list(ys) == pytest.approx([oracle[s][r]["loss"] for s in range(0, STEPS, EVERY)])
    assert view.curves[0].getData()[1][0] != view.curves[1].getData()[1][0]

    view.show_step(7)  # the scrubber's step: the record at or before it
    assert view.table_data.step == 6
    for r in range(2):
        for layer in ("0", "2", "4"):
            for key in ("grad_norm", "act_mean", "act_std", "layer_param_norm"):
                text, value, flagged = view.cell(layer, r, key)
                want = oracle[6][r][layer][key]
                assert value == pytest.approx(want, rel=1e-9, abs=1e-12), (layer, r, key)
                assert text and not flagged
    # DDP's all-reduce: equal gradients; each rank's own data: different activations
    assert view.cell("0", 0, "grad_norm")[1] == view.cell("0", 1, "grad_norm")[1]
    assert view.cell("0", 0, "act_mean")[1] != view.cell("0", 1, "act_mean")[1]
    assert view.message.text() == AGREE_TEXT.format(n=2)
    assert not view.desync_line.isVisible()  # (a scene item: its own flag)


def test_a_perturbed_rank_is_flagged_in_red(view, runs):
    run_dir, oracle = runs["bad"]
    view.set_info(RunReader(run_dir).ranks)
    view.show_step(3)  # before the drift: the ranks still agree
    assert view.table_data.flagged_ranks == []
    assert not view.cell("0", 1, "layer_param_norm")[2]
    view.show_step(PERTURB_AT)
    assert view.table_data.flagged_ranks == [1]
    text, value, flagged = view.cell("0", 1, "layer_param_norm")
    assert flagged and value == pytest.approx(oracle[PERTURB_AT][1]["0"]["layer_param_norm"])
    assert not view.cell("0", 0, "layer_param_norm")[2]  # rank 0 is the reference
    assert not view.cell("0", 1, "act_mean")[2]  # activations may differ
    assert not view.cell("2", 1, "layer_param_norm")[2]  # only the drifted layer
    # the whole model's weight checksum disagrees too
    assert view.cell(MODEL_ROW, 1, "layer_param_norm")[2]
    # in the words of `nnviz inspect --json`
    d = summary(run_dir)["desync"]
    assert d["step"] == PERTURB_AT
    assert view.message.text().startswith(desync_text(d))
    assert "rank 1 disagrees" in view.message.text()
    assert view.desync_line.isVisible() and view.desync_line.value() == PERTURB_AT
    # red, as a user sees it
    row = [view.table.item(i, 0).data(VALUE_ROLE) for i in range(view.table.rowCount())].index(
        ("0", 1)
    )
    cell = view.table.item(row, 2 + 3)
    assert cell.background().color().red() > 150 and cell.font().bold()


def test_the_window_opens_a_ranks_dock_for_a_distributed_run(qtbot, app, runs, monkeypatch):
    from nnviz.qt.main_window import MainWindow

    monkeypatch.setenv("NNVIZ_RECORD", "0")
    w = MainWindow("spiral")
    qtbot.addWidget(w)
    w.show()
    try:
        qtbot.waitUntil(lambda: w.session.info is not None, timeout=120_000)
        w.time_travel.open_path(runs["bad"][0])
        panel = w.rank_panel
        assert panel.dock is not None and panel.dock.isVisible()
        assert panel.view.world_size == 2
        assert panel.view.table_data.step == STEPS - 1 - (STEPS - 1) % EVERY  # live: newest
        assert panel.view.table_data.flagged_ranks == [1]
        w.session.view_step(3)  # the scrubber drives it
        assert panel.view.table_data.step == 3 and panel.view.table_data.flagged_ranks == []
        w.open_scenario("xor")  # training again: no ranks to compare
        assert not panel.dock.isVisible()
        w.time_travel.open_path(runs["clean"][0])
        assert panel.dock.isVisible() and panel.view.desync is None
    finally:
        w.close()
        qtbot.waitUntil(lambda: w.session._threads.shutdown(200), timeout=120_000)
        w.deleteLater()


def test_a_one_rank_run_has_no_rank_view(qtbot, tmp_path):
    from nnviz.core.rank_stats import loss_curves, rank_table

    with RunWriter(tmp_path / "one", {}) as w:
        w.log(0, loss=1.0)
    info = RunReader(tmp_path / "one").ranks
    assert info.world_size == 1 and rank_table(info, None) is None
    steps, losses = loss_curves(info)
    assert steps.size == 0 and losses.shape == (1, 0)
