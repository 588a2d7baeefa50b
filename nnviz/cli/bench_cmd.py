"""``nnviz bench NAME [options]``: run a benchmark from the source checkout's
``benchmarks/`` folder (``engine`` runs ``benchmarks/bench_engine.py``).

Benchmarks report ratios against a plain torch loop measured in the same run;
they are not part of the installed package, so this works from a checkout.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import sys
from pathlib import Path

from nnviz.core.errors import NnvizError

BENCH_DIR = Path(__file__).resolve().parents[2] / "benchmarks"


def available() -> dict[str, Path]:
    """Benchmark name -> file (``bench_network_view.py`` is ``network-view``)."""
    if not BENCH_DIR.is_dir():
        return {}
    return {
        p.stem.removeprefix("bench_").replace("_", "-"): p
        for p in sorted(BENCH_DIR.glob("bench_*.py"))
    }


def register(sub) -> None:
    names = ", ".join(available()) or "none found"
    p = sub.add_parser(
        "bench",
        help="measure speed against a plain torch loop (from a source checkout)",
        description=f"Run a benchmark from benchmarks/ ({names}). Options after NAME go to "
        "the benchmark; `nnviz bench NAME --help` lists them.",
    )
    p.add_argument("name", metavar="NAME", help=f"which benchmark ({names})")
    p.add_argument("options", nargs=argparse.REMAINDER, help="the benchmark's own options")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    found = available()
    path = found.get(args.name.replace("_", "-"))
    if path is None:
        if not found:
            raise NnvizError(
                f"no benchmarks next to this installation ({BENCH_DIR} is missing); "
                "run `nnviz bench` from a source checkout of nnviz"
            )
        raise NnvizError(f"unknown benchmark {args.name!r}; choose one of {', '.join(found)}")
    spec = importlib.util.spec_from_file_location(f"nnviz_bench_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    main = getattr(module, "main", None)
    if main is None:
        raise NnvizError(f"{path} has no main() to run")
    saved = sys.argv
    sys.argv = [f"nnviz bench {args.name}", *args.options]
    try:
        # main(argv) gets the options; a main() without parameters reads sys.argv.
        takes_argv = bool(inspect.signature(main).parameters)
        rc = main(list(args.options)) if takes_argv else main()
    except SystemExit as exc:  # a benchmark's own argparse (--help, bad option)
        rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    finally:
        sys.argv = saved
    return int(rc or 0)
