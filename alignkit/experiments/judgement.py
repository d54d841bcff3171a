"""Does a reward model judge new prompts? sft's samples on a split, scored by the reward model and by gold.

    result = judgement("rm", split="validation", samples=16)   # per kind: correlation; best-of-n under rm and gold

Two numbers decide whether a reward model can help a policy on prompts it never saw: the within-prompt
correlation of its score with gold, per kind, and best-of-n under it against best-of-n under gold. Settings
are chosen on "validation"; "test" only reports.
"""
from __future__ import annotations

from dataclasses import replace

from alignkit import zoo
from alignkit.core.generation import completion_lengths, completion_logprobs
from alignkit.measure.best_of_n import best_of_n_curve, within_prompt_correlation
from alignkit.measure.evaluate import REPORTING, evaluate

__all__ = ["judgement", "judged_frame", "judgement_of_frame", "with_likelihood"]


def judged_frame(reward_model_name: str = "rm", policy_name: str = "sft", split: str = "validation",
                 samples: int = 16, temperature: float = 1.0):
    """Per-response frame: `samples` responses of the policy per prompt of the split, with gold and rm_score."""
    policy, tokenizer = zoo.load(policy_name)
    reward_model, _ = zoo.load(reward_model_name)
    sampling = replace(REPORTING.sampling, temperature=temperature)
    config = replace(REPORTING, split=split, samples_per_prompt=samples, sampling=sampling)
    return evaluate(policy, tokenizer, reward_model=reward_model, config=config, cloze=False)[1]


def with_likelihood(frame, model, tokenizer, column: str = "logprob_per_token"):
    """The frame with `model`'s log-probability of each response per token (the policy's own confidence)."""
    prompts, responses = frame.prompt.tolist(), frame.response.tolist()
    summed = completion_logprobs(model, tokenizer, prompts, responses).numpy()
    return frame.assign(**{column: summed / completion_lengths(tokenizer, prompts, responses)})


def judgement_of_frame(frame, by: str = "rm_score", best_of_kind: int = 4) -> dict:
    """The two numbers from a judged frame: per-kind correlation, and best-of-n overall and per kind."""
    per_kind = {kind: best_of_n_curve(frame, ns=(1, best_of_kind), by=by, kind=kind).iloc[-1].to_dict()
                for kind in sorted(frame.category.unique())}
    return {"correlation": within_prompt_correlation(frame, by=by).to_dict("records"),
            "best_of_n": best_of_n_curve(frame, by=by).to_dict("records"),
            f"best_of_{best_of_kind}_per_kind": per_kind}


def judgement(reward_model_name: str = "rm", policy_name: str = "sft", split: str = "validation",
              samples: int = 16, temperature: float = 1.0, frame_path=None) -> dict:
    """The two numbers for a zoo reward model on the policy's samples; frame_path: also keep the frame (CSV)."""
    frame = judged_frame(reward_model_name, policy_name, split, samples, temperature)
    if frame_path is not None:
        frame.to_csv(frame_path, index=False)
    return {"reward_model": reward_model_name, "policy": policy_name, "split": split, "samples": samples,
            "temperature": temperature, "prompts": int(frame.prompt.nunique())} | judgement_of_frame(frame)
