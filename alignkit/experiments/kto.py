"""KTO's experiments (Ethayarajh et al. 2024) at toy scale, each against DPO or SFT on the same labels.

Every run starts from a zoo checkpoint with alignkit's default DPOSettings / KTOSettings and the zoo's
policy preference set (`preferences.POLICY_SET`, the pairs `alignkit zoo build dpo` uses), and is
measured on the held-out prompts (gold from the oracle, exact sequence KL to the run's own reference).
Chapter 07 loads these results and reruns one point of each live.
"""
from __future__ import annotations

import random
import time
from collections import defaultdict
from dataclasses import asdict, replace
from pathlib import Path

import torch

from alignkit import zoo
from alignkit.methods.dpo import DPOSettings, train_dpo
from alignkit.experiments.common import RESULTS_DIR, held_out_point, held_out_point_and_frame, write_result
from alignkit.measure.evaluate import REPORTING, paired_difference
from alignkit.methods.kto import KTOSettings, drop_desirable, one_output_rows, recommended_desirable_weight, train_kto, unpaired_rows
from alignkit.methods.preferences import POLICY_SET
from alignkit.zoo.recipes import dpo_setup
from alignkit.world.files import read_jsonl
from alignkit.world.labelers import LabelerSettings

__all__ = ["EXPERIMENTS", "KEYS", "run_dpo", "run_kto", "kto_vs_dpo", "one_output", "imbalance", "no_sft",
           "budget_thumbs", "pairs_from_thumbs", "fixed_budget", "run", "run_and_write"]

KEYS = ("gold_reward", "kl_to_ref", "mean_length", "harmful_compliance", "over_refusal", "answer_rate",
        "helpful", "harmless", "honest", "concise")
EXPERIMENTS = {"kto_vs_dpo": "kto_vs_dpo", "one_output": "kto_one_output", "imbalance": "kto_imbalance",
               "no_sft": "no_sft", "fixed_budget": "kto_budget"}  # experiment -> its results file in data/results/


def _point(model, tokenizer, ref_model, **where) -> dict:
    return held_out_point(model, tokenizer, KEYS, ref_model, **where)


def _trained(method: str, start: str, rows: list[dict], settings) -> tuple:
    """A copy of zoo checkpoint `start` trained by DPO or KTO on `rows`, against a frozen copy of it as reference:
    (model, ref_model, tokenizer, training seconds)."""
    model, tokenizer = zoo.load(start)
    ref_model, _ = zoo.load(start)
    started = time.time()
    (train_dpo if method == "dpo" else train_kto)(model, ref_model, tokenizer, rows, settings)
    return model, ref_model, tokenizer, round(time.time() - started)


def run_dpo(start: str, rows: list[dict], settings: DPOSettings) -> dict:
    model, ref_model, tokenizer, seconds = _trained("dpo", start, rows, settings)
    return _point(model, tokenizer, ref_model, method="dpo", start=start, beta=settings.beta, train_seconds=seconds)


def run_kto(start: str, rows: list[dict], settings: KTOSettings) -> dict:
    model, ref_model, tokenizer, seconds = _trained("kto", start, rows, settings)
    n_desirable = sum(r["label"] for r in rows)
    return _point(model, tokenizer, ref_model, method="kto", start=start, beta=settings.beta,
                  desirable_weight=settings.desirable_weight, n_desirable=n_desirable,
                  n_undesirable=len(rows) - n_desirable, train_seconds=seconds)


def kto_vs_dpo(pairs, sft_point, **_) -> list[dict]:
    """The same labels: n pairs for DPO, 2n unpaired rows for KTO."""
    return [sft_point, run_dpo("sft", pairs, DPOSettings()), run_kto("sft", unpaired_rows(pairs), KTOSettings())]


def one_output(pairs, sft_point, sft, tokenizer) -> list[dict]:
    """One response to each preference prompt, thumbs up or down: no pairs ever formed."""
    prompts = [r["prompt"] for r in read_jsonl("prompts_preference.jsonl")]
    rows = one_output_rows(sft, tokenizer, prompts)
    n_desirable = sum(r["label"] for r in rows)
    weight = round(recommended_desirable_weight(n_desirable, len(rows) - n_desirable), 4)
    return [sft_point, run_kto("sft", rows, replace(KTOSettings(), desirable_weight=weight))]


def imbalance(pairs, sft_point, **_) -> list[dict]:
    """Desirable rows dropped (0, 50, 90%); λ_D unweighted against the recommended ratio 4/3."""
    points = [sft_point]
    for fraction in (0.0, 0.5, 0.9):
        rows = drop_desirable(unpaired_rows(pairs), fraction)
        n_desirable = sum(r["label"] for r in rows)
        weights = {"unweighted": 1.0}
        if fraction > 0:
            weights["recommended"] = round(recommended_desirable_weight(n_desirable, len(rows) - n_desirable, 4 / 3), 4)
        for how, weight in weights.items():
            points.append({"drop_fraction": fraction, "weighting": how}
                          | run_kto("sft", rows, replace(KTOSettings(), desirable_weight=weight)))
    return points


def no_sft(pairs, sft_point, **_) -> list[dict]:
    """DPO and KTO straight from the pretrained base model, on the same labels."""
    base, tokenizer = zoo.load("base")
    base_point = _point(base, tokenizer, zoo.load("base")[0], method="base", start="base")
    return [sft_point, base_point, run_dpo("base", pairs, DPOSettings()),
            run_kto("base", unpaired_rows(pairs), KTOSettings())]


