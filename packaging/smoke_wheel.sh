#!/usr/bin/env bash
# Build the wheel and sdist, check them, install the wheel into a fresh virtual
# environment and run what a new user runs first. Exits non-zero on any failure.
#   bash packaging/smoke_wheel.sh [WORKDIR]
# torch's CPU build is installed into the venv first (from pip's cache when the
# project's own install already fetched it), as the README says.
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-$(mktemp -d)}
mkdir -p "$work"
t0=$(date +%s)
echo "== build (wheel + sdist) into $work/dist"
python -m build --outdir "$work/dist" . >"$work/build.log" 2>&1 || { tail -n 30 "$work/build.log"; exit 1; }
python -m twine check --strict "$work"/dist/*
wheel=$(ls "$work"/dist/nnviz-*.whl)
python - "$wheel" <<'PY'
import sys, zipfile
names = set(zipfile.ZipFile(sys.argv[1]).namelist())
need = ["nnviz/resources/nnviz.svg", "nnviz/resources/io.github.nnviz.nnviz.desktop",
        "nnviz/resources/io.github.nnviz.nnviz.metainfo.xml",
        "nnviz/resources/icons/nnviz-256.png", "nnviz/examples/__init__.py"]
missing = [n for n in need if n not in names]
if missing:
    sys.exit(f"the wheel lacks {missing}")
print(f"wheel carries its resources ({len(names)} files)")
PY
echo "== fresh virtual environment"
python -m venv "$work/venv"
py="$work/venv/bin/python"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off
"$py" -m pip install -q torch==2.13.0 >"$work/pip.log" 2>&1 || { tail -n 20 "$work/pip.log"; exit 1; }
"$py" -m pip install -q "$wheel" >>"$work/pip.log" 2>&1 || { tail -n 20 "$work/pip.log"; exit 1; }
nnviz="$work/venv/bin/nnviz"
cd "$work"  # away from the checkout: only the installed package is importable
"$nnviz" --version
"$nnviz" scenarios >/dev/null && echo "nnviz scenarios: ok"
QT_QPA_PLATFORM=offscreen "$nnviz" render xor --view all --out "$work/x.png" --steps 50
test -s "$work/x.png"
"$py" -c "import nnviz.examples, nnviz.cli.install_desktop_cmd; print('examples and desktop files importable')"
shoot="$OLDPWD/../shared/tools/shoot"
if command -v Xvfb >/dev/null && command -v openbox >/dev/null && command -v xdotool >/dev/null && [ -x "$shoot" ]; then
  "$shoot" "$work/window.png" -s 3 -k space -- "$nnviz" open xor
else
  echo "(no virtual X screen here: opening the window offscreen instead)"
  QT_QPA_PLATFORM=offscreen "$py" "$OLDPWD/packaging/smoke_window.py" xor
fi
echo "== wheel smoke test passed in $(( $(date +%s) - t0 )) s"
