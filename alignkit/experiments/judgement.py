"""Does a reward model judge new prompts? sft's samples on a split, scored by the reward model and by gold.

    result = judgement("rm", split="validation", samples=16)   # per kind: correlation; best-of-n under rm and gold

Two numbers decide whether a reward model can help a policy on prompts it never saw: the within-prompt
correlation of its score with gold, per kind, and best-of-n under it against best-of-n under gold. Settings
are chosen on "validation"; "test" only reports.
"""
from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import torch

from alignkit import zoo
from alignkit.core.generation import completion_logprobs
from alignkit.measure.best_of_n import best_of_n_curve, within_prompt_correlation
from alignkit.measure.evaluate import REPORTING, evaluate
from alignkit.world.labelers import LabelerSettings, label_pairs

__all__ = ["judgement", "judged_frame", "judgement_of_frame", "with_likelihood", "fit_likelihood_judge",
           "likelihood_judge_scores", "likelihood_judge"]


def judged_frame(policy, tokenizer, reward_model, split: str = "validation", samples: int = 16,
                 temperature: float = 1.0):
    """Per-response frame: `samples` responses of the policy per prompt of the split, with gold and rm_score."""
    sampling = replace(REPORTING.sampling, temperature=temperature)
    config = replace(REPORTING, split=split, samples_per_prompt=samples, sampling=sampling)
    return evaluate(policy, tokenizer, reward_model=reward_model, config=config, cloze=False)[1]


def with_likelihood(frame, model, tokenizer, column: str = "logprob_per_token"):
    """The frame with `model`'s log-probability of each response per token (the policy's own confidence)."""
    per_token = completion_logprobs(model, tokenizer, frame.prompt.tolist(), frame.response.tolist(), per_token=True)
    return frame.assign(**{column: per_token.numpy()})


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
    (policy, tokenizer), (reward_model, _) = zoo.load(policy_name), zoo.load(reward_model_name)
    frame = judged_frame(policy, tokenizer, reward_model, split, samples, temperature)
    if frame_path is not None:
        frame.to_csv(frame_path, index=False)
    return {"reward_model": reward_model_name, "policy": policy_name, "split": split, "samples": samples,
            "temperature": temperature, "prompts": int(frame.prompt.nunique())} | judgement_of_frame(frame)


# --- a judge that reads the policy's own confidence ------------------------------------------------------------

FEATURES = ("rm_score", "logprob_per_token")


def labelled_feature_differences(frame, pairs_per_prompt: int = 6, seed: int = 0):
    """(X [N, 2], kinds [N]): chosen-minus-rejected FEATURES for pairs of a prompt's differing samples, labelled
    by the simulated labelers (never by gold), as a reward model's comparisons are."""
    rng = np.random.default_rng(seed)
    pairs, rows = [], []
    for prompt, samples in frame.groupby("prompt", sort=False):
        distinct = samples.drop_duplicates("response")
        combos = list(itertools.combinations(range(len(distinct)), 2))
        for k in rng.permutation(len(combos))[:pairs_per_prompt]:
            a, b = distinct.iloc[combos[k][0]], distinct.iloc[combos[k][1]]
            pairs.append((prompt, a.response, b.response))
            rows.append((a, b))
    differences, kinds = [], []
    for (a, b), label in zip(rows, label_pairs(pairs, LabelerSettings())):
        chosen, rejected = (a, b) if label["chosen"] == a.response else (b, a)
        differences.append([chosen[f] - rejected[f] for f in FEATURES])
        kinds.append(a.category)
    return np.asarray(differences, dtype=float), np.asarray(kinds)


def bradley_terry_weights(differences, l2: float = 1e-3):
    """Weights w maximising the Bradley-Terry likelihood sigma(w . (chosen - rejected)) of the labels."""
    X = torch.as_tensor(differences, dtype=torch.float32)
    w = torch.zeros(X.shape[1], requires_grad=True)
    optimiser = torch.optim.LBFGS([w], max_iter=200)

    def loss():
        optimiser.zero_grad()
        value = torch.nn.functional.softplus(-(X @ w)).mean() + l2 * (w ** 2).sum()
        value.backward()
        return value

    optimiser.step(loss)
    return w.detach().numpy()


def fit_likelihood_judge(frame) -> dict:
    """Weights of rm_score and logprob_per_token, one pair per prompt kind (a reward model can tell a sum from
    a harmful request by reading the prompt), fitted on labeller labels of the frame's pairs."""
    differences, kinds = labelled_feature_differences(frame)
    return {kind: bradley_terry_weights(differences[kinds == kind]).tolist() for kind in sorted(set(kinds))}


def likelihood_judge_scores(frame, weights: dict):
    return [weights[kind][0] * rm + weights[kind][1] * lp
            for kind, rm, lp in zip(frame.category, frame.rm_score, frame.logprob_per_token)]


def likelihood_judge(samples: int = 16) -> dict:
    """Fit the likelihood judge on labeller labels of validation pairs; measure rm, sft's log-probability and the
    judge on the test prompts (correlation per kind, best-of-n)."""
    (sft, tokenizer), (rm, _) = zoo.load("sft"), zoo.load("rm")
    validation, test = (with_likelihood(judged_frame(sft, tokenizer, rm, split, samples), sft, tokenizer)
                        for split in ("validation", "test"))
    weights = fit_likelihood_judge(validation)
    test = test.assign(likelihood_judge=likelihood_judge_scores(test, weights))
    return {"weights_fitted_on_validation_labels": weights, "samples": samples,
            "test": {by: judgement_of_frame(test, by=by) for by in (*FEATURES, "likelihood_judge")}}
