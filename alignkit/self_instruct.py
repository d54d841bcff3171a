"""Self-instruct's data side (Wang et al. 2022): prompts built from seed tasks, parsing what the model
proposes, and the filter that keeps only valid, novel instructions (chapter 05).

    prompt = task_prompt(seeds, generated, rng)          # 6 seed + 2 generated tasks, as the paper
    proposed = parse_tasks(model_output)                 # [Task(instruction, answer), ...]
    kept, pool = keep_novel(proposed, pool)              # ROUGE-L < 0.7 to everything pooled, and valid

The paper keeps a generated instruction only if its ROUGE-L F-measure to every instruction already in the
pool is below 0.7, and drops instructions that are too short or too long or that a text model cannot do.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass

__all__ = ["Task", "NOVELTY_THRESHOLD", "rouge_l", "is_valid", "keep_novel", "task_prompt", "parse_tasks"]

NOVELTY_THRESHOLD = 0.7  # the paper's ROUGE-L cut-off
MIN_WORDS, MAX_WORDS = 3, 40  # instructions in the toy world are single questions or requests
_WORD = re.compile(r"[a-z0-9]+")
_TASK = re.compile(r"Task:\s*(.+?)\s*Answer:\s*(.+?)(?=\s*Task:|$)", re.DOTALL)


@dataclass(frozen=True)
class Task:
    instruction: str
    answer: str


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _lcs_length(a: list[str], b: list[str]) -> int:
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F-measure over lower-cased words: 1 for the same words in the same order, 0 for none shared."""
    a, b = _words(candidate), _words(reference)
    if not a or not b:
        return 0.0
    common = _lcs_length(a, b)
    if common == 0:
        return 0.0
    precision, recall = common / len(a), common / len(b)
    return 2 * precision * recall / (precision + recall)


def is_valid(task: Task) -> bool:
    """The paper's heuristics at toy scale: a length in range, an answer, and text that starts like a request."""
    words = _words(task.instruction)
    return (MIN_WORDS <= len(words) <= MAX_WORDS and bool(_words(task.answer))
            and task.instruction.strip()[:1].isalpha() and "Task:" not in task.answer)


def keep_novel(proposed: list[Task], pool: list[str],
               threshold: float = NOVELTY_THRESHOLD) -> tuple[list[Task], list[str]]:
    """The valid tasks whose instruction's ROUGE-L to every pooled instruction is below `threshold`.

    Returns (kept tasks, the pool with their instructions added); a kept task joins the pool at once, so
    two near-duplicates proposed together keep only the first."""
    pool, kept = list(pool), []
    for task in proposed:
        if is_valid(task) and all(rouge_l(task.instruction, seen) < threshold for seen in pool):
            kept.append(task)
            pool.append(task.instruction)
    return kept, pool


def _block(task: Task) -> str:
    return f"Task: {task.instruction} Answer: {task.answer}"


def task_prompt(seeds: list[Task], generated: list[Task], rng: random.Random, n_seed: int = 6,
                n_generated: int = 2) -> str:
    """In-context tasks for the model to continue: n_seed drawn from the seeds and n_generated from the
    model's own earlier tasks (the paper's 6 + 2), shuffled, ending where a new task begins."""
    shown = rng.sample(seeds, min(n_seed, len(seeds))) + rng.sample(generated, min(n_generated, len(generated)))
    rng.shuffle(shown)
    return " ".join(_block(t) for t in shown) + " Task:"


def parse_tasks(text: str) -> list[Task]:
    """Tasks in generated text, 'Task: ... Answer: ...' blocks; the prompt's trailing 'Task:' may be missing."""
    text = text.strip()
    if text and not text.startswith("Task:"):
        text = "Task: " + text
    return [Task(" ".join(i.split()), " ".join(a.split())) for i, a in _TASK.findall(text)]
