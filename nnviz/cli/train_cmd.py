"""``nnviz train ID``: train headless, progress on stderr, JSON on request."""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from nnviz.cli.common import (
    PRESET_HELP,
    TARGET_HELP,
    Progress,
    add_threads_flag,
    check_data_flag,
    layer_sizes,
    nonnegative_int,
    positive_float,
    positive_int,
    print_json,
    resolve_target,
)
from nnviz.core import health  # --- health (issue 12) ---
from nnviz.core import run as R
from nnviz.core import runfolder_record as RF  # --- record (issue 10) ---
from nnviz.core.activations import ACTIVATIONS
from nnviz.core.engine import TrainConfig, Trainer
from nnviz.core.errors import NnvizError
from nnviz.core.snapshot_budget import HEALTH_SHARE, SnapshotBudget
from nnviz.core.threads import ThreadTuner
from nnviz.core.training_parts import LOSSES, OPTIMIZERS, first_tensor

MAX_JSON_PARAMS = 1000
LOG_POINTS = 10


def register(sub) -> None:
    p = sub.add_parser("train", help="train a scenario or your own model file headless")
    p.add_argument("scenario", metavar="ID|FILE.py", help=TARGET_HELP)
    length = p.add_mutually_exclusive_group()
    length.add_argument("--steps", type=positive_int, help="number of batches to train")
    length.add_argument("--epochs", type=positive_int, help="number of passes over the data")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    p.add_argument("--seed", type=nonnegative_int, default=0, help="random seed (default 0)")
    p.add_argument("--data", type=Path, help="folder with your data (MNIST IDX or train.csv+PNGs)")
    p.add_argument("--lr", type=positive_float, help="learning rate")
    p.add_argument("--batch-size", type=positive_int, help="batch size")
    p.add_argument("--optimizer", choices=sorted(OPTIMIZERS), help="optimizer")
    p.add_argument("--loss", choices=sorted(LOSSES), help="loss function")
    p.add_argument("--hidden", type=layer_sizes, help="hidden layer sizes, e.g. 8,8")
    p.add_argument("--activation", choices=sorted(ACTIVATIONS), help="hidden activation")
    p.add_argument(
        "--predictions", type=Path, help="write id,label predictions for the test images"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object last")
    add_weights_flags(p)
    add_threads_flag(p)
    RF.add_record_flags(p)  # --- record (issue 10) ---
    add_playground_flags(p)  # --- playground (issue 11) ---
    p.set_defaults(func=run)


def config_from_args(scenario, args: argparse.Namespace) -> TrainConfig:
    cfg = TrainConfig.for_scenario(scenario, seed=args.seed, device=args.device)
    changes = {
        "lr": args.lr,
        "batch_size": args.batch_size,
        "optimizer": args.optimizer,
        "loss": args.loss,
        "hidden": args.hidden,
        "activation": args.activation,
    }
    changes = {k: v for k, v in changes.items() if v is not None}
    if ("hidden" in changes or "activation" in changes) and not scenario.editable:
        raise NnvizError(
            f"{scenario.id} has a fixed architecture; --hidden/--activation don't apply"
        )
    return playground_config(scenario, args, replace(cfg, **changes))  # playground (issue 11)


# --- playground (issue 11): Playground's controls for the 2-D sets ---


def add_playground_flags(p) -> None:
    g = p.add_argument_group("2-D sets (TensorFlow Playground's controls)")
    g.add_argument("--preset", help=PRESET_HELP)
    g.add_argument("--noise", type=float, help="label noise, 0 to 0.5 (Playground's 0-50 %%)")
    g.add_argument("--test-ratio", type=float, help="share of the points held out (default 0.5)")
    g.add_argument("--features", help="extra inputs: x1sq,x2sq,x1x2,sinx1,sinx2")
    reg = g.add_mutually_exclusive_group()
    reg.add_argument("--l1", type=float, metavar="RATE", help="add RATE·Σ|w| to the loss")
    reg.add_argument("--l2", type=float, metavar="RATE", help="add RATE·Σw² to the loss")


def playground_config(scenario, args, cfg: TrainConfig) -> TrainConfig:
    from nnviz.core.features import parse_features, preset_overrides

    if getattr(args, "preset", None):
        explicit = {k: getattr(cfg, k) for k in ("lr", "batch_size", "optimizer", "loss")}
        explicit = {k: v for k, v in explicit.items() if getattr(args, k, None) is not None}
        cfg = replace(cfg, **{**preset_overrides(args.preset, scenario), **explicit})
    changes = {
        "noise": getattr(args, "noise", None),
        "test_ratio": getattr(args, "test_ratio", None),
    }
    changes = {k: v for k, v in changes.items() if v is not None}
    if getattr(args, "features", None):
        changes["features"] = parse_features(args.features)
    for kind in ("l1", "l2"):
        if getattr(args, kind, None) is not None:
            changes.update(reg=kind, reg_rate=getattr(args, kind))
    if changes and not getattr(scenario.data, "toy_kind", None):
        raise NnvizError(
            f"--noise, --test-ratio, --features, --l1 and --l2 are for the 2-D sets "
            f"(circle, xor, gauss, spiral), not {scenario.id}"
        )
    return replace(cfg, **changes)


# --- end playground (issue 11) ---


def add_weights_flags(p) -> None:
    """``--weights`` in; ``--save`` and ``--torchscript`` out (issue 9)."""
    p.add_argument("--weights", type=Path, metavar="FILE", help="start from a saved state_dict")
    p.add_argument("--save", type=Path, metavar="FILE", help="write the trained state_dict")
    p.add_argument(
        "--torchscript",
        type=Path,
        metavar="FILE",
        help="write a TorchScript export (checked by reloading it and comparing outputs)",
    )


def run(args: argparse.Namespace) -> int:
    target = resolve_target(args.scenario)
    sc = target.scenario
    if not sc.trainable:
        raise NnvizError(
            f"{sc.id} is an expression, not a trainable model; "
            f"`nnviz graph {sc.id}` shows its values and gradients"
        )
    check_data_flag(target, args.data)
    if args.data is not None and not args.data.is_dir():
        what = "is a file, not a folder" if args.data.exists() else "does not exist"
        raise NnvizError(
            f"the data folder {str(args.data)!r} {what}; pass a folder with MNIST IDX files "
            "or a train.csv (id,label) and its <id>.png images"
        )
    t0 = time.perf_counter()
    run = R.Run(threads=ThreadTuner(fixed=args.threads))
    # no evaluations along the way: nothing shows them, and the result's metrics
    # come from one full evaluation at the end
    config = replace(config_from_args(sc, args), eval_every=-1)
    run.submit(
        R.Configure(sc, config, args.data, model_file=target.model_file, weights=args.weights)
    )
    run.drive()
    trainer = run.trainer
    ds = trainer.dataset
    if args.predictions is not None and (ds.x_test is None or ds.test_ids is None):
        raise NnvizError(
            "this data has no test images to predict; --predictions needs a test.csv "
            "(id) with its images, or t10k IDX files, beside the training data"
        )
    interactive = sys.stderr.isatty()
    if ds.note and interactive:  # else it goes into the result, so errors stay one line
        print(f"nnviz: {ds.note}", file=sys.stderr)
    steps, epochs = args.steps, args.epochs
    if steps is None and epochs is None:
        steps, epochs = sc.steps, sc.epochs
    total = steps if steps is not None else epochs * trainer.steps_per_epoch
    every = max(1, total // LOG_POINTS)
    history: dict[int, float] = {}
    bar = Progress(total, sc.id, enabled=interactive)
    last = [math.nan]

    def on_event(ev) -> None:
        if isinstance(ev, R.Metrics) and len(ev.losses):
            first = (-ev.steps[0]) % every  # the losses at step indices 0, every, 2·every, …
            for i in range(first, len(ev.steps), every):
                history[int(ev.steps[i])] = float(ev.losses[i])
            last[0] = float(ev.losses[-1])
            bar.update(ev.step, f"step {ev.step}/{total} loss {last[0]:.4g}")

    # --- health (issue 12): a health report about every 1 % of the steps ---
    trainer.health_every = health.headless_every(total)
    run.periodic.budget = SnapshotBudget(share=HEALTH_SHARE)  # within 2 % of the time
    # --- end health (issue 12) ---
    # --- record (issue 10): --record DIR writes a run folder as it trains ---
    recorder = RF.start_recording(args, sc, config, trainer)
    if recorder is not None:
        on_event = recorder.wrap(on_event)
    # --- end record (issue 10) ---
    t_train = time.perf_counter()
    run.submit(R.Step(total))
    try:
        run.drive(on_event)
    except torch.cuda.OutOfMemoryError:
        bar.close()
        raise NnvizError(
            f"{trainer.device} ran out of memory; try a smaller --batch-size or --device cpu"
        ) from None
    wall_s = time.perf_counter() - t_train
    if recorder is not None:  # --- record (issue 10): finish the run folder ---
        recorder.close()
    final_loss = last[0]
    bar.update(trainer.step_count, f"loss {final_loss:.4g}", force=True)
    bar.close()
    # --- health (issue 12): what the health reports saw before the loss broke ---
    if not math.isfinite(final_loss) and health.recent_warnings(trainer):
        raise NnvizError(
            f"the loss became {final_loss} at step {trainer.step_count}; lower the learning "
            f"rate (--lr) and try again (health: {'; '.join(health.recent_warnings(trainer))})"
        )
    # --- end health (issue 12) ---
    if not math.isfinite(final_loss):
        raise NnvizError(
            f"the loss became {final_loss} at step {trainer.step_count}; "
            "lower the learning rate (--lr) and try again"
        )
    ev = trainer.evaluate()
    result = {
        "scenario": sc.id,
        "device": str(trainer.device),
        "steps": trainer.step_count,
        "epochs": trainer.epoch,
        "final_loss": final_loss,
        "metrics": {
            "train_loss": ev.train_loss,
            "train_accuracy": ev.train_accuracy,
            "val_loss": ev.val_loss,
            "val_accuracy": ev.val_accuracy,
        },
        "loss_history": history,
        "param_count": trainer.param_count,
        "wall_s": round(wall_s, 3),
        "total_s": round(time.perf_counter() - t0, 3),
        "threads": torch.get_num_threads(),
    }
    result["health"] = health.health_json(trainer)  # --- health (issue 12) ---
    if trainer.dataset.note:
        result["data_note"] = trainer.dataset.note
    if trainer.param_count <= MAX_JSON_PARAMS:
        result["params"] = {
            n: p.detach().cpu().double().numpy() for n, p in trainer.model.named_parameters()
        }
    if target.model_file is not None:
        result["model_file"] = target.model_file.spec
    if trainer.n_train <= 16:
        with torch.no_grad():
            out = first_tensor(trainer.model(trainer.x_train))
            result["outputs"] = out.detach().cpu().double().numpy()
    result.update(_write_weights(trainer, args))
    preds_path = _write_predictions(trainer, args.predictions)
    if preds_path is not None:
        result["predictions_csv"] = str(preds_path)
    if args.json:
        print_json(result)
    else:
        acc = ev.val_accuracy
        print(
            f"{sc.id}: {_count(trainer.step_count, 'step')}, {_count(trainer.epoch, 'epoch')} "
            f"on {trainer.device}, "
            f"final loss {final_loss:.4g}"
            + (f", validation accuracy {acc:.1%}" if acc is not None else "")
            + f" ({wall_s:.1f} s)"
        )
        if preds_path is not None:
            print(f"predictions written to {preds_path}")
        if "saved" in result:
            print(f"state_dict written to {result['saved']}")
        if "torchscript" in result:
            print(
                f"TorchScript written to {result['torchscript']} (reloaded: outputs within "
                f"{result['torchscript_max_diff']:.2g} of the model's)"
            )
        if ds.note and not interactive:
            print(f"data: {ds.note}")
    return 0


def _write_predictions(trainer: Trainer, path: Path | None) -> Path | None:
    ds = trainer.dataset
    if ds.x_test is None or ds.test_ids is None:
        if path is not None:
            raise NnvizError("this data has no test images (test.csv) to predict")
        return None
    if path is None:
        if trainer.scenario.data_kind != "apparel":
            return None
        path = Path("predictions.csv")
        n = 1
        while path.exists():  # never overwrite a file the user has
            path = Path(f"predictions-{n}.csv")
            n += 1
    from nnviz.core.datasets import write_predictions_csv

    labels = trainer.predict(ds.x_test)
    write_predictions_csv(path, ds.test_ids, labels)
    return path


def _write_weights(trainer: Trainer, args: argparse.Namespace) -> dict:
    """``--save`` and ``--torchscript``: written after training, each checked."""
    from nnviz.core.weights import export_torchscript, save_state_dict

    out: dict = {}
    if args.save is not None:
        out["saved"] = str(save_state_dict(trainer.model, args.save))
    if args.torchscript is not None:
        x = trainer.x_val[:8] if len(trainer.x_val) else trainer.x_train[:8]
        diff = export_torchscript(trainer.model, x, args.torchscript)
        out["torchscript"] = str(args.torchscript)
        out["torchscript_max_diff"] = diff
    return out


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
