"""The DPO and KTO chapters' longer experiments, measured once and saved to data/results/*.json.

    .venv/bin/python scripts/preference_experiments.py [--only kto_vs_dpo,one_output,imbalance,no_sft]

Every run starts from the zoo's checkpoints with alignkit's default DPOSettings / KTOSettings and the
same small preference set (`preference_rows(sft, n_prompts=N_PROMPTS, samples_per_prompt=4)`), and is
evaluated with `alignkit.evaluate.evaluate` on the held-out prompts (gold reward from the oracle, exact
sequence KL to the run's own reference). Each results file records the command that made it. Chapters
06 and 07 load and plot these files and rerun one point of each experiment live.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "data" / "results"
N_PROMPTS, SAMPLES_PER_PROMPT = 400, 4  # the chapters' and the zoo dpo / kto preference set
KEYS = ("gold_reward", "kl_to_ref", "mean_length", "harmful_compliance", "over_refusal", "answer_rate",
        "helpful", "harmless", "honest", "concise")


def _summary(model, tokenizer, ref_model) -> dict:
    from alignkit.evaluate import evaluate

    summary, _ = evaluate(model, tokenizer, ref_model=ref_model, cloze=False)
    return {k: summary[k] for k in KEYS}  # evaluate already rounds to 4 places


def _save(name: str, experiment: str, payload: dict) -> None:
    from alignkit.storage import atomic_write_json

    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"command": "python scripts/preference_experiments.py --only " + experiment,
               "n_prompts": N_PROMPTS, "samples_per_prompt": SAMPLES_PER_PROMPT} | payload
    atomic_write_json(RESULTS / f"{name}.json", payload)
    print(f"wrote data/results/{name}.json", flush=True)


def run_dpo(start: str, rows: list[dict], settings) -> dict:
    from alignkit import zoo
    from alignkit.dpo import train_dpo

    model, tokenizer = zoo.load(start)
    ref_model, _ = zoo.load(start)
    t = time.time()
    train_dpo(model, ref_model, tokenizer, rows, settings)
    return {"method": "dpo", "start": start, "beta": settings.beta, "train_seconds": round(time.time() - t)} \
        | _summary(model, tokenizer, ref_model)


def run_kto(start: str, rows: list[dict], settings) -> dict:
    from alignkit import zoo
    from alignkit.kto import train_kto

    model, tokenizer = zoo.load(start)
    ref_model, _ = zoo.load(start)
    t = time.time()
    train_kto(model, ref_model, tokenizer, rows, settings)
    n_d = sum(r["label"] for r in rows)
    return {"method": "kto", "start": start, "beta": settings.beta, "desirable_weight": settings.desirable_weight,
            "n_desirable": n_d, "n_undesirable": len(rows) - n_d, "train_seconds": round(time.time() - t)} \
        | _summary(model, tokenizer, ref_model)


def main(argv=None) -> None:
    from alignkit import zoo
    from alignkit.dpo import DPOSettings
    from alignkit.kto import (KTOSettings, drop_desirable, one_output_rows, recommended_desirable_weight,
                              unpaired_rows)
    from alignkit.reward import _spread, preference_rows
    from alignkit.world.files import read_jsonl

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="kto_vs_dpo,one_output,imbalance,no_sft")
    args = parser.parse_args(argv)
    todo = args.only.split(",")
    torch.set_num_threads(1)
    sft, tokenizer = zoo.load("sft")
    data = preference_rows(sft, tokenizer, n_prompts=N_PROMPTS, samples_per_prompt=SAMPLES_PER_PROMPT,
                           n_heldout_prompts=100)
    pairs, dpo_settings, kto_settings = data["train"], DPOSettings(), KTOSettings()
    sft_point = {"method": "sft", "start": "sft"} | _summary(sft, tokenizer, zoo.load("sft")[0])
    common = {"dpo_settings": asdict(dpo_settings), "kto_settings": asdict(kto_settings)}

    if "kto_vs_dpo" in todo:  # the same labels: n pairs for DPO, 2n unpaired rows for KTO
        _save("kto_vs_dpo", "kto_vs_dpo", common | {"points": [sft_point, run_dpo("sft", pairs, dpo_settings),
                                                 run_kto("sft", unpaired_rows(pairs), kto_settings)]})
    if "one_output" in todo:  # one response per prompt, thumbs up / down: no pairs ever formed
        prompts = _spread([r["prompt"] for r in read_jsonl("prompts_train.jsonl")], 4 * N_PROMPTS)
        rows = one_output_rows(sft, tokenizer, prompts)
        n_d = sum(r["label"] for r in rows)
        weight = round(recommended_desirable_weight(n_d, len(rows) - n_d), 4)
        _save("kto_one_output", "one_output", common | {"n_prompts_one_output": len(prompts), "points": [
            sft_point, run_kto("sft", rows, replace(kto_settings, desirable_weight=weight))]})
    if "imbalance" in todo:  # drop desirable rows; λ_D unweighted vs by the recommended ratio 4/3
        points = [sft_point]
        for fraction in (0.0, 0.5, 0.9):
            rows = drop_desirable(unpaired_rows(pairs), fraction)
            n_d = sum(r["label"] for r in rows)
            weights = {"unweighted": 1.0}
            if fraction > 0:
                weights["recommended"] = round(recommended_desirable_weight(n_d, len(rows) - n_d, 4 / 3), 4)
            for how, weight in weights.items():
                points.append({"drop_fraction": fraction, "weighting": how}
                              | run_kto("sft", rows, replace(kto_settings, desirable_weight=weight)))
        _save("kto_imbalance", "imbalance", common | {"points": points})
    if "no_sft" in todo:  # DPO and KTO straight from the pretrained base model, same labels
        base_point = {"method": "base", "start": "base"} | _summary(zoo.load("base")[0], tokenizer,
                                                                    zoo.load("base")[0])
        _save("no_sft", "no_sft", common | {"points": [sft_point, base_point, run_dpo("base", pairs, dpo_settings),
                                             run_kto("base", unpaired_rows(pairs), kto_settings)]})


if __name__ == "__main__":
    sys.exit(main())
