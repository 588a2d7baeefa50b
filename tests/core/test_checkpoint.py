"""Sessions: save a trainer, load it, and training goes on exactly as if
never interrupted; the file is written atomically and read safely."""

from __future__ import annotations

import os
import pickle

import pytest
import torch

from nnviz.core import checkpoint as C
from nnviz.core.engine import Trainer
from nnviz.core.errors import NnvizError
from nnviz.core.run import Configure, Run, Step
from nnviz.core.run_messages import LoadSession, SaveSession, SessionLoaded, SessionSaved
from nnviz.core.scenarios import get_scenario


def _losses(t: Trainer, n: int) -> list[float]:
    return [t.step().loss for _ in range(n)]


@pytest.mark.parametrize("scenario", ["spiral", "digits-mlp"])
def test_resume_is_exact(tmp_path, scenario):
    sc = get_scenario(scenario)
    whole = _losses(Trainer(sc), 200)

    first = Trainer(sc)
    before = _losses(first, 100)
    C.save_checkpoint(first, tmp_path)
    torch.manual_seed(12345)  # whatever ran in between must not matter
    resumed = C.restore_trainer(C.load_checkpoint(tmp_path))
    after = _losses(resumed, 100)

    assert before + after == whole  # bit for bit
    assert resumed.step_count == 200


def test_run_saves_and_loads_sessions(tmp_path):
    sc = get_scenario("spiral")
    whole = _losses(Trainer(sc), 60)

    run = Run()
    run.submit(Configure(sc))
    run.submit(Step(30))
    run.drive()
    run.submit(SaveSession(tmp_path / "s"))
    events = run.drive()
    saved = [e for e in events if isinstance(e, SessionSaved)]
    assert saved and saved[0].step == 30

    other = Run()
    other.submit(LoadSession(tmp_path / "s"))
    loaded = [e for e in other.drive() if isinstance(e, SessionLoaded)]
    other.submit(Step(30))
    losses = []
    for ev in other.drive():
        if hasattr(ev, "losses"):
            losses += [float(x) for x in ev.losses]
    assert loaded and loaded[0].step == 30
    assert losses == whole[30:]


def test_file_holds_only_plain_data(tmp_path):
    t = Trainer(get_scenario("xor"))
    _losses(t, 5)
    path = C.save_checkpoint(t, tmp_path)
    state = torch.load(path, weights_only=True)  # would raise on anything else
    assert state["format"] == C.FORMAT and state["step"] == 5
    assert isinstance(state["config"], dict)


def test_a_failed_save_keeps_the_good_file(tmp_path, monkeypatch):
    t = Trainer(get_scenario("xor"))
    path = C.save_checkpoint(t, tmp_path)
    good = path.read_bytes()
    _losses(t, 3)

    def broken(obj, f, *a, **k):
        f.write(b"half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(C.torch, "save", broken)
    with pytest.raises(NnvizError, match="No space left"):
        C.save_checkpoint(t, tmp_path)
    assert path.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == [C.CHECKPOINT_NAME]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_a_read_only_folder_is_a_clear_error(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(NnvizError, match="cannot save the session"):
            C.save_checkpoint(Trainer(get_scenario("xor")), folder)
    finally:
        folder.chmod(0o700)
    assert list(folder.iterdir()) == []


def test_bad_checkpoints_are_clear_errors(tmp_path):
    with pytest.raises(NnvizError, match="no session checkpoint"):
        C.load_checkpoint(tmp_path / "missing")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"\x80\x04 not a checkpoint")
    with pytest.raises(NnvizError, match="not a readable nnviz checkpoint"):
        C.load_checkpoint(corrupt)
    t = Trainer(get_scenario("xor"))
    newer = C.trainer_state(t) | {"version": C.VERSION + 1}
    torch.save(newer, tmp_path / "newer.pt")
    with pytest.raises(NnvizError, match="newer nnviz"):
        C.load_checkpoint(tmp_path / "newer.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(NnvizError, match="not an nnviz checkpoint"):
        C.load_checkpoint(tmp_path / "other.pt")


class _Boom:
    def __reduce__(self):
        return (os.system, ("echo unpickled",))


def test_pickled_code_is_never_run(tmp_path):
    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps({"format": C.FORMAT, "version": 1, "x": _Boom()}))
    with pytest.raises(NnvizError, match="not a readable"):
        C.load_checkpoint(path)


def test_a_folder_it_cannot_write_to_is_a_clear_error(tmp_path, monkeypatch):
    def denied(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(C.tempfile, "mkstemp", denied)
    with pytest.raises(NnvizError, match="Permission denied; choose a folder you can write to"):
        C.save_checkpoint(Trainer(get_scenario("xor")), tmp_path)
    assert list(tmp_path.iterdir()) == []
