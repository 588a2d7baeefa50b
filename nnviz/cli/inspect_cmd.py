"""``nnviz inspect DIR``: summarise a run folder or a TensorBoard logdir headlessly.

With ``--json`` the last stdout line is one object: ``format``
(``"nnviz-run"`` or ``"tensorboard"``), ``steps`` (metric records),
``snapshots``, ``metrics`` (names), ``last`` (last value of each),
``ranks`` (world size), ``complete`` and, for distributed runs, ``desync``
(``false``, or the first disagreement found). Never imports Qt.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from nnviz.cli.common import print_json
from nnviz.core.numfmt import fmt
from nnviz.core.runfolder import open_run


def register(sub) -> None:
    p = sub.add_parser("inspect", help="summarise a recorded run folder or a TensorBoard logdir")
    p.add_argument("path", metavar="DIR", type=Path, help="a run folder or a TensorBoard logdir")
    p.add_argument("--json", action="store_true", help="print one JSON object last")
    p.set_defaults(func=run)


def summary(path) -> dict:
    """What ``nnviz inspect --json`` prints, as a dict."""
    r = open_run(path)
    metrics = r.metrics()
    steps_seen = [m["step"] for m in metrics]
    ranks = r.ranks
    out = {
        "path": str(path),
        "format": r.format,
        "steps": len(metrics),
        "first_step": min(steps_seen) if steps_seen else None,
        "last_step": max(steps_seen) if steps_seen else None,
        "snapshots": len(r.snapshot_steps()),
        "snapshot_steps": r.snapshot_steps(),
        "metrics": r.metric_names(),
        "last": r.last(),
        "ranks": int(ranks.world_size),
        "complete": bool(r.complete),
        "ended": bool(r.ended),
    }
    if r.ended and not r.complete:
        out["end_reason"] = r.end.get("reason", "")
    if r.format == "nnviz-run":
        out["meta"] = r.meta
        out["created"] = r.header.get("created")
        out["snapshot_bytes"] = r.snapshot_bytes()
    else:
        out["histograms"] = r.histogram_tags()
    if ranks.world_size > 1:
        found = ranks.desync()
        out["rank_records"] = len(ranks.records)
        out["desync"] = found[0] if found else False
        out["desync_count"] = len(found)
    return out


def run(args: argparse.Namespace) -> int:
    s = summary(args.path)
    if args.json:
        print_json(s)
        return 0
    kind = "run folder" if s["format"] == "nnviz-run" else "TensorBoard logdir"
    if s["complete"]:
        state = "complete"
    elif s.get("end_reason"):
        state = f"ended early ({s['end_reason']})"
    else:
        state = "still being written, or stopped early" if s["format"] == "nnviz-run" else ""
    print(f"{s['path']}: {kind}" + (f", {state}" if state else ""))
    if s.get("meta"):
        m = s["meta"]
        what = ", ".join(f"{k}={m[k]}" for k in ("source", "model", "scenario", "parameters")
                         if k in m)  # fmt: skip
        if what:
            print(f"  run: {what}")
    span = f" (steps {s['first_step']}..{s['last_step']})" if s["steps"] else ""
    print(f"  metric records: {s['steps']}{span}")
    for name in s["metrics"]:
        v = s["last"].get(name)
        print(f"    {name}: last {fmt(v) if isinstance(v, int | float) else 'nan'}")
    if s["format"] == "nnviz-run":
        mb = s["snapshot_bytes"] / 1e6
        print(f"  snapshots: {s['snapshots']} ({mb:.1f} MB)")
    else:
        print(f"  histograms: {len(s['histograms'])} tags")
    if s["ranks"] > 1:
        print(f"  ranks: {s['ranks']}, {s['rank_records']} comparisons")
        d = s["desync"]
        if d:
            layer = f" of {d['layer']}" if d["layer"] else ""
            print(f"  DESYNC at step {d['step']}: {d['what']}{layer} differs across ranks: "
                  f"{d['values']} ({s['desync_count']} disagreements)")  # fmt: skip
        else:
            print("  ranks agree (gradients and parameters)")
    return 0
