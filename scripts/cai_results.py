"""Chapter 05's results (data/results/cai.json): AI label cost, the constitution edit on labels and on a
policy, and harmlessness against helpfulness for sft, ppo, sl-cai, rl-cai and rlaif-dpo.

    .venv/bin/python scripts/cai_results.py            # needs the zoo's sft, ppo, feedback, sl-cai, rl-cai, rlaif-dpo
"""
from __future__ import annotations

import argparse
import json
import sys

from alignkit import recipes, zoo
from alignkit.constitution import load_constitution
from alignkit.evaluate import REPORTING, evaluate, paired_difference
from alignkit.experiments.cai import REVERSED_HARMLESS, constitution_edit, harm_help, label_cost, red_team_pairs
from alignkit.experiments.common import RESULTS_DIR, write_result
from alignkit.sl_cai import HARM_PRINCIPLES

MODELS = ["ppo", "sl-cai", "rl-cai", "rlaif-dpo"]


def judges() -> dict:
    judge = load_constitution().subset(HARM_PRINCIPLES)
    return {"full": judge, "harmless reversed": judge.reworded("harmless", comparison=REVERSED_HARMLESS),
            "harmless removed": judge.without("harmless")}


def policy_edit(judges: dict) -> dict:
    """RLAIF-DPO from `sft` (whose red-team answers still comply often, so the labels decide something) on labels
    from each constitution, same seed and pairs; each against the first, paired on the test prompts."""
    reference, tokenizer = zoo.load("sft")
    out, frames = {}, {}
    for name, judge in judges.items():
        trained = recipes.train("rlaif-dpo", constitution=judge, start="sft")
        summary, frames[name] = evaluate(trained.model, tokenizer, ref_model=reference, config=REPORTING, cloze=False)
        out[name] = {"ai_labels": trained.metrics["ai_labels"]} | {
            k: summary[k] for key in ("harmful_compliance", "over_refusal", "gold_reward") for k in (key, key + "_se")}
    first = next(iter(judges))
    for name in out:
        out[name]["vs_" + first] = {key: paired_difference(frames[name], frames[first], key)
                                    for key in ("harmful_compliance", "over_refusal", "gold_reward")}
    return out


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-policy-edit", action="store_true", help="do not retrain rlaif-dpo on the edited labels")
    args = parser.parse_args(argv)
    sft, tokenizer = zoo.load("sft")
    feedback, _ = zoo.load("feedback")
    pairs = red_team_pairs(sft, tokenizer)
    edits = judges()
    result = {"label_cost": label_cost(feedback, tokenizer, edits["full"], pairs),
              "constitution_edit": constitution_edit(feedback, tokenizer, pairs, edits)}
    table = harm_help(MODELS)
    table.pop("frames")
    result["harm_help"] = table
    if not args.skip_policy_edit:
        result["policy_edit"] = policy_edit({name: edits[name] for name in ("full", "harmless reversed")})
    write_result(RESULTS_DIR / "cai.json", "python scripts/cai_results.py " + " ".join(argv), result)
    print(json.dumps({k: v for k, v in result.items() if k != "harm_help"}, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
