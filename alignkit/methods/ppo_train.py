"""PPO-RLHF, the shell: four models, rollouts, the visible training loop.

    policy, ref_model, reward_model, value_model = ppo_models(sft_model, reward_model)
    log = train_ppo(policy, ref_model, reward_model, value_model, tokenizer, prompts, PPOSettings(steps=20))

One PPO step = a rollout (sample a response per prompt with the KV cache, then ONE forward pass per
model for log-probs, reference log-probs, values and the reward model's score) and an update
(`ppo_epochs` passes of minibatch gradient steps on the clipped losses of `alignkit.methods.ppo`).
Dropout is off everywhere (the models stay in eval mode; gradients flow all the same).
The oracle's gold reward is only *logged*: it never enters a reward, an advantage or a loss.
"""
from __future__ import annotations

import copy
import os
import time
from dataclasses import dataclass, replace

import torch
from torch import nn
from tqdm.auto import tqdm

from alignkit.infra.errors import explain_out_of_memory
from alignkit.core.generation import SampleSettings, reward_scores, sample
from alignkit.core.logprobs import exact_kl_per_token, temperature_scaled, token_logprobs
from alignkit.core.lora import ATTENTION, LoraSettings, inject_adapters, with_adapters
from alignkit.methods.ppo import (PPOSettings, compute_gae, kl_controller, kl_penalized_rewards, masked_mean, per_token_kl,
                          ppo_loss, scores_with_eos_penalty, value_loss, whiten)
from alignkit.core.trl_driver import StepHook
from alignkit.world.oracle import gold

__all__ = [
    "ValueModel",
    "ppo_models",
    "lora_policy",
    "setup_memory_bytes",
    "compare_memory",
    "Rollout",
    "rollout",
    "response_logits",
    "response_values",
    "advantages_and_returns",
    "ppo_update",
    "RewardProbe",
    "train_ppo",
]


class ValueModel(nn.Module):
    """V(s_t) at every position: a sequence classifier's body with its `score` head applied to every token.

    Initialised from the reward model (InstructGPT), so the value at the last token starts as the RM's score.
    """

    def __init__(self, classifier):
        super().__init__()
        self.classifier = classifier  # an AutoModelForSequenceClassification with num_labels = 1

    def forward(self, input_ids, attention_mask, position_ids=None) -> torch.Tensor:
        """input_ids, attention_mask [B, L] -> values [B, L] (float32)."""
        hidden = self.classifier.base_model(input_ids=input_ids, attention_mask=attention_mask,
                                            position_ids=position_ids).last_hidden_state  # [B, L, H]
        return self.classifier.score(hidden).squeeze(-1).float()


def _frozen(model):
    model.requires_grad_(False)
    return model.eval()


def ppo_models(sft_model, reward_model, lora: LoraSettings | None = None):
    """(policy, ref_model, reward_model, value_model): copies, so `sft_model` and `reward_model` stay as they were.

    The policy and value model train; the reference (the SFT model) and the reward model are frozen.
    lora: the policy is `lora_policy` (ref_model is None: its adapter-free backbone is the reference) and
    the value model trains adapters and its score head only.
    """
    if lora is not None:
        value_model = ValueModel(inject_adapters(copy.deepcopy(reward_model), lora, trainable=("score",))).eval()
        return lora_policy(sft_model, lora), None, _frozen(copy.deepcopy(reward_model)), value_model
    policy = copy.deepcopy(sft_model).eval().requires_grad_(True)
    value_model = ValueModel(copy.deepcopy(reward_model)).eval().requires_grad_(True)
    return policy, _frozen(copy.deepcopy(sft_model)), _frozen(copy.deepcopy(reward_model)), value_model


def lora_policy(sft_model, settings: LoraSettings = LoraSettings(r=8, alpha=16, target_modules=ATTENTION),
                r: int | None = None):
    """One backbone for policy and reference: LoRA adapters on (policy) or off (`with m.disable_adapter():`).

    Pass the result as `policy` and `ref_model=None` to `train_ppo`. Only the adapters train. r overrides settings.r.
    """
    settings = settings if r is None else replace(settings, r=r)
    return with_adapters(copy.deepcopy(sft_model), settings).eval()


def setup_memory_bytes(*models) -> dict:
    """Bytes for a PPO setup's weights plus gradients and AdamW's two moments of the trainable ones.

    A tensor shared between models (a LoRA backbone serving policy and reference) is counted once.
    """
    tensors = {t.data_ptr(): t for m in models for t in [*m.parameters(), *m.buffers()]}
    weights = sum(t.numel() * t.element_size() for t in tensors.values())
    trainable = sum(t.numel() * 4 for t in tensors.values() if t.requires_grad)  # float32 per copy
    return {"weights": weights, "gradients": trainable, "adam_moments": 2 * trainable,
            "total": weights + 3 * trainable}


