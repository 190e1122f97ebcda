#!/usr/bin/env bash
# Brings a machine with Python 3 and a C++ compiler to a working .venv/:
# torch + torchvision, mmengine, mmcv (compiled ops, built once per machine and
# cached), mmdet, pycocotools and ghostdet (editable), pinned by constraints.txt.
# Packages are installed with uv (pinned in constraints.txt): it keeps every wheel in its own
# cache and links them into a new .venv in seconds, where pip unpacks ~5 GB again.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
CONSTRAINTS="$ROOT/constraints.txt"
CACHE="${GHOSTDET_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ghostdet}"
PYTHON="${PYTHON:-python3}"
STEP="start"

trap 'echo "setup_env: step \"$STEP\" failed (exit $?). See the output above; rerun make after fixing it." >&2' ERR

step() { STEP="$1"; echo "==> [setup] $1"; }
pip_install() { "$VENV/bin/uv" pip install --quiet --python "$PY" --constraint "$CONSTRAINTS" "$@"; }

step "check the Python version (the pinned torch, numpy and scipy need 3.11 or newer)"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "setup_env: $PYTHON is Python $("$PYTHON" -c 'import platform; print(platform.python_version())'); the pins in constraints.txt need Python 3.11 or newer." >&2
    echo "setup_env: install one and run e.g. 'make test PYTHON=python3.11'." >&2
    exit 1
fi

step "create virtual environment .venv"
if [ ! -x "$PY" ]; then
    # Without pip (ensurepip took 6 s): uv installs it below, with the other pins.
    "$PYTHON" -m venv --without-pip "$VENV"
fi

step "uv, the installer"
if [ ! -x "$VENV/bin/uv" ]; then
    # The base Python's pip installs uv into .venv; where that Python has no pip (or one
    # older than 22.3, without --python), .venv gets its own first.
    if ! "$PYTHON" -m pip --python "$PY" install --disable-pip-version-check -q \
            -c "$CONSTRAINTS" uv 2>/dev/null; then
        "$PY" -m ensurepip >/dev/null
        "$PY" -m pip install --disable-pip-version-check -q -c "$CONSTRAINTS" uv
    fi
fi

# Three uv calls where there were six (each resolves the pins again): what building mmcv
# needs, mmcv itself where its wheel is not cached yet, then everything else at once.
step "torch, torchvision, mmengine and what building mmcv needs (setuptools<82: mmcv and mmengine still import pkg_resources)"
pip_install pip setuptools wheel ninja psutil torch torchvision \
    mmengine numpy pycocotools addict packaging Pillow pyyaml yapf opencv-python

# One import of torch for both facts (a first import, before any bytecode: 4 s each).
read -r TORCH_TAG CUDA_AVAILABLE < <("$PY" -c 'import torch; print(torch.__version__.replace("+", "_"), int(torch.cuda.is_available()))')
if command -v nvcc >/dev/null 2>&1 && [ "$CUDA_AVAILABLE" = 1 ]; then
    OPS="cuda"; export FORCE_CUDA=1
else
    OPS="cpu"; export FORCE_CUDA=0
fi
MMCV_WHEEL_DIR="$CACHE/mmcv-2.1.0-torch${TORCH_TAG}-${OPS}"

MMCV=()
if ! "$PY" -c 'import mmcv, mmcv.ops; assert mmcv.__version__ == "2.1.0"' >/dev/null 2>&1; then
    if ! ls "$MMCV_WHEEL_DIR"/mmcv-2.1.0-*.whl >/dev/null 2>&1; then
        step "build mmcv 2.1.0 with $OPS ops (once per machine, ~20 min on 2 cores)"
        BUILD="$(mktemp -d)"
        "$PY" -m pip download -q --no-deps --no-build-isolation --no-binary :all: -d "$BUILD" mmcv==2.1.0
        tar -xzf "$BUILD"/mmcv-2.1.0.tar.gz -C "$BUILD"
        # torch >= 2.14 headers require C++20; mmcv 2.1.0 hard-codes c++14/c++17.
        sed -i -e 's/-std=c++14/-std=c++20/g' -e 's/-std=c++17/-std=c++20/g' "$BUILD"/mmcv-2.1.0/setup.py
        (cd "$BUILD"/mmcv-2.1.0 && MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
            "$PY" -m pip wheel -q --no-deps --no-build-isolation -w "$BUILD/dist" .)
        mkdir -p "$MMCV_WHEEL_DIR"
        cp "$BUILD"/dist/mmcv-2.1.0-*.whl "$MMCV_WHEEL_DIR"/
        rm -rf "$BUILD"
    else
        echo "    using cached mmcv wheel from $MMCV_WHEEL_DIR"
    fi
    MMCV=("$(ls "$MMCV_WHEEL_DIR"/mmcv-2.1.0-*.whl | head -n 1)")
fi

step "mmcv 2.1.0 (the wheel built here), mmdet 3.3.0, mmpretrain 1.2.0 (ImageNet pretraining), onnx + onnxruntime (deployment), mmdet's analysis tools' needs, test tools and ghostdet (editable) with its extras, whose requirements must fit the pins"
pip_install --no-build-isolation "${MMCV[@]}" mmdet matplotlib scipy shapely six terminaltables \
    tqdm rich pytest pytest-xdist timm mmpretrain seaborn onnx onnxruntime \
    -e "$ROOT[deploy,openvino,benchmark,family,pretrain,test]"

step "compile the installed packages to bytecode, once"
# uv, unlike pip, leaves that to the first import, and where PYTHONDONTWRITEBYTECODE is set
# (this project's CI machines) no import ever writes it: every new interpreter then compiled
# torch and mmdet again, 20 s instead of 8 s here, in each of the test suite's processes.
"$PY" - <<'PY'
import compileall, re, sysconfig
# Left out, never imported here (half the files): packages' own test folders, the installers,
# mmdet's and mmpretrain's bundled configs and tools (.mim: read as text or run as scripts),
# and the parts of packages no ghostdet path reaches (ONNX's reference evaluator, ONNX
# Runtime's transformer tools, syntax lexers, font tables, graph algorithms...). Anything
# left out that a run does import still works, compiled in memory. The result is not
# checked: the only files Python 3.11 cannot compile are torch's test helpers written for
# 3.12, which nothing here imports either.
compileall.compile_dir(sysconfig.get_paths()['purelib'], quiet=2, workers=0, rx=re.compile(
    r'/tests?/|/site-packages/(pip|setuptools|pygments|networkx|fontTools)/|/\.mim/'
    r'|/onnx/reference/|/onnxruntime/(transformers|tools)/|/sympy/physics/|/numpy/distutils/'
    r'|/huggingface_hub/inference/'))
PY

step "check the stack imports and mmcv ops run"
"$PY" - <<'PY'
import torch, torchvision, mmcv, mmdet, mmengine, pycocotools
from mmcv.ops import nms, RoIAlign
import ghostdet
boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.]])
nms(boxes, torch.tensor([0.9, 0.8]), 0.5)
print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, mmcv {mmcv.__version__}, "
      f"mmengine {mmengine.__version__}, mmdet {mmdet.__version__}: ok")
PY
touch "$VENV/.ready"
