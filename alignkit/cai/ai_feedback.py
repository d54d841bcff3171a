"""Constitutional AI's two uses of a feedback model (chapter 05): critique → revision (SL-CAI) and AI
preference labels (RL-CAI / RLAIF).

    preferences = ai_preferences(feedback_model, tokenizer, constitution["harmless"], prompts, firsts, seconds)
    revised = critique_and_revise(model, tokenizer, constitution, red_team_prompts, responses, rng)

The feedback model is a language model: its inputs here are the principle's words, the prompt and the
two responses, nothing else. No oracle score or labeler choice reaches it (a test holds this), and no
rule over the response text stands in for it.

A preference is read as Bai et al. read it: the question is posed as a multiple choice, the model's
log-probabilities of answering "(A)" and "(B)" are normalised into P(A), and, because small models
prefer a position, both orders are asked and averaged: P(first better) = (P_AB(A) + P_BA(B)) / 2.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, replace

import torch

from alignkit.world.constitution import Constitution, Principle, comparison_text
from alignkit.core.generation import SampleSettings, batched_scored_logprobs, completion_logprobs, sample

__all__ = ["OPTIONS", "ANSWER_CUE", "comparison_text", "continuation_logprobs", "choice_logprobs", "choice_probabilities",
           "two_order_preference", "ai_preferences", "critique_text",
           "revision_text", "generate_continuations", "critique_and_revise", "Revision"]

OPTIONS = ("(A)", "(B)")
ANSWER_CUE = "Answer:"  # what follows a question in a document, before the chosen option


def continuation_logprobs(model, tokenizer, contexts: list[str], continuations: list[str],
                          batch_size: int = 64) -> torch.Tensor:
    """log p(continuation | context) for documents (a pretrained model's format): [N]."""
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []

    def encode(context: str, continuation: str) -> tuple[list[int], int]:
        head, tail = (tokenizer(text, add_special_tokens=False, split_special_tokens=True)["input_ids"]
                      for text in (context, continuation))
        return bos + head + tail, len(bos) + len(head)  # the ids, and where the scored continuation starts

    encoded = [encode(c, t) for c, t in zip(contexts, continuations)]
    return batched_scored_logprobs(model, encoded, tokenizer.pad_token_id, batch_size)


@torch.no_grad()
def choice_logprobs(model, tokenizer, questions: list[str], batch_size: int = 64,
                    prompt_format: str = "chat") -> torch.Tensor:
    """log p("(A)") and log p("(B)") as the answer to each question: [N, 2].

    prompt_format "chat": the question is the user's turn and the answer the assistant's (a chat model);
    "document": the question is a document followed by " Answer:" (a pretrained model, as `feedback`)."""
    n = len(questions)
    if prompt_format == "chat":
        logps = completion_logprobs(model, tokenizer, questions + questions, [OPTIONS[0]] * n + [OPTIONS[1]] * n,
                                    batch_size=batch_size)
    elif prompt_format == "document":
        contexts = [f"{q} {ANSWER_CUE}" for q in questions] * 2
        logps = continuation_logprobs(model, tokenizer, contexts, [f" {OPTIONS[0]}"] * n + [f" {OPTIONS[1]}"] * n,
                                      batch_size=batch_size)
    else:
        raise ValueError(f"prompt_format must be 'chat' or 'document', not {prompt_format!r}.")
    return torch.stack([logps[:n], logps[n:]], dim=1)


def choice_probabilities(model, tokenizer, questions: list[str], batch_size: int = 64,
                         prompt_format: str = "chat") -> torch.Tensor:
    """P("(A)") for each question, normalised over the two answers: [N]."""
    return torch.softmax(choice_logprobs(model, tokenizer, questions, batch_size, prompt_format), dim=1)[:, 0]


def two_order_preference(first_as_a: torch.Tensor, first_as_b: torch.Tensor) -> torch.Tensor:
    """P(first response better) from the option log-probs [N, 2] (columns "(A)", "(B)") of the question asked
    with the first response shown as (A), and asked again with it shown as (B): [N].

    Each order's two log-probs are normalised into a probability (a softmax over the two options only), and
    the two orders are averaged, so a preferred position cancels: (P_AB(A) + P_BA(B)) / 2."""
    return (torch.softmax(first_as_a, dim=1)[:, 0] + torch.softmax(first_as_b, dim=1)[:, 1]) / 2


@torch.no_grad()
def ai_preferences(model, tokenizer, principle: Principle, prompts: list[str], firsts: list[str],
                   seconds: list[str], batch_size: int = 64, prompt_format: str = "chat") -> torch.Tensor:
    """P(first response better than second) under `principle`, averaged over both orders: [N] in (0, 1).

    Swapping firsts and seconds gives exactly 1 - P: the position the model prefers cancels."""
    if not len(prompts) == len(firsts) == len(seconds):
        raise ValueError(f"prompts, firsts and seconds must have one entry per pair; got {len(prompts)}, "
                         f"{len(firsts)} and {len(seconds)}.")
    first_as_a = [comparison_text(principle.comparison, p, a, b) for p, a, b in zip(prompts, firsts, seconds)]
    first_as_b = [comparison_text(principle.comparison, p, b, a) for p, a, b in zip(prompts, firsts, seconds)]
    logps = choice_logprobs(model, tokenizer, first_as_a + first_as_b, batch_size, prompt_format)
    n = len(prompts)
    return two_order_preference(logps[:n], logps[n:])


def critique_text(principle: Principle, prompt: str, response: str) -> str:
    """The critique request, in the layout of the corpus's editor's notes (alignkit.world.reviews)."""
    return f"Human: {prompt} Assistant: {response} Critique request: {principle.critique}"


def revision_text(principle: Principle, prompt: str, response: str, critique: str) -> str:
    return (f"{critique_text(principle, prompt, response)} Critique: {critique} "
            f"Revision request: {principle.revision}")


# Where a document-format model's critique or revision ends: it goes on writing the editor's note otherwise.
STOP_MARKERS = (" Critique request:", " Critique:", " Revision request:", " Revision:", " Human:")


def _cut(text: str, stops: tuple[str, ...] = STOP_MARKERS) -> str:
    ends = [text.find(marker) for marker in stops if marker in text]
    return (text[:min(ends)] if ends else text).strip()


def generate_continuations(model, tokenizer, contexts: list[str], cue: str, config: SampleSettings,
                           prompt_format: str, stops: tuple[str, ...] = STOP_MARKERS) -> list[str]:
    """What the model writes after each context: a chat model answers it as a user turn; a document model
    continues `context + cue` and is cut at the first of `stops` (the next section of an editor's note)."""
    if prompt_format == "chat":
        return sample(model, tokenizer, contexts, "chat", config).responses
    if prompt_format != "document":
        raise ValueError(f"prompt_format must be 'chat' or 'document', not {prompt_format!r}.")
    torch.manual_seed(config.seed)
    device, out = next(model.parameters()).device, []
    greedy = config.temperature == 0
    for start in range(0, len(contexts), config.batch_size):
        texts = [(tokenizer.bos_token or "") + f"{c} {cue}" for c in contexts[start:start + config.batch_size]]
        enc = tokenizer(texts, return_tensors="pt", padding=True, padding_side="left",
                        add_special_tokens=False).to(device)
        generated = model.generate(**enc, max_new_tokens=config.max_new_tokens, do_sample=not greedy,
                                   temperature=None if greedy else config.temperature, top_k=0, top_p=1.0,
                                   pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                                   use_cache=True)
        width = enc.input_ids.shape[1]
        out += [_cut(tokenizer.decode(row[width:], skip_special_tokens=True), stops) for row in generated.cpu()]
    return out


@dataclass
class Revision:
    prompt: str
    principle: str  # the id of the principle drawn for this example
    responses: list[str]  # the original, then one per round
    critiques: list[str]  # one per round

    @property
    def final(self) -> str:
        return self.responses[-1]


@torch.no_grad()
def critique_and_revise(model, tokenizer, constitution: Constitution, prompts: list[str], responses: list[str],
                        rng: random.Random, rounds: int = 1,
                        sampling: SampleSettings = SampleSettings(temperature=0.0),
                        prompt_format: str = "chat") -> list[Revision]:
    """SL-CAI: per example draw a principle, generate a critique of the response, then a revision; repeat.

    Generation is batched over examples (one call per round and step); greedy by default so a revision is
    the model's best reading of the request. prompt_format: "chat" for a chat model, "document" for one that
    learned editing from documents (the zoo's `feedback`)."""
    if len(prompts) != len(responses):
        raise ValueError(f"one response per prompt: got {len(prompts)} prompts and {len(responses)} responses.")
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, not {rounds}.")
    drawn = [constitution.draw(rng) for _ in prompts]
    out = [Revision(p, d.id, [r], []) for p, d, r in zip(prompts, drawn, responses)]
    for round_index in range(rounds):
        config = replace(sampling, seed=sampling.seed + round_index)
        asks = [critique_text(d, r.prompt, r.final) for d, r in zip(drawn, out)]
        critiques = generate_continuations(model, tokenizer, asks, "Critique:", config, prompt_format)
        asks = [revision_text(d, r.prompt, r.final, c) for d, r, c in zip(drawn, out, critiques)]
        revisions = generate_continuations(model, tokenizer, asks, "Revision:", config, prompt_format)
        for record, critique, revision in zip(out, critiques, revisions):
            record.critiques.append(critique)
            record.responses.append(revision)
    return out