def compare_memory(sft_model, reward_model, lora_r: int = 8) -> dict[str, dict]:
    """Memory of the four-model setup vs the LoRA setup (shared policy/reference backbone)."""
    four = ppo_models(sft_model, reward_model)
    shared = lora_policy(sft_model, r=lora_r)
    return {"four models": setup_memory_bytes(*four), "LoRA": setup_memory_bytes(shared, four[2], four[3])}


# --- rollouts --------------------------------------------------------------------------------


@dataclass
class Rollout:
    """One PPO batch. P = prompt width (left-padded), T = response width (right-padded)."""

    prompts: list[str]
    responses: list[str]
    input_ids: torch.Tensor  # [B, P + T]
    attention_mask: torch.Tensor  # [B, P + T]
    prompt_width: int  # P: response token t sits at column P + t and is predicted from column P + t - 1
    completion_mask: torch.Tensor  # [B, T] float, 1 on response tokens (EOS included)
    logprobs: torch.Tensor  # [B, T] temperature-scaled log-probs of the sampled tokens under the policy
    ref_logprobs: torch.Tensor  # [B, T] the same under the reference
    exact_kl: torch.Tensor  # [B, T] exact per-token KL(policy || ref), summed over the vocabulary
    entropy: torch.Tensor  # [B, T] policy entropy at each response position
    values: torch.Tensor  # [B, T] V(prompt + response[:t])
    rm_scores: torch.Tensor  # [B] the reward model's score
    scores: torch.Tensor  # [B] rm_scores + missing_eos_penalty where the response has no EOS
    finished: torch.Tensor  # [B] bool: the response ended with EOS


