"""The trace types and the op table import no torch: the views read them freely."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = r"""
import json, sys
import nnviz.core.trace, nnviz.core.autograd_ops
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] == "torch")))
"""


def test_trace_and_op_table_import_without_torch():
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


def test_a_trace_is_read_only_numpy_that_outlives_torch():
    from nnviz.core.autograd_graph import capture_expression_graph
    from nnviz.core.scenarios import get_scenario
    from nnviz.core.trace import OUTPUT_ID, AutogradTrace, GraphNode

    tr = capture_expression_graph(get_scenario("chain-rule"))
    assert isinstance(tr, AutogradTrace) and tr.output == OUTPUT_ID
    for n in tr.nodes.values():
        assert isinstance(n, GraphNode)
        for a in (n.value, n.grad):
            assert a is not None and type(a).__module__ == "numpy" and not a.flags.writeable
    for step in tr.steps:
        for e in step.passed:
            assert e.passed_on is None or not e.passed_on.flags.writeable
    assert float(tr.nodes[OUTPUT_ID].value) == 33.0
