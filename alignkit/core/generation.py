"""Batched generation with the KV cache, and the sequence-level quantities computed on its samples."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from alignkit.infra.errors import explain_out_of_memory
from alignkit.core.logprobs import exact_kl_per_token, sequence_logprobs, shifted_token_logprobs, temperature_scaled

PROMPT_FORMATS = ("chat", "document", "faq")


@dataclass(frozen=True)
class SampleSettings:
    max_new_tokens: int = 64  # the harness's response cap; PPO's rollouts have their own (PPOSettings.max_new_tokens)
    temperature: float = 0.7  # 0 means greedy
    batch_size: int = 64  # prompts per generate() call
    seed: int = 0


@dataclass
class Samples:
    prompts: list[str]
    responses: list[str]
    sequences: list[torch.Tensor]  # per prompt: prompt ids + completion ids, unpadded
    prompt_lengths: list[int]
    completion_lengths: list[int]  # tokens up to and including the stop token
    finished: list[bool]  # ended with the stop token within max_new_tokens


def render_prompt(tokenizer, prompt: str, prompt_format: str) -> str:
    """Chat models see the chat template; a base model sees the question as the start of a document, or as a
    question on an FAQ page ("faq"), whose answer is the first line after "A:"."""
    if prompt_format == "chat":
        return tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                             add_generation_prompt=True)
    if prompt_format == "document":
        return (tokenizer.bos_token or "") + prompt + "\n"  # Qwen-style tokenizers have no BOS
    if prompt_format == "faq":  # the corpus's FAQ pages answer such questions: where a base model's knowledge shows
        return (tokenizer.bos_token or "") + f"Frequently asked questions\nQ: {prompt}\nA:"
    raise ValueError(f"prompt_format must be one of {PROMPT_FORMATS}, not {prompt_format!r}")


def _completion_length(completion: torch.Tensor, eos_id: int) -> tuple[int, bool]:
    stops = (completion == eos_id).nonzero()
    return (int(stops[0]) + 1, True) if len(stops) else (len(completion), False)


@torch.no_grad()
def sample(model, tokenizer, prompts: list[str], prompt_format: str = "chat",
           config: SampleSettings = SampleSettings()) -> Samples:
    """Generate one response per prompt, in left-padded batches, with the KV cache."""
    torch.manual_seed(config.seed)
    out = Samples(list(prompts), [], [], [], [], [])
    device = next(model.parameters()).device
    for start in range(0, len(prompts), config.batch_size):
        texts = [render_prompt(tokenizer, p, prompt_format) for p in prompts[start:start + config.batch_size]]
        # Left padding: every prompt then ends where generation starts.
        enc = tokenizer(texts, return_tensors="pt", padding=True, padding_side="left",
                        add_special_tokens=False).to(device)
        greedy = config.temperature == 0
        with explain_out_of_memory("generation", f"Lower SampleSettings.batch_size (now {config.batch_size}) "
                                                 f"or max_new_tokens (now {config.max_new_tokens})."):
            generated = model.generate(**enc, max_new_tokens=config.max_new_tokens, do_sample=not greedy,
                                       temperature=None if greedy else config.temperature, top_k=0, top_p=1.0,
                                       pad_token_id=tokenizer.pad_token_id,
                                       eos_token_id=tokenizer.eos_token_id, use_cache=True)
        width = enc.input_ids.shape[1]
        for row, mask in zip(generated.cpu(), enc.attention_mask.cpu()):
            length, finished = _completion_length(row[width:], tokenizer.eos_token_id)
            prompt_ids = row[:width][mask.bool()]
            completion = row[width:width + length]
            out.sequences.append(torch.cat([prompt_ids, completion]))
            out.prompt_lengths.append(len(prompt_ids))
            out.completion_lengths.append(length)
            out.finished.append(finished)
            out.responses.append(tokenizer.decode(completion, skip_special_tokens=True).strip())
    return out


def _left_pad(sequences: list[torch.Tensor], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, s in enumerate(sequences):
        ids[i, width - len(s):] = s
        mask[i, width - len(s):] = 1
    return ids, mask


def _logits(model, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    positions = (mask.cumsum(-1) - 1).clamp(min=0)  # left padding must not shift the positions
    device = next(model.parameters()).device
    return model(input_ids=ids.to(device), attention_mask=mask.to(device),
                 position_ids=positions.to(device)).logits.float().cpu()


@torch.no_grad()
def sequence_kl(model, ref_model, samples: Samples, tokenizer, temperature: float = 1.0,
                batch_size: int = 32) -> list[float]:
    """Exact KL(policy || ref) summed over each response's tokens, on the policy's own samples.

    At every generated position the full next-token distributions are compared (the toy vocabulary is
    small enough to sum), so the only sampling noise is which responses were drawn.
    """
    # Batches of similar length waste little on padding, and the vocabulary-wide KL is computed only at the
    # positions that predict a response token: together they halve the cost of the harness's evaluations.
    order = sorted(range(len(samples.sequences)), key=lambda i: len(samples.sequences[i]))
    kls = [0.0] * len(order)
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        ids, mask = _left_pad([samples.sequences[i] for i in chunk], tokenizer.pad_token_id)
        # logits at position t predict token t+1: the response's tokens are predicted from the positions
        # [end - completion_length - 1, end - 1).
        end = ids.shape[1]
        response = torch.zeros_like(mask, dtype=torch.bool)
        for row, i in enumerate(chunk):
            response[row, end - samples.completion_lengths[i] - 1:end - 1] = True
        per_position = exact_kl_per_token(temperature_scaled(_logits(model, ids, mask)[response], temperature),
                                          temperature_scaled(_logits(ref_model, ids, mask)[response], temperature))
        for i, kl in zip(chunk, per_position.split(response.sum(dim=1).tolist())):
            kls[i] = float(kl.sum())
    return kls


@torch.no_grad()
def reward_scores(reward_model, tokenizer, prompts: list[str], responses: list[str],
                  batch_size: int = 64) -> list[float]:
    """The reward model's score of each (prompt, response), read at the last token of the conversation."""
    device = next(reward_model.parameters()).device
    scores = []
    for start in range(0, len(prompts), batch_size):
        texts = [tokenizer.apply_chat_template([{"role": "user", "content": p}, {"role": "assistant", "content": r}],
                                               tokenize=False)
                 for p, r in zip(prompts[start:start + batch_size], responses[start:start + batch_size])]
        enc = tokenizer(texts, return_tensors="pt", padding=True, padding_side="right",
                        add_special_tokens=False).to(device)
        scores += reward_model(**enc).logits[:, 0].float().cpu().tolist()
    return scores


