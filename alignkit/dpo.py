"""Direct Preference Optimization: the reward model folded into the policy (Rafailov et al. 2023).

`dpo_loss` is the whole idea in a few lines: with the implicit reward r(x, y) = beta log(pi(y|x) / pi_ref(y|x)),
the Bradley-Terry loss of the reward model becomes a loss on the policy itself (DPO Eq. 7). `train_dpo`
drives TRL's `DPOTrainer`, which computes the same loss (its default "sigmoid" loss type) from log-probs
summed over each completion's tokens. The preference data is the reward chapter's: pairs of the SFT
policy's responses, labeled by the simulated labelers.
"""
from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, replace

import torch
import torch.nn.functional as F

from alignkit.errors import AlignkitError
from alignkit.generation import render_prompt
from alignkit.logprobs import sequence_logprobs, shifted_token_logprobs
from alignkit.reward import final_loss_and_steps, preference_rows
from alignkit.world.labelers import LabelerConfig

__all__ = [
    "dpo_loss",
    "implicit_rewards",
    "to_conversational",
    "DPOSettings",
    "dpo_config",
    "train_dpo",
    "completion_logprobs",
    "implicit_reward_accuracy",
    "build_dpo",
]


def implicit_rewards(policy_logps: torch.Tensor, reference_logps: torch.Tensor, beta: float) -> torch.Tensor:
    """DPO's implicit reward beta * log(pi(y|x) / pi_ref(y|x)) (Eq. 5 without beta log Z(x)).

    policy_logps [B], reference_logps [B]: log-probs summed over each completion's tokens → [B].
    """
    return beta * (policy_logps - reference_logps)


def dpo_loss(policy_chosen_logps: torch.Tensor, policy_rejected_logps: torch.Tensor,
             reference_chosen_logps: torch.Tensor, reference_rejected_logps: torch.Tensor,
             beta: float) -> torch.Tensor:
    """Mean of −log σ(r(x, y_w) − r(x, y_l)) over the batch, r the implicit reward (DPO Eq. 7).

    All four inputs [B]: log-probs SUMMED over the completion tokens (a mean would change the loss:
    it shrinks every log-ratio by its response's length). Returns a scalar; ln 2 when pi = pi_ref.
    The gradient weights each pair by σ(r_l − r_w): pairs the policy still orders wrongly count most.
    """
    chosen_rewards = implicit_rewards(policy_chosen_logps, reference_chosen_logps, beta)  # [B]
    rejected_rewards = implicit_rewards(policy_rejected_logps, reference_rejected_logps, beta)  # [B]
    return -F.logsigmoid(chosen_rewards - rejected_rewards).mean()


# --- data ------------------------------------------------------------------------------------


def to_conversational(rows: list[dict]) -> list[dict]:
    """prompt/chosen/rejected strings → TRL's conversational explicit-prompt preference rows.

    prompt = [user message], chosen = [assistant message], rejected = [assistant message]; TRL applies
    the chat template, so the policy is trained on the very tokens `generation.sample` produces.
    """
    return [{"prompt": [{"role": "user", "content": r["prompt"]}],
             "chosen": [{"role": "assistant", "content": r["chosen"]}],
             "rejected": [{"role": "assistant", "content": r["rejected"]}]} for r in rows]


# --- training --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DPOSettings:
    beta: float = 0.1  # strength of the KL leash to the reference (DPO's default; the IMDb sweep tried 0.05 to 5)
    # Measured on the zoo's sft (400 prompts x 4 samples at temperature 1.5, 1,323 pairs): 1e-4 moved the policy
    # without hurting it; 2e-4 to 1e-3 cost gold reward (KL 0.1 to 29 nats). scripts/frontier.py measures more.
    learning_rate: float = 1e-4
    epochs: float = 1.0  # one pass over the pairs, as the paper
    batch_size: int = 16  # preference pairs per step (the policy sees 2x as many sequences)
    max_length: int = 128  # tokens of prompt + completion; the world's conversations are far shorter
    warmup_steps: int = 5
    gradient_checkpointing: bool = False  # TRL's default True only costs time on models this small
    seed: int = 0


