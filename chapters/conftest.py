"""Under nbval the chapters' "On a real model" sections run the smoke-test stand-in: on SmolLM2 each takes minutes
on a CPU, which the course's time budget has no room for, so they run as their own tests (tests/test_smollm2.py).
A model named in ALIGNKIT_REAL_MODEL is kept."""
import os

from alignkit.zoo.real_model import ENV, STANDIN

os.environ.setdefault(ENV, STANDIN)
