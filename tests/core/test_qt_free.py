"""``nnviz.core`` imports and trains with no Qt at all (DESIGN.md section 1)."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = r"""
import importlib, json, pkgutil, sys
import nnviz.core
modules = sorted(m.name for m in pkgutil.iter_modules(nnviz.core.__path__, "nnviz.core."))
for name in modules:
    importlib.import_module(name)
from nnviz.core.engine import TrainConfig, Trainer
from nnviz.core.scenarios import get_scenario
sc = get_scenario("spiral")
tr = Trainer(sc, TrainConfig.for_scenario(sc, device="cpu"))
metrics = [tr.step(snapshot=(i == 3)) for i in range(20)]
snap = metrics[3].snapshot
tr.evaluate()
def forbidden(name):
    top = name.split(".")[0]
    return top in ("PySide6", "shiboken6", "pyqtgraph") or name.startswith(("nnviz.qt", "nnviz.cli"))
print(json.dumps({
    "modules": modules,
    "steps": tr.step_count,
    "snapshot_layers": len(snap.layers),
    "field": snap.field is not None,
    "loaded": sorted(m for m in sys.modules if forbidden(m)),
}))
"""


def test_core_imports_and_trains_without_qt():
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert {"nnviz.core.engine", "nnviz.core.scenarios", "nnviz.core.datasets"} <= set(
        out["modules"]
    )
    assert out["steps"] == 20 and out["snapshot_layers"] == 3 and out["field"]
    assert out["loaded"] == []
