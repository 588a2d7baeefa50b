#!/usr/bin/env bash
# A one-folder bundle of nnviz with torch's CPU build (no Python needed on the
# target machine), trimmed, sized and smoke-tested.
#   bash packaging/build_bundle.sh [WORKDIR]      (default: ./build/bundle)
# Needs: pip install pyinstaller. Takes several minutes (torch is large).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work=${1:-$root/build/bundle}
mkdir -p "$work"
cd "$work"
t0=$(date +%s)
# Qt modules the app never imports, and torch's parts a trained-model viewer does not use.
excludes=(
  PySide6.QtNetwork PySide6.QtQml PySide6.QtQuick PySide6.QtQuickWidgets PySide6.QtSql
  PySide6.QtTest PySide6.QtDBus PySide6.QtPdf PySide6.QtConcurrent PySide6.QtXml
  PySide6.QtDesigner PySide6.QtHelp PySide6.QtMultimedia PySide6.QtWebEngineCore
  # (pyqtgraph imports QtOpenGL and QtOpenGLWidgets at start: kept)
  tkinter matplotlib IPython pytest hypothesis torchviz
  torch.utils.benchmark torch._dynamo.testing torch.testing._internal.opinfo
)
args=()
for m in "${excludes[@]}"; do args+=(--exclude-module "$m"); done
if [ "${SMOKE_ONLY:-0}" != 1 ]; then  # SMOKE_ONLY=1: test the bundle already built
# Built from the installed wheel in a venv of its own (an editable checkout's
# import hooks are invisible to PyInstaller).
echo "== wheel and a build environment"
python -m build --wheel --outdir "$work/wheel" "$root" >"$work/build.log" 2>&1 \
  || { tail -n 30 "$work/build.log"; exit 1; }
[ -x "$work/venv/bin/python" ] || python -m venv "$work/venv"
py="$work/venv/bin/python"
export PIP_DISABLE_PIP_VERSION_CHECK=1
"$py" -m pip install -q torch==2.13.0 pyinstaller >"$work/pip.log" 2>&1
"$py" -m pip install -q --force-reinstall --no-deps "$work"/wheel/nnviz-*.whl >>"$work/pip.log" 2>&1
"$py" -m pip install -q "$work"/wheel/nnviz-*.whl >>"$work/pip.log" 2>&1
echo "== pyinstaller (log: $work/pyinstaller.log)"
"$py" -m PyInstaller --noconfirm --onedir --name nnviz \
  --distpath "$work/dist" --workpath "$work/build" --specpath "$work" \
  --collect-data nnviz --collect-submodules nnviz \
  --collect-submodules nnviz.examples --collect-data nnviz.examples \
  --hidden-import nnviz.core.run_process --hidden-import PySide6.QtOpenGL --hidden-import PySide6.QtSvg --hidden-import PySide6.QtOpenGLWidgets \
  "${args[@]}" "$root/packaging/bundle_entry.py" >"$work/pyinstaller.log" 2>&1 \
  || { tail -n 40 "$work/pyinstaller.log"; exit 1; }
app="$work/dist/nnviz"
before=$(du -sm "$app" | cut -f1)
# Trim: C++ headers, static libraries, CMake files and test data torch carries.
internal="$app/_internal"
rm -rf "$internal/torch/include" "$internal/torch/share" "$internal/torch/test" \
       "$internal/torch/testing/_internal/data" "$internal/caffe2"
find "$internal" -name "*.a" -delete
find "$internal" -path "*PySide6/Qt/translations*" -delete 2>/dev/null || true
after=$(du -sm "$app" | cut -f1)
echo "bundle: $app — ${before} MB before trimming, ${after} MB after"
fi
app="$work/dist/nnviz"; after=$(du -sm "$app" | cut -f1)
echo "== smoke test"
exe="$app/nnviz"
"$exe" --version
QT_QPA_PLATFORM=offscreen "$exe" render xor --view all --out "$work/bundle_render.png" --steps 50
test -s "$work/bundle_render.png" && echo "bundled render: ok"
shoot="$root/../shared/tools/shoot"
if command -v Xvfb >/dev/null && command -v openbox >/dev/null && [ -x "$shoot" ]; then
  "$shoot" "$work/bundle_window.png" -s 4 -k space -- "$exe" open xor
else
  echo "no virtual X screen: skipped the window check (install xvfb openbox xdotool wmctrl)"
fi
echo "== bundle built and tested in $(( $(date +%s) - t0 )) s; ${after} MB"
