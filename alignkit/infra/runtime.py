"""Where the code runs: under CI, and inside a live IPython kernel. The one probe every module asks."""
from __future__ import annotations

import os
import sys

__all__ = ["in_ci", "in_kernel"]

_FALSE = ("", "0", "false", "no", "off")


def in_ci() -> bool:
    """True when $CI is set to anything but an explicit no ("", 0, false, no, off; any case)."""
    return os.environ.get("CI", "").strip().lower() not in _FALSE


def in_kernel() -> bool:
    """True inside a live IPython kernel (Jupyter, Colab), False in a terminal IPython or a script.

    IPython is never imported just to find out: if nothing imported it, no kernel runs.
    """
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None