def _pack(samples, pad_id: int):
    """Prompts left-padded to P, responses right-padded to T: every response starts at column P."""
    width_p, width_t = max(samples.prompt_lengths), max(samples.completion_lengths)
    ids = torch.full((len(samples.sequences), width_p + width_t), pad_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, (seq, p, c) in enumerate(zip(samples.sequences, samples.prompt_lengths, samples.completion_lengths)):
        ids[i, width_p - p:width_p + c], mask[i, width_p - p:width_p + c] = seq, 1
    return ids, mask, width_p, mask[:, width_p:].float()


def _forward_kwargs(model, input_ids, attention_mask) -> dict:
    device = next(model.parameters()).device
    positions = (attention_mask.cumsum(-1) - 1).clamp(min=0)  # left padding must not shift positions
    return {"input_ids": input_ids.to(device), "attention_mask": attention_mask.to(device),
            "position_ids": positions.to(device)}


def response_logits(model, input_ids, attention_mask, prompt_width: int, temperature: float) -> torch.Tensor:
    """Temperature-scaled logits that predict the response tokens: [B, P + T] -> [B, T, V]."""
    logits = model(**_forward_kwargs(model, input_ids, attention_mask)).logits[:, prompt_width - 1:-1]
    return temperature_scaled(logits.float(), temperature)


def response_values(value_model, input_ids, attention_mask, prompt_width: int) -> torch.Tensor:
    """V of the state before each response token: [B, P + T] -> [B, T]."""
    return value_model(**_forward_kwargs(value_model, input_ids, attention_mask))[:, prompt_width - 1:-1]


def _reference_logits(policy, ref_model, *args):
    if ref_model is not None:
        return response_logits(ref_model, *args)
    with policy.disable_adapter():  # LoRA: the backbone without its adapters is the SFT model
        return response_logits(policy, *args)


@torch.no_grad()
def rollout(policy, ref_model, reward_model, value_model, tokenizer, prompts: list[str], settings: PPOSettings,
            seed: int = 0) -> Rollout:
    """Sample one response per prompt (batched, KV cache), then one forward pass per model."""
    sampling = SampleSettings(max_new_tokens=settings.max_new_tokens, temperature=settings.temperature,
                              batch_size=len(prompts), seed=seed)
    samples = sample(policy, tokenizer, prompts, "chat", sampling)
    ids, mask, width, completion_mask = _pack(samples, tokenizer.pad_token_id)
    args = (ids, mask, width, settings.temperature)
    logits, ref_logits = response_logits(policy, *args), _reference_logits(policy, ref_model, *args)  # [B, T, V]
    device = logits.device
    labels = ids[:, width:].to(device).masked_fill(completion_mask.to(device) == 0, -100)  # [B, T]
    logps = torch.log_softmax(logits, dim=-1)
    rm_scores = torch.tensor(reward_scores(reward_model, tokenizer, prompts, samples.responses), device=device)
    finished = torch.tensor(samples.finished, device=device)
    return Rollout(prompts, samples.responses, ids, mask, width, completion_mask.to(device),
                   token_logprobs(logits, labels), token_logprobs(ref_logits, labels),
                   exact_kl_per_token(logits, ref_logits), -(logps.exp() * logps).sum(-1),
                   response_values(value_model, ids, mask, width), rm_scores,
                   scores_with_eos_penalty(rm_scores, finished, settings.missing_eos_penalty), finished)


# --- the update ------------------------------------------------------------------------------


def advantages_and_returns(batch: Rollout, kl_coef: float, settings: PPOSettings):
    """Per-token rewards -> GAE -> whitened advantages. Returns (rewards, advantages, returns), each [B, T]."""
    mask = batch.completion_mask
    rewards = kl_penalized_rewards(batch.logprobs, batch.ref_logprobs, batch.scores, mask, kl_coef,
                                   settings.kl_estimator, batch.exact_kl)
    if settings.whiten_rewards:
        rewards = whiten(rewards, mask, shift_mean=False)
    advantages, returns = compute_gae(rewards, batch.values, mask, settings.gamma, settings.lam)
    return rewards, whiten(advantages, mask), returns


def ppo_update(policy, value_model, optimizer, batch: Rollout, advantages, returns, settings: PPOSettings,
               generator: torch.Generator) -> dict:
    """`ppo_epochs` passes of shuffled minibatch steps on policy loss + vf_coef * value loss; mean stats."""
    history = []
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    for _ in range(settings.ppo_epochs):
        for idx in torch.randperm(batch.input_ids.shape[0], generator=generator).split(settings.minibatch_size):
            args = (batch.input_ids[idx], batch.attention_mask[idx], batch.prompt_width)
            logits = response_logits(policy, *args, settings.temperature)  # [b, T, V], with grad
            mask = batch.completion_mask[idx]
            labels = batch.input_ids[idx, batch.prompt_width:].to(logits.device).masked_fill(mask == 0, -100)
            pg_loss, stats = ppo_loss(token_logprobs(logits, labels), batch.logprobs[idx], advantages[idx], mask,
                                      settings.clip_range)
            vf_loss, vf_stats = value_loss(response_values(value_model, *args), batch.values[idx], returns[idx],
                                           mask, settings.clip_range_value)
            optimizer.zero_grad(set_to_none=True)
            (pg_loss + settings.vf_coef * vf_loss).backward()
            torch.nn.utils.clip_grad_norm_(parameters, settings.max_grad_norm)
            optimizer.step()
            history.append({"policy_loss": pg_loss.detach(), "value_loss": vf_loss.detach(), **stats, **vf_stats})
    return {key: sum(float(h[key]) for h in history) / len(history) for key in history[0]}


class RewardProbe:
    """The reward model's score of the policy's answers to one fixed set of prompts, every `every` steps.

    A rollout's mean RM score changes with its prompts as much as with the policy; on the same prompts,
    answered greedily, the score moves only when the policy does. `scores[step]` holds the per-prompt scores
    (step 0: before training), so a start-versus-end difference can be paired prompt by prompt.
    """

    def __init__(self, prompts: list[str], every: int = 5, max_new_tokens: int = 48):
        if every < 1 or not prompts:
            raise ValueError(f"a probe needs prompts and every >= 1, got {len(prompts)} prompts, every={every}")
        self.prompts, self.every = list(prompts), every
        self.sampling = SampleSettings(max_new_tokens=max_new_tokens, temperature=0.0, batch_size=len(prompts))
        self.scores: dict[int, list[float]] = {}

    def due(self, step: int, last_step: int) -> bool:
        return step % self.every == 0 or step == last_step

    @torch.no_grad()
    def measure(self, step: int, policy, reward_model, tokenizer) -> float:
        """Answer every probe prompt greedily (KV cache), score the answers; the mean RM score."""
        responses = sample(policy, tokenizer, self.prompts, "chat", self.sampling).responses
        self.scores[step] = reward_scores(reward_model, tokenizer, self.prompts, responses)
        return sum(self.scores[step]) / len(self.prompts)


def _prompt_batches(prompts: list[str], batch_size: int, seed: int):
    """Endless batches of prompts: a fresh shuffle every pass, seeded."""
    generator = torch.Generator().manual_seed(seed)
    while True:
        order = torch.randperm(len(prompts), generator=generator).tolist()
        for start in range(0, len(order) - batch_size + 1, batch_size):
            yield [prompts[i] for i in order[start:start + batch_size]]


def train_ppo(policy, ref_model, reward_model, value_model, tokenizer, prompts: list[str],
              settings: PPOSettings = PPOSettings(), on_step: StepHook | None = None, gold_fn=None,
              probe: RewardProbe | None = None) -> list[dict]:
    """The PPO-RLHF loop, `settings.steps` times: rollout, rewards, GAE, update; one logged dict per step.
    Trains policy and value model.

    ref_model=None: the policy is a LoRA model (`lora_policy`) whose adapter-free backbone is the reference.
    on_step(row): called after each step with that step's logged dict, as TRL trainers' hook is (a LivePlot
    draws it; `experiments.common.every` evaluates every n steps); it replaces the progress bar.
    gold_fn(prompt, response) -> float, default the oracle's gold reward: logged only, never optimised.
    probe: a `RewardProbe`, measured before training (a {"step": 0, "probe_rm_score"} row for on_step only)
    and on its steps, which log `probe_rm_score`; measured only, never optimised.
    """
    gold_fn = gold_fn or gold
    if len(prompts) < settings.batch_size:
        raise ValueError(f"need at least batch_size={settings.batch_size} prompts, got {len(prompts)}")
    trainable = [p for m in (policy, value_model) for p in m.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=settings.learning_rate, eps=1e-5, weight_decay=0.0)
    controller, generator = kl_controller(settings), torch.Generator().manual_seed(settings.seed)
    batches, log = _prompt_batches(prompts, settings.batch_size, settings.seed), []
    # A bar on a terminal or in a notebook; none with a hook, in logs and CI, or under TQDM_DISABLE.
    quiet = on_step is not None or bool(os.environ.get("TQDM_DISABLE"))
    bar = tqdm(range(1, settings.steps + 1), desc="PPO", disable=True if quiet else None)
    if probe is not None:
        start = probe.measure(0, policy, reward_model, tokenizer)
        if on_step is not None:
            on_step({"step": 0, "probe_rm_score": start})
    for step in bar:
        started = time.perf_counter()
        with explain_out_of_memory("PPO rollout", f"Lower PPOSettings.batch_size (now {settings.batch_size}) "
                                                  f"or max_new_tokens (now {settings.max_new_tokens})."):
            batch = rollout(policy, ref_model, reward_model, value_model, tokenizer, next(batches), settings,
                            seed=settings.seed * 100_003 + step)  # distinct across steps and seeds
        rolled = time.perf_counter()
        kl_coef = controller.value
        _, advantages, returns = advantages_and_returns(batch, kl_coef, settings)
        with explain_out_of_memory("PPO update", f"Lower PPOSettings.minibatch_size (now {settings.minibatch_size})."):
            stats = ppo_update(policy, value_model, optimizer, batch, advantages, returns, settings, generator)
        updated = time.perf_counter()
        mask = batch.completion_mask
        kl = per_token_kl(batch.logprobs, batch.ref_logprobs, settings.kl_estimator, batch.exact_kl)
        golds = [gold_fn(p, r) for p, r in zip(batch.prompts, batch.responses)]  # measured, never optimised
        row = {"step": step, "gold": sum(golds) / len(golds),
               "rm_score": batch.rm_scores.mean().item(), "score": batch.scores.mean().item(),
               "kl": (kl * mask).sum(-1).mean().item(), "kl_exact": (batch.exact_kl * mask).sum(-1).mean().item(),
               "non_score_reward": -kl_coef * (kl * mask).sum(-1).mean().item(),
               "entropy": masked_mean(batch.entropy, mask).item(), "response_length": mask.sum(-1).mean().item(),
               "eos_rate": batch.finished.float().mean().item(), "kl_coef": kl_coef, **stats,
               "rollout_s": rolled - started, "update_s": updated - rolled}
        if probe is not None and probe.due(step, settings.steps):
            row["probe_rm_score"] = probe.measure(step, policy, reward_model, tokenizer)
        controller.update(row["kl"], settings.batch_size)
        log.append(row)
        bar.set_postfix(gold=f"{row['gold']:.3f}", rm=f"{row['rm_score']:.2f}", kl=f"{row['kl']:.2f}", refresh=False)
        if on_step is not None:
            on_step(row)
    return log