def dpo_config(settings: DPOSettings, output_dir: str, profile=None):
    """TRL's DPOConfig for these settings: sigmoid loss, no dropout, precision flags explicit."""
    from trl import DPOConfig

    from alignkit.sft import trainer_kwargs

    with warnings.catch_warnings():  # TRL's own defaults trip transformers' deprecation notices
        warnings.simplefilter("ignore", FutureWarning)
        return DPOConfig(beta=settings.beta, loss_type=["sigmoid"], max_length=settings.max_length,
                         disable_dropout=True, precompute_ref_log_probs=False,
                         gradient_checkpointing=settings.gradient_checkpointing,
                         **trainer_kwargs(settings, output_dir, profile))


def train_dpo(model, ref_model, tokenizer, rows: list[dict], settings: DPOSettings = DPOSettings(),
              plot=None, eval_callback=None) -> list[dict]:
    """Train `model` in place with DPO against the frozen `ref_model`; returns TRL's log history.

    rows: prompt/chosen/rejected strings (as `label_pairs` returns them) or TRL conversational rows.
    ref_model must be given: TRL would otherwise reload the reference by the model's name.
    eval_callback: a `transformers.TrainerCallback` to run alongside (e.g. gold reward and KL every N steps).
    """
    from trl import DPOTrainer

    from alignkit.sft import run_trainer

    if not rows:
        raise AlignkitError("train_dpo got no preference rows; label some pairs first (label_pairs).")
    if ref_model is None or ref_model is model:
        raise AlignkitError("train_dpo needs a separate frozen reference model: pass copy.deepcopy(model) "
                            "(or zoo.load of the same checkpoint) as ref_model.")
    trl_rows = rows if isinstance(rows[0].get("prompt"), list) else to_conversational(rows)
    trl_rows = [{k: r[k] for k in ("prompt", "chosen", "rejected")} for r in trl_rows]
    ref_model.eval().requires_grad_(False)
    return run_trainer(DPOTrainer, model, tokenizer, trl_rows, lambda out: dpo_config(settings, out), plot=plot,
                       callbacks=[eval_callback] if eval_callback is not None else [], ref_model=ref_model)


# --- measuring -------------------------------------------------------------------------------


def _encode(tokenizer, prompt: str, response: str) -> tuple[list[int], int]:
    """Token ids of the chat [user prompt, assistant response] and how many of them are the prompt."""
    conversation = [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}]
    ids = tokenizer(tokenizer.apply_chat_template(conversation, tokenize=False), add_special_tokens=False)["input_ids"]
    n_prompt = len(tokenizer(render_prompt(tokenizer, prompt, "chat"), add_special_tokens=False)["input_ids"])
    return ids, n_prompt


@torch.no_grad()
def completion_logprobs(model, tokenizer, prompts: list[str], responses: list[str],
                        batch_size: int = 64) -> torch.Tensor:
    """log pi(response | prompt) in the chat format, summed over the response tokens and its end token: [N].

    The same completion tokens TRL's DPO and KTO trainers score.
    """
    device = next(model.parameters()).device
    out = []
    for start in range(0, len(prompts), batch_size):
        encoded = [_encode(tokenizer, p, r) for p, r in zip(prompts[start:start + batch_size],
                                                            responses[start:start + batch_size])]
        width = max(len(ids) for ids, _ in encoded)
        ids = torch.full((len(encoded), width), tokenizer.pad_token_id, dtype=torch.long)
        attention, completion = torch.zeros_like(ids), torch.zeros_like(ids)
        for i, (seq, n_prompt) in enumerate(encoded):  # right padding: positions need no correction
            ids[i, :len(seq)], attention[i, :len(seq)], completion[i, n_prompt:len(seq)] = torch.tensor(seq), 1, 1
        logits = model(input_ids=ids.to(device), attention_mask=attention.to(device)).logits
        token_logps = shifted_token_logprobs(logits, ids.to(device))  # [B, T-1]
        out.append(sequence_logprobs(token_logps, completion[:, 1:].to(device)).cpu())  # [B]
    return torch.cat(out)