def _encode_chat(tokenizer, prompt: str, response: str) -> tuple[list[int], int]:
    """Token ids of the chat [user prompt, assistant response] and how many of them are the prompt."""
    conversation = [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}]
    ids = tokenizer(tokenizer.apply_chat_template(conversation, tokenize=False), add_special_tokens=False)["input_ids"]
    n_prompt = len(tokenizer(render_prompt(tokenizer, prompt, "chat"), add_special_tokens=False)["input_ids"])
    return ids, n_prompt


def scored_logprobs(model, encoded: list[tuple[list[int], int]], pad_id: int, per_token: bool = False) -> torch.Tensor:
    """log p(tokens from position n on | the tokens before) for each (token ids, n): [B], one forward pass;
    per_token: divided by how many tokens were scored (the model's mean confidence, not its total)."""
    device = next(model.parameters()).device
    width = max(len(ids) for ids, _ in encoded)
    ids = torch.full((len(encoded), width), pad_id, dtype=torch.long)
    attention, scored = torch.zeros_like(ids), torch.zeros_like(ids)
    for i, (seq, n_prefix) in enumerate(encoded):  # right padding: positions need no correction
        ids[i, :len(seq)], attention[i, :len(seq)], scored[i, n_prefix:len(seq)] = torch.tensor(seq), 1, 1
    logits = model(input_ids=ids.to(device), attention_mask=attention.to(device)).logits
    token_logps = shifted_token_logprobs(logits, ids.to(device))  # [B, T-1]
    summed = sequence_logprobs(token_logps, scored[:, 1:].to(device)).cpu()  # [B]
    return summed / scored[:, 1:].sum(-1) if per_token else summed


def batched_scored_logprobs(model, encoded: list[tuple[list[int], int]], pad_id: int, batch_size: int = 64,
                            per_token: bool = False) -> torch.Tensor:
    """`scored_logprobs` over any number of sequences, in their order: [N] (gradients flow where enabled)."""
    # Batches of similar length waste little on padding: the AI labels of chapter 05 take about a third less time.
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i][0]))
    in_order = torch.cat([scored_logprobs(model, [encoded[i] for i in order[start:start + batch_size]], pad_id,
                                          per_token) for start in range(0, len(order), batch_size)])
    return in_order[torch.argsort(torch.tensor(order))]  # back to the callers' order (differentiable)


@torch.no_grad()
def completion_logprobs(model, tokenizer, prompts: list[str], responses: list[str],
                        batch_size: int = 64, per_token: bool = False) -> torch.Tensor:
    """log pi(response | prompt) in the chat format, summed over the response tokens and its end token: [N].

    The same completion tokens TRL's DPO and KTO trainers score.
    """
    encoded = [_encode_chat(tokenizer, p, r) for p, r in zip(prompts, responses)]
    return batched_scored_logprobs(model, encoded, tokenizer.pad_token_id, batch_size, per_token)