def budget_thumbs(sft, tokenizer, n_labels: int, seed: int = 0) -> list[dict]:
    """n_labels thumbs, each on a fresh response of `sft` to a preference prompt. Round k visits every prompt in a
    shuffled order with sampling seed and labeler seed + k, so no response or label is reused; the last round is
    cut only after it is drawn, so a smaller budget buys exactly the first thumbs of a larger one."""
    prompts = [r["prompt"] for r in read_jsonl("prompts_preference.jsonl")]
    rows: list[dict] = []
    for round_ in range(-(-n_labels // len(prompts))):
        order = random.Random(seed + round_).sample(prompts, len(prompts))
        labeler = replace(LabelerSettings(), seed=LabelerSettings().seed + round_)
        rows += one_output_rows(sft, tokenizer, order, labeler=labeler, seed=seed + round_)
    return rows[:n_labels]


def pairs_from_thumbs(rows: list[dict]) -> list[dict]:
    """The most DPO can make of thumbs: every (thumbs up, thumbs down) pair of different responses to one prompt.
    A prompt whose responses all got the same thumb gives DPO nothing."""
    by_prompt: dict[str, tuple[list, list]] = defaultdict(lambda: ([], []))
    for row in rows:
        by_prompt[row["prompt"]][0 if row["label"] else 1].append(row["completion"])
    return [{"prompt": prompt, "chosen": up, "rejected": down}
            for prompt, (ups, downs) in by_prompt.items() for up in ups for down in downs if up != down]


def _budget_arm(method: str, rows: list[dict], settings, sft_frame, pairs_frame=None, **where) -> tuple[dict, object]:
    model, ref_model, tokenizer, _ = _trained(method, "sft", rows, settings)
    point, frame = held_out_point_and_frame(model, tokenizer, KEYS, ref_model, config=REPORTING, method=method,
                                            rows=len(rows), **where)
    point["vs_sft"] = {key: paired_difference(frame, sft_frame, key) for key in ("gold_reward", "over_refusal")}
    if pairs_frame is not None:
        point["vs_dpo_on_comparisons"] = paired_difference(frame, pairs_frame)
    return point, frame


def fixed_budget(pairs, sft_point, sft, tokenizer) -> list[dict]:
    """One labelling budget, as many labels as the zoo's DPO has comparisons, spent three ways: on those comparisons
    (DPO), on as many thumbs (KTO), or on the same thumbs for DPO, which can use only the up-down pairs they happen to
    form. And thumbs at half a comparison's price (a labeler reads one response, not two): twice as many for KTO.
    Four samples per test prompt; every arm is paired with sft and with DPO on the comparisons."""
    budget = len(pairs)
    thumbs = budget_thumbs(sft, tokenizer, 2 * budget)
    same_price = thumbs[:budget]
    sft_summary, sft_frame = held_out_point_and_frame(sft, tokenizer, KEYS, zoo.load("sft")[0], config=REPORTING,
                                                      method="sft", rows=0, budget=0, label="no labels")
    points = [sft_summary]
    pairs_point, pairs_frame = _budget_arm("dpo", pairs, DPOSettings(), sft_frame, budget=budget,
                                           label="comparisons, DPO")
    points.append(pairs_point)
    for label, rows in (("thumbs at a comparison's price, KTO", same_price),
                        ("thumbs at half a comparison's price, KTO", thumbs)):
        n_desirable = sum(r["label"] for r in rows)
        weight = round(recommended_desirable_weight(n_desirable, len(rows) - n_desirable), 4)
        point, _ = _budget_arm("kto", rows, replace(KTOSettings(), desirable_weight=weight), sft_frame, pairs_frame,
                               budget=budget, label=label, n_desirable=n_desirable, desirable_weight=weight)
        points.append(point)
    formed = pairs_from_thumbs(same_price)
    where = {"budget": budget, "label": "thumbs at a comparison's price, DPO on the pairs they form",
             "prompts_with_a_pair": len({r["prompt"] for r in formed}),
             "prompts_labelled": len({r["prompt"] for r in same_price})}
    if not formed:  # DPO has nothing to train on: it stays sft
        return points + [{"method": "dpo", "rows": 0} | where]
    return points + [_budget_arm("dpo", formed, DPOSettings(), sft_frame, pairs_frame, **where)[0]]


def run(names: list[str]) -> dict[str, dict]:
    """The named experiments on one preference set; per results file, its payload (points and settings)."""
    sft, ref_model, tokenizer, data = dpo_setup(seed=0)
    sft_point = _point(sft, tokenizer, ref_model, method="sft", start="sft")
    common = {"preference_set": asdict(POLICY_SET), "dpo_settings": asdict(DPOSettings()),
              "kto_settings": asdict(KTOSettings())}
    functions = {"kto_vs_dpo": kto_vs_dpo, "one_output": one_output, "imbalance": imbalance, "no_sft": no_sft,
                 "fixed_budget": fixed_budget}
    return {EXPERIMENTS[name]: common | {"points": functions[name](data["train"], sft_point, sft=sft,
                                                                   tokenizer=tokenizer)}
            for name in names}


def run_and_write(names: list[str], results_dir: Path = RESULTS_DIR) -> list[Path]:
    """Run the named experiments (one torch thread) and write each to its results file; the paths written."""
    torch.set_num_threads(1)
    results = run(names)
    return [write_result(results_dir / f"{EXPERIMENTS[name]}.json",
                         f"python scripts/preference_experiments.py --only {name}", results[EXPERIMENTS[name]])
            for name in names]
