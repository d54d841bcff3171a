#!/usr/bin/env bash
# Sets up the course in ./.venv: Python packages, a Jupyter kernel, nothing downloaded at run time.
#   ALIGNKIT_TORCH   torch requirement to install when torch is missing (default: torch==2.13.0).
#                    On a CUDA machine, install the torch build you want first; it is kept.
#   ALIGNKIT_PYTHON  interpreter to build the venv with (default: python3).
set -euo pipefail
cd "$(dirname "$0")/.."
python="${ALIGNKIT_PYTHON:-python3}"
[ -x .venv/bin/python ] || "$python" -m venv .venv
pip=(.venv/bin/python -m pip --disable-pip-version-check -q)
"${pip[@]}" install --upgrade pip
# torch first and pinned: an unpinned torch pulls a CUDA build of several GB where none is wanted.
.venv/bin/python -c "import torch" 2>/dev/null || "${pip[@]}" install "${ALIGNKIT_TORCH:-torch==2.13.0}"
# constraints/ci.txt holds the exact versions CI and the committed notebook outputs use (made on
# Python 3.11); on other Pythons pyproject's ranges apply, since those pins may not exist there.
if .venv/bin/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  "${pip[@]}" install -c constraints/ci.txt -e ".[test,notebook]"
else
  "${pip[@]}" install -e ".[test,notebook]"
fi
echo "alignkit is set up in .venv"
