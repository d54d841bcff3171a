"""LoRA-DPO on SmolLM2-135M-Instruct, a real pretrained model, on a laptop CPU: does it learn what its pairs teach?

The pairs are the zoo's policy preference set (`sft`'s answers to the world's prompts, compared by the simulated
labelers), as the chapters' `dpo` trains on. The measure needs no generation, which a 135M model on two cores could
not afford in minutes: the implicit reward beta log(pi / pi_ref), read as a classifier of held-out pairs. Before
training the policy is its reference, every implicit reward is 0 and every pair a tie, so its accuracy is exactly
0.5; after training it is measured against the labelers' choices on pairs of prompts it never trained on.

    result = dpo_on_smollm2()   # about 3 minutes on 2 CPU cores once SmolLM2 is built (core.smollm2)
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, replace

from alignkit import zoo
from alignkit.core.profiles import method_settings, real_model_profile
from alignkit.core.smollm2 import build_smollm2
from alignkit.measure.stats import verdict
from alignkit.methods.dpo import DPOSettings, train_dpo
from alignkit.methods.preferences import implicit_reward_accuracy
from alignkit.zoo.preference_data import policy_preference_rows

__all__ = ["SmolDPORun", "dpo_on_smollm2"]


@dataclass(frozen=True)
class SmolDPORun:
    """How much the CPU run does: sized to finish in about 3 minutes on 2 cores."""

    train_pairs: int = 64  # the first pairs of the policy preference set: 16 steps of the CPU profile's batch of 4
    heldout_pairs: int = 60  # its held-out pairs, on validation prompts
    learning_rate: float = 5e-4  # LoRA adapters take a larger step than full fine-tuning's 1e-4


def dpo_on_smollm2(run: SmolDPORun = SmolDPORun(), directory=None) -> dict:
    """Train SmolLM2 with LoRA-DPO on `run.train_pairs` pairs; the held-out implicit-reward accuracy before (0.5 by
    construction) and after, the difference with its binomial standard error and verdict, and the seconds taken."""
    start = time.perf_counter()
    sampler, sampler_tokenizer = zoo.load("sft")
    pairs = policy_preference_rows(sampler, sampler_tokenizer)
    model, tokenizer = zoo.load(build_smollm2(directory))
    reference = copy.deepcopy(model).eval()  # kept only to measure; training uses the adapters-off backbone
    settings = replace(method_settings(DPOSettings(), real_model_profile()), learning_rate=run.learning_rate)
    train_dpo(model, None, tokenizer, pairs["train"][:run.train_pairs], settings)
    heldout = pairs["heldout"][:run.heldout_pairs]
    after = implicit_reward_accuracy(model, reference, tokenizer, heldout, settings.beta)
    se = math.sqrt(max(after * (1 - after), 1e-12) / len(heldout))
    return {"key": "implicit_reward_accuracy", "before": 0.5, "after": after, "difference": after - 0.5, "se": se,
            "verdict": verdict(after - 0.5, se), "train_pairs": run.train_pairs, "heldout_pairs": len(heldout),
            "learning_rate": run.learning_rate, "lora_r": settings.lora.r if settings.lora else None,
            "seconds": time.perf_counter() - start}
