"""Self-instruct's data side (Wang et al. 2022): prompts built from seed tasks, parsing what the model
proposes, and the filter that keeps only valid, novel instructions (chapter 05).

    prompt = task_prompt(seeds, generated, rng)          # 6 seed + 2 generated tasks, as the paper
    proposed = parse_tasks(model_output)                 # [Task(instruction, answer), ...]
    kept, pool = keep_novel(proposed, pool)              # ROUGE-L < 0.7 to everything pooled, and valid

The paper keeps a generated instruction only if its ROUGE-L F-measure to every instruction already in the
pool is below 0.7, and drops instructions that are too short or too long or that a text model cannot do.
"""
from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from alignkit.infra.errors import AlignkitError
from alignkit.infra.paths import data_dir

__all__ = ["Task", "NOVELTY_THRESHOLD", "rouge_l", "is_valid", "keep_novel", "task_prompt", "parse_tasks",
           "load_seed_tasks", "propose_tasks", "task_rows"]

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


SEED_TASKS_PATH = data_dir() / "self_instruct_seeds.json"


def load_seed_tasks(path: str | Path | None = None) -> list[Task]:
    """The hand-written seed tasks (data/self_instruct_seeds.json: a list of {instruction, answer})."""
    path = Path(path) if path is not None else SEED_TASKS_PATH
    try:
        rows = json.loads(path.read_text())
        return [Task(row["instruction"], row["answer"]) for row in rows]
    except FileNotFoundError:
        raise AlignkitError(f"{path} is missing: restore it from the repository (git checkout -- {path.name}).") from None
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise AlignkitError(f"{path} must be a JSON list of {{\"instruction\": ..., \"answer\": ...}} objects "
                            f"({error}).") from None


@dataclass
class Proposals:
    kept: list[Task] = field(default_factory=list)
    proposed: int = 0  # tasks parsed from the model's text
    invalid: int = 0
    near_duplicates: int = 0
    rounds: int = 0


def propose_tasks(model, tokenizer, seeds: list[Task], n_tasks: int, rng: random.Random, batch_size: int = 64,
                  max_rounds: int = 30, temperature: float = 1.0) -> Proposals:
    """Self-instruct's loop with a document model: prompt with 6 seed + 2 generated tasks, take the first task
    it writes, keep it if valid and novel, until `n_tasks` are kept or `max_rounds` batches are spent."""
    from alignkit.cai.ai_feedback import generate_continuations
    from alignkit.core.generation import SampleSettings

    out, pool = Proposals(), [t.instruction for t in seeds]
    while len(out.kept) < n_tasks and out.rounds < max_rounds:
        contexts = [task_prompt(seeds, out.kept, rng).removesuffix(" Task:") for _ in range(batch_size)]
        config = SampleSettings(temperature=temperature, max_new_tokens=48, batch_size=batch_size,
                              seed=rng.randrange(2 ** 31))
        texts = generate_continuations(model, tokenizer, contexts, "Task:", config, "document", stops=(" Task:",))
        for text in texts:
            for task in parse_tasks(text)[:1]:
                out.proposed += 1
                if not is_valid(task):
                    out.invalid += 1
                    continue
                kept, pool = keep_novel([task], pool)
                out.near_duplicates += not kept
                out.kept += kept[: n_tasks - len(out.kept)]
        out.rounds += 1
    return out


def task_rows(tasks: list[Task]) -> list[dict]:
    """Tasks as SFT conversations: the instruction as the user's turn, the answer as the assistant's."""
    return [{"messages": [{"role": "user", "content": t.instruction}, {"role": "assistant", "content": t.answer}]}
            for t in tasks]
