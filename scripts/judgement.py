"""Does the reward model judge new prompts? (alignkit.experiments.judgement)

    .venv/bin/python scripts/judgement.py --split validation --samples 16   # data/results/judgement_validation.json
    .venv/bin/python scripts/judgement.py --likelihood-judge               # data/results/judgement_likelihood.json

--likelihood-judge: fits, on labeller labels of pairs of sft's samples for the validation prompts, a judge that
adds sft's own log-probability per token to the rm score (weights per prompt kind), and measures rm, sft's
log-probability and that judge on the test prompts.
"""
from __future__ import annotations

import argparse
import json
import sys

from alignkit.experiments.common import RESULTS_DIR, write_result
from alignkit.experiments.judgement import judgement, likelihood_judge


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rm", default="rm")
    parser.add_argument("--policy", default="sft")
    parser.add_argument("--split", default="validation", choices=("validation", "test"))
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--frame", default=None, help="also write the per-response frame to this CSV file")
    parser.add_argument("--likelihood-judge", action="store_true", help="fit and measure the likelihood judge")
    args = parser.parse_args(argv)
    if args.likelihood_judge:
        result = likelihood_judge(args.samples)
        write_result(RESULTS_DIR / "judgement_likelihood.json", "python scripts/judgement.py " + " ".join(argv),
                     result)
        for by, measured in result["test"].items():
            print(by, {r["kind"]: f"{r['correlation']:.2f}±{r['correlation_se']:.2f}" for r in measured["correlation"]},
                  {r["n"]: f"{r['gain_over_one']:+.3f}±{r['gain_se']:.3f}" for r in measured["best_of_n"]})
        return
    result = judgement(args.rm, args.policy, args.split, args.samples, frame_path=args.frame)
    write_result(RESULTS_DIR / f"judgement_{args.split}.json", "python scripts/judgement.py " + " ".join(argv), result)
    print(json.dumps({row["kind"]: (round(row["correlation"], 3), round(row["correlation_se"], 3))
                      for row in result["correlation"]}))
    for row in result["best_of_n"]:
        print(f"n={row['n']:>2} gold {row['gold']:.3f} ± {row['gold_se']:.3f}  gain {row['gain_over_one']:+.3f} ± "
              f"{row['gain_se']:.3f}  ceiling {row['gold_ceiling']:.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])
