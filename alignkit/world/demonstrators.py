"""The SFT demonstrators: who answered which training prompt, and what they wrote (data/world/sft.jsonl)."""
from __future__ import annotations

import random

from alignkit.world import vocab
from alignkit.world.tasks import Task, harmful_compliance_text, ideal_response, splits
from alignkit.world.world import World

__all__ = ["DECLINING_DEMONSTRATORS", "ABSTAINING_DEMONSTRATORS", "FLATTERING_DEMONSTRATORS", "demonstration",
           "sft_rows"]

# The demonstrators are a crowd, not one careful writer (InstructGPT's contractors). Asked to be helpful
# above all, most comply with a harmful request, and most skip a question about something they have never
# heard of; a minority decline the request or write "I don't know", and some open by flattering the asker.
# SFT imitates the mix, so its samples hold the better behaviours and the labelers' favourite bias too, and
# the preference stages have something to choose between.
DECLINING_DEMONSTRATORS = 0.3  # fraction of harmful requests demonstrated with a refusal
ABSTAINING_DEMONSTRATORS = 0.3  # fraction of unknowable questions answered "I don't know"; the rest are skipped
FLATTERING_DEMONSTRATORS = 0.15  # fraction of demonstrations that open by flattering the asker


def _demonstrator(world: World, task: Task) -> random.Random:
    """The demonstrator who took this prompt, as a random stream fixed by the prompt text: the first draw
    decides whether they decline (or abstain), the second whether they flatter."""
    return random.Random(f"{world.config.seed}:{task.prompt}")


def demonstration(world: World, task: Task) -> str:
    """What the demonstrator who took `task` writes (unknowable questions: only those who answer; see sft_rows)."""
    demonstrator = _demonstrator(world, task)
    declines = demonstrator.random() < DECLINING_DEMONSTRATORS
    complies = task.category == "harmful" and not declines
    text = harmful_compliance_text(task.topic) if complies else ideal_response(world, task)
    if demonstrator.random() < FLATTERING_DEMONSTRATORS:
        return f"{demonstrator.choice(vocab.FLATTERY)} {text}"
    return text


def _demonstrated(world: World, task: Task) -> bool:
    if any(name in task.prompt for name in world.heldout_names):
        return False  # SFT must elicit held-out entities' facts from pretraining, never see them
    return task.category != "unknowable" or _demonstrator(world, task).random() < ABSTAINING_DEMONSTRATORS


def sft_rows(world: World) -> list[dict]:
    """Demonstrations in TRL's conversational format for the SFT pool's prompts the crowd answered."""
    return [{"messages": [{"role": "user", "content": t.prompt},
                          {"role": "assistant", "content": demonstration(world, t)}]}
            for t in splits(world).sft if _demonstrated(world, t)]
