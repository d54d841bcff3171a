"""Where the course's files live: one place that knows the checkout's layout.

alignkit is used from a checkout (`pip install -e .`, or Colab's clone): the world data, the zoo, the
results, the constitution and the quiz banks sit beside the package. After a non-editable install the
package sits in site-packages without them; `ALIGNKIT_REPO` names the checkout to read them from.
"""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["repo_root", "data_dir", "world_dir", "zoo_dir", "results_dir", "quizzes_dir", "constitution_path",
           "has_course_data", "NO_COURSE_DATA"]

NO_COURSE_DATA = ("alignkit is installed without the course's data ({missing} does not exist): use a checkout of the "
                  "course, install it from the checkout with `pip install -e .`, or set ALIGNKIT_REPO to the checkout.")

_PACKAGE_PARENT = Path(__file__).resolve().parents[2]


def repo_root() -> Path:
    """The checkout that holds data/ and quizzes/: $ALIGNKIT_REPO, else the folder above the package."""
    return Path(os.environ["ALIGNKIT_REPO"]).expanduser() if os.environ.get("ALIGNKIT_REPO") else _PACKAGE_PARENT


def data_dir() -> Path:
    return repo_root() / "data"


def world_dir() -> Path:
    return data_dir() / "world"


def zoo_dir() -> Path:
    return data_dir() / "zoo"


def results_dir() -> Path:
    return data_dir() / "results"


def quizzes_dir() -> Path:
    return repo_root() / "quizzes"


def constitution_path() -> Path:
    return data_dir() / "constitution.yaml"


def has_course_data() -> bool:
    """Whether repo_root() holds the course's data/ folder (False after a non-editable install, `pip install .`)."""
    return data_dir().is_dir()
