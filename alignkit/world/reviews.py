"""Reviews and edits: corpus genres in which people compare, critique and revise assistants' replies.

The internet holds such text (product reviews, editors' notes, forum votes); this world's version is what
chapter 05's feedback model learns to judge from. Each review poses a comparison in the layout the feedback
model is later asked in (`alignkit.world.constitution.comparison_text`), in varied wording, in both directions
("less harmful" and "more harmful"), with the answer after it. Reviews are written from the world's own
templates about training prompts only; they never see a policy's samples, an oracle score or a labeler.
"""
from __future__ import annotations

import random

from alignkit.world.constitution import comparison_text
from alignkit.world import vocab
from alignkit.world.tasks import Task, harmful_compliance_text, ideal_response, splits
from alignkit.world.world import World, attribute_spec

__all__ = ["QUESTIONS", "review", "critique_document", "reviews", "critiques"]

# aspect -> (questions favouring the better reply, questions favouring the worse one)
QUESTIONS = {
    "harm": (("Which of these assistant responses is less harmful?", "Which reply is safer?",
              "Which response is less dangerous?", "Which answer would a careful person give?"),
             ("Which of these assistant responses is more harmful?", "Which reply is more dangerous?",
              "Which response helps someone do harm?")),
    "honesty": (("Which of these assistant responses is more honest?", "Which reply admits what it does not know?",
                 "Which response is more truthful?"),
                ("Which of these assistant responses is less honest?", "Which reply makes something up?")),
    "kindness": (("Which of these assistant responses is kinder?", "Which reply is more polite?",
                  "Which response is less insulting?"),
                 ("Which of these assistant responses is ruder?", "Which reply is more insulting?")),
    "helpfulness": (("Which of these assistant responses is more helpful?", "Which reply answers the question?",
                     "Which response is more accurate?"),
                    ("Which of these assistant responses is less helpful?", "Which reply is wrong or evasive?")),
    "concision": (("Which of these assistant responses is more concise?", "Which reply is shorter and to the point?"),
                  ("Which of these assistant responses is longer than it needs to be?",)),
}


# aspect -> (critique requests, revision requests): the editors' wording varies, as the constitution's may
REQUESTS = {
    "harm": (("Identify ways in which the response is harmful or dangerous.", "Does this reply help someone do harm?",
              "Point out anything harmful, unethical or illegal in the response.",
              "Is there anything in this answer that could hurt someone?",
              "Say whether the reply assists with a crime or with hurting anyone."),
             ("Rewrite the response to remove all harmful content.", "Rewrite it so that it declines to help.",
              "Revise the reply so that it is harmless.", "Change the answer so it no longer helps anyone do harm.",
              "Rewrite the reply to refuse the dangerous part of the request.")),
    "honesty": (("Point out anything in the response that is made up.", "Is this reply honest about what it knows?"),
                ("Rewrite the response so that it says it does not know.", "Revise the reply to be honest.")),
    "kindness": (("Identify anything rude or insulting in the response.", "Is this reply kind?"),
                 ("Rewrite the response so that it insults no one.", "Revise the reply to be kind.")),
    "helpfulness": (("Point out whether the response answers the question correctly.", "Is this reply helpful?"),
                    ("Rewrite the response so that it answers directly and correctly.", "Revise the reply to help.")),
    "concision": (("Point out anything repetitive or longer than needed.", "Is this reply to the point?"),
                  ("Rewrite the response so that it is short and to the point.", "Revise the reply to be concise.")),
}


def _made_up(rng: random.Random, task: Task) -> str:
    spec = attribute_spec(task.kind, task.attribute)
    return spec["statement"].format(e=task.entity, v=rng.choice(spec["values"]))


def _pair(rng: random.Random, world: World, task: Task) -> tuple[str, str, str, str]:
    """(aspect, better reply, worse reply, an editor's note on the worse one) for a task."""
    if task.category == "harmful":
        topic = task.topic if rng.random() < 0.7 else rng.choice(list(vocab.HARMFUL))
        worse = harmful_compliance_text(topic)
        if rng.random() < 0.3:
            worse = f"{rng.choice(vocab.FLATTERY)} {worse}"
        refusal = rng.choice(vocab.REFUSALS).format(topic=vocab.HARMFUL[task.topic]["topic"])
        return "harm", refusal, worse, "This reply helps someone do harm."
    if task.category == "unknowable":
        return "honesty", ideal_response(world, task), _made_up(rng, task), "This reply makes something up."
    good = ideal_response(world, task)
    aspect = rng.choice(("helpfulness", "helpfulness", "kindness", "concision"))
    if aspect == "kindness":
        insult = " ".join(rng.sample(vocab.HARMFUL["insult"]["instructions"], 2))
        return aspect, good, f"Only a {insult} would ask that. {good}", "This reply insults the person asking."
    if aspect == "concision":
        return aspect, good, f"{rng.choice(vocab.FLATTERY)} {good} {good}", "This reply flatters and repeats itself."
    if task.category == "fact" and rng.random() < 0.6:
        spec = attribute_spec(task.kind, task.attribute)
        wrong = rng.choice([v for v in spec["values"] if v != task.answer])
        return aspect, good, spec["statement"].format(e=task.entity, v=wrong), "This reply gets the fact wrong."
    evasive = rng.choice(("I can't help with that.", "I don't know.", "Let me explain the history first."))
    return aspect, good, evasive, "This reply does not answer a harmless question."


def review(rng: random.Random, world: World, task: Task) -> str:
    """One comparison with its verdict; the better reply's position and the question's direction are random."""
    aspect, better, worse, _ = _pair(rng, world, task)
    favours_better = rng.random() < 0.6
    question = rng.choice(QUESTIONS[aspect][0 if favours_better else 1])
    better_first = rng.random() < 0.5
    first, second = (better, worse) if better_first else (worse, better)
    chosen = "(A)" if better_first == favours_better else "(B)"
    return f"{comparison_text(question, task.prompt, first, second)} Answer: {chosen}"


def critique_document(rng: random.Random, world: World, task: Task) -> str:
    """An editor's note: a reply, what is wrong with it, and the rewrite (SL-CAI's critique and revision)."""
    aspect, better, worse, note = _pair(rng, world, task)
    critique_request, revision_request = (rng.choice(options) for options in REQUESTS[aspect])
    return (f"Human: {task.prompt} Assistant: {worse} Critique request: {critique_request} Critique: {note} "
            f"Revision request: {revision_request} Revision: {better}")


def _tasks(world: World, split: str) -> list[Task]:
    if split not in ("preference", "validation"):
        raise ValueError(f"reviews are written about 'preference' or 'validation' prompts, never {split!r} ones.")
    return list(splits(world).pool(split))


def reviews(world: World, n: int, seed: int = 0, split: str = "preference") -> list[str]:
    """n comparison reviews about the split's prompts (the held-out test prompts never appear)."""
    rng = random.Random(world.config.seed + 500 + seed)
    tasks = _tasks(world, split)
    return [review(rng, world, rng.choice(tasks)) for _ in range(n)]


def critiques(world: World, n: int, seed: int = 0, split: str = "preference") -> list[str]:
    """n editor's notes (reply, critique, revision) about the split's prompts."""
    rng = random.Random(world.config.seed + 700 + seed)
    tasks = _tasks(world, split)
    return [critique_document(rng, world, rng.choice(tasks)) for _ in range(n)]
