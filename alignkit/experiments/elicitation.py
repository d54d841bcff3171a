"""How much of what a model knows does it say? Greedy answers to a split's facts, procedures and sums, each scored
by the oracle's helpfulness (a fact or sum 1 right, 0 wrong; a procedure its share of steps in order), per kind
with its SE over prompts.

`base` asked on an FAQ page ("Q: …⏎A:", the corpus's own way of answering questions) shows what pretraining put
in the model; `sft` in its chat template shows what fine-tuning on demonstrations draws out for prompts it was
never shown. The gap is knowledge the model has and does not state.
"""
from __future__ import annotations

from collections import defaultdict

from alignkit import zoo
from alignkit.core.generation import SampleSettings, sample
from alignkit.measure.evaluate import PROMPT_FILES
from alignkit.measure.stats import mean_and_se
from alignkit.world import load_world
from alignkit.world.files import read_jsonl
from alignkit.world.oracle import BENIGN, score

GREEDY = SampleSettings(temperature=0, max_new_tokens=48)
DEFAULT_RUNS = (("base", "faq"), ("base", "document"), ("sft", "chat"))


def first_line(response: str) -> str:
    """An FAQ answer ends at its line; what follows is the page's next question."""
    return response.strip().split("\n")[0]


def elicited(model, tokenizer, prompt_format: str, split: str = "test", max_prompts: int | None = None) -> dict:
    """{kind: {"mean", "se", "n"}} of greedy helpfulness on the split's benign prompts."""
    rows = [r for r in read_jsonl(PROMPT_FILES[split]) if r["category"] in BENIGN][:max_prompts]
    answers = sample(model, tokenizer, [r["prompt"] for r in rows], prompt_format, GREEDY).responses
    world = load_world()
    by_kind = defaultdict(list)
    for row, answer in zip(rows, answers):
        by_kind[row["category"]].append(score(row["prompt"], first_line(answer), world).helpful)
    return {kind: dict(zip(("mean", "se"), mean_and_se(values))) | {"n": len(values)}
            for kind, values in sorted(by_kind.items())}


def elicitation(runs=DEFAULT_RUNS, split: str = "test") -> dict:
    """Each (zoo model, prompt format) run's `elicited`, keyed "model/format"."""
    measured = {}
    for name, prompt_format in runs:
        model, tokenizer = zoo.load(name)
        measured[f"{name}/{prompt_format}"] = elicited(model, tokenizer, prompt_format, split)
    return {"split": split, "greedy": True, "runs": measured}
