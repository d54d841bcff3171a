#!/usr/bin/env bash
# A Colab-shaped environment in ./.venv-colab: Colab's preinstalled stack (runtime of August 2026,
# README's "Google Colab" section) pinned as closely as PyPI and this machine allow, then alignkit installed exactly the
# way README's "Google Colab" section tells learners (`pip install -q -e alignkit`, which is also how TRL
# arrives: Colab ships none). Used by .ci/run to run the browser tests in a classic notebook front end
# with ipywidgets 7 and chapters 00-02 under nbval.
#   ALIGNKIT_COLAB_PYTHON  interpreter to build the venv with (default: python3).
#
# Pins and where they differ from Colab (checked with `pip index versions NAME`):
#   python       3.11, not 3.13: the CPU build of torch this machine installs without a multi-GB CUDA
#                download exists for 3.11 only (pip takes it from local disk).
#   torch        2.13.0 CPU, not 2.11: torch 2.11 from PyPI is a CUDA build of several GB.
#   transformers 5.15.1, peft 0.20.0, datasets 4.0.0, accelerate 1.14.0: as Colab (latest patch of each).
#   ipywidgets   7.7.1 (with widgetsnbextension 3.6.x), plotly 5.24.1, ipython 7.34.0, ipykernel 6.17.1,
#                anywidget 0.9.21 (Colab: "0.9"; the newest 0.9 patch): as Colab.
#   front end    Colab's own front end is not public; the nearest one that runs ipywidgets 7 is the
#                classic notebook, notebook 6.5.7 (the last 6.x), whose widget manager is Colab's.
#   trl          not pinned: `pip install -e .` takes the newest release pyproject's range allows, as in
#                Colab; if it asked for newer transformers/datasets pip would upgrade them, as in Colab.
#   test tools   pytest, nbval and playwright at constraints/ci.txt's versions.
set -euo pipefail
cd "$(dirname "$0")/.."
python="${ALIGNKIT_COLAB_PYTHON:-python3}"
venv=.venv-colab
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip --disable-pip-version-check -q)
"${pip[@]}" install --upgrade pip
"$venv/bin/python" -c "import torch" 2>/dev/null || "${pip[@]}" install "torch==2.13.0"
# Colab's preinstalled stack, in one resolve so pip reports any conflict between the pins.
"${pip[@]}" install "torch==2.13.0" \
  "transformers==5.15.1" "peft==0.20.0" "datasets==4.0.0" "accelerate==1.14.0" \
  "ipywidgets==7.7.1" "plotly==5.24.1" "ipython==7.34.0" "ipykernel==6.17.1" "anywidget==0.9.21" \
  "notebook==6.5.7" "pandas" "pyyaml"
# What README tells Colab learners to run (TRL arrives here, as alignkit requires it).
"${pip[@]}" install -e .
# Test tools, at the versions CI uses.
pins=$(grep -E '^(pytest|nbval|playwright|greenlet|pyee)==' constraints/ci.txt || true)
# shellcheck disable=SC2086
"${pip[@]}" install $pins
"$venv/bin/python" - <<'EOF'
import importlib.metadata as md
names = ["torch", "transformers", "peft", "datasets", "accelerate", "trl", "ipywidgets", "widgetsnbextension",
         "plotly", "ipython", "ipykernel", "notebook", "anywidget", "pytest", "nbval", "playwright"]
print("colab-shaped env:", ", ".join(f"{n} {md.version(n)}" for n in names))
EOF
