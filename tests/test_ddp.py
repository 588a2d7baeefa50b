"""torchrun + DistributedDataParallel recorded with nnviz.watch: rank 0 writes,
every rank reports, and a rank whose weights drift is flagged as a desync."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

CLI = "import sys; from nnviz.cli import main; sys.exit(main())"
ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "examples" / "ddp_train.py"

pytestmark = pytest.mark.skipif(
    not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
    reason="torch.distributed with gloo is not available",
)


def torchrun(run_dir: Path, perturb: int | None) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("NNVIZ_DDP_PERTURB_RANK", None)
    if perturb is not None:
        env["NNVIZ_DDP_PERTURB_RANK"] = str(perturb)
    launcher = shutil.which("torchrun")
    cmd = [launcher] if launcher else [sys.executable, "-m", "torch.distributed.run"]
    cmd += ["--standalone", "--nproc-per-node", "2", str(SCRIPT), "--run-dir", str(run_dir),
            "--steps", "12", "--every", "3"]  # fmt: skip
    for attempt in range(2):
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=run_dir.parent,
                             timeout=300)  # fmt: skip
        # A rank sometimes aborts in gloo's teardown after training and recording
        # finished (torch 2.13: "terminate called without an active exception").
        # Measured: 1 run in 12-25 before the example's barrier, 0 in 70 local runs
        # after it, but CI still saw it once. That is torch's teardown, not ours:
        # run once more; any other failure, or the same one twice, fails the test.
        if out.returncode == 0 or "terminate called without an active exception" not in out.stderr:
            break
        if attempt == 0:
            shutil.rmtree(run_dir, ignore_errors=True)
    assert out.returncode == 0, out.stderr[-3000:]
    # rank 0 alone wrote: one run folder, nothing from rank 1 beside it
    assert sorted(p.name for p in run_dir.parent.iterdir()) == [run_dir.name]
    ins = subprocess.run([sys.executable, "-c", CLI, "inspect", str(run_dir), "--json"],
                         capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    assert ins.returncode == 0, ins.stderr
    return json.loads(ins.stdout.strip().splitlines()[-1])


def test_two_ranks_agree(tmp_path):
    s = torchrun(tmp_path / "ddp", perturb=None)
    assert s["format"] == "nnviz-run" and s["complete"] is True
    assert s["ranks"] == 2 and s["steps"] == 12 and s["rank_records"] == 4
    # snapshots every 3 steps (one may be skipped while the disk is behind)
    assert s["snapshots"] >= 2 and set(s["snapshot_steps"]) <= {0, 3, 6, 9}
    assert s["desync"] is False

    from nnviz.core.runfolder import RunReader

    recs = RunReader(tmp_path / "ddp").ranks.records
    r0, r1 = recs[0]["ranks"]
    assert (r0["rank"], r1["rank"]) == (0, 1)
    assert r0["loss"] != r1["loss"]  # each rank its own data...
    assert r0["grad_norm"] == r1["grad_norm"]  # ...and DDP's all-reduced gradients
    assert r0["param_norm"] == r1["param_norm"]


def test_a_perturbed_rank_is_flagged(tmp_path):
    s = torchrun(tmp_path / "ddp", perturb=1)
    assert s["ranks"] == 2 and s["complete"] is True
    d = s["desync"]
    assert d, "a rank whose weights drifted must be flagged"
    assert d["step"] == 6  # perturbed after step 6's update, seen at step 6's report
    assert d["what"] in ("param_norm", "param_abs_sum", "layer_param_norm")
    assert len(d["values"]) == 2 and d["values"][0] != d["values"][1]
