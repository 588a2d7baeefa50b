"""``nnviz scenarios [--json]``: the built-in scenarios."""

from __future__ import annotations

import argparse

from nnviz.cli.common import print_json
from nnviz.core.models import param_count
from nnviz.core.scenarios import SCENARIOS


def register(sub) -> None:
    p = sub.add_parser("scenarios", help="list the built-in scenarios")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def describe(sc) -> dict:
    d = {
        "id": sc.id,
        "title": sc.title,
        "source": sc.source,
        "description": sc.description,
        "figure": sc.figure,
        "kind": sc.kind,
    }
    if sc.trainable:
        d.update(
            layers=list(sc.spec.sizes),
            activations=list(sc.spec.activations),
            param_count=param_count(sc.build_model()),
            loss=sc.loss,
            optimizer=sc.optimizer,
            lr=sc.lr,
            batch_size=sc.batch_size,
            steps=sc.steps,
            epochs=sc.epochs,
            editable=sc.editable,
            needs_data=sc.data_kind,
        )
    return d


def run(args: argparse.Namespace) -> int:
    if args.json:
        print_json({"scenarios": [describe(sc) for sc in SCENARIOS.values()]})
        return 0
    width = max(len(i) for i in SCENARIOS)
    for sc in SCENARIOS.values():
        print(f"{sc.id:<{width}}  {sc.title}")
        print(f"{'':<{width}}  {sc.source}")
    return 0