def implicit_reward_accuracy(model, ref_model, tokenizer, rows: list[dict], beta: float = DPOSettings.beta) -> float:
    """Fraction of labeled rows (prompt/chosen/rejected strings) whose chosen response gets the higher
    implicit reward beta log(pi/pi_ref): DPO's policy read as a reward model. A tie counts 0.5."""
    if not rows:
        raise AlignkitError("implicit_reward_accuracy needs at least one labeled row (prompt/chosen/rejected).")
    prompts = [r["prompt"] for r in rows] * 2
    responses = [r["chosen"] for r in rows] + [r["rejected"] for r in rows]
    rewards = implicit_rewards(completion_logprobs(model, tokenizer, prompts, responses),
                               completion_logprobs(ref_model, tokenizer, prompts, responses), beta)  # [2N]
    margins = rewards[:len(rows)] - rewards[len(rows):]  # [N]
    return float(((margins > 0).double() + 0.5 * (margins == 0).double()).mean())


# --- the zoo checkpoint ----------------------------------------------------------------------


def policy_reference_and_pairs(base: str, root, n_prompts, n_heldout_prompts, samples_per_prompt: int, seed: int,
                               labeler: LabelerConfig):
    """What build_dpo and build_kto start from: a policy and a frozen reference (two copies of `base`),
    the tokenizer, and `preference_rows` sampled from `sft` (reusing the reference when base is sft)."""
    from alignkit import zoo

    model, tokenizer = zoo.load(base, root=root)
    ref_model, _ = zoo.load(base, root=root)
    sampler = ref_model if base == "sft" else zoo.load("sft", root=root)[0]
    data = preference_rows(sampler, tokenizer, n_prompts=n_prompts, n_heldout_prompts=n_heldout_prompts,
                           samples_per_prompt=samples_per_prompt, seed=seed, labeler=labeler)
    return model, ref_model, tokenizer, data


def build_dpo(seed: int = 0, root=None, plot=None, beta: float | None = None, name: str = "dpo", base: str = "sft",
              n_prompts: int | None = 400, samples_per_prompt: int = 4, n_heldout_prompts: int | None = 100,
              settings: DPOSettings | None = None) -> dict:
    """Train `base` with DPO on labeled pairs of `sft`'s responses and save it to the zoo as `name`.

    The pairs always come from `sft` (the reward chapter's data); `base` is only where the policy and its
    reference start (base="base": DPO without SFT). beta, when given, overrides settings.beta.
    """
    from alignkit import zoo
    from alignkit.evaluate import evaluate

    labeler = LabelerConfig()
    settings = settings or DPOSettings(seed=seed)
    settings = replace(settings, beta=beta) if beta is not None else settings
    model, ref_model, tokenizer, data = policy_reference_and_pairs(base, root, n_prompts, n_heldout_prompts,
                                                                   samples_per_prompt, seed, labeler)
    log = train_dpo(model, ref_model, tokenizer, data["train"], settings, plot=plot)
    summary, _ = evaluate(model, tokenizer, ref_model=ref_model)
    metrics = summary | {
        "train_pairs": len(data["train"]), "heldout_pairs": len(data["heldout"]),
        "implicit_train_accuracy": round(implicit_reward_accuracy(model, ref_model, tokenizer, data["train"],
                                                                  settings.beta), 4),
        "implicit_heldout_accuracy": round(implicit_reward_accuracy(model, ref_model, tokenizer, data["heldout"],
                                                                    settings.beta), 4),
    } | final_loss_and_steps(log)
    zoo.save(name, model, tokenizer, kind="causal-lm", format="chat", parent=base,
             command=f"alignkit zoo build {name} --seed {seed}", seed=seed,
             config=asdict(settings) | {"samples_per_prompt": samples_per_prompt, "n_prompts": n_prompts,
                                        "labeler": asdict(labeler)},
             metrics=metrics, root=root)
    return metrics
