"""The zoo's Constitutional AI recipes (chapter 05): `sl-cai`, `rl-cai` and `rlaif-dpo`.

    metrics = recipes.build("sl-cai")    # then rl-cai and rlaif-dpo, which start from it

`sl-cai`: `base` fine-tuned like `sft`, except that the red-team prompts' demonstrations are replaced by the
feedback model's revisions of `sft`'s own answers. `rl-cai`: `sl-cai` samples pairs; the feedback model labels
the red-team pairs (one harm principle drawn per pair), the simulated labelers the rest; a preference model trains on both and PPO optimises
`sl-cai` against it. `rlaif-dpo`: DPO from `sl-cai` on labels made the same way, no reward model.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from alignkit import zoo
from alignkit.world.constitution import load_constitution
from alignkit.methods.dpo import DPOSettings, train_dpo
from alignkit.core.generation import SampleSettings
from alignkit.methods.ppo import PPOSettings
from alignkit.methods.ppo_train import ppo_models, train_ppo
from alignkit.methods.preferences import POLICY_SET, sample_pairs, spread
from alignkit.zoo.card import DataCounts, MethodCard, Phase, Recipe, Trained, count_text, resolve
from alignkit.methods.reward import RewardSettings, preference_accuracy, reward_model_from_sft, train_reward_model
from alignkit.cai.rl_cai import mixed_preference_rows
from alignkit.methods.sft import SFTSettings, train_sft
from alignkit.cai.sl_cai import SLCAISettings, helpful_demonstrations, red_team_prompts, red_team_revisions, sl_cai_rows
from alignkit.core.trl_driver import StepHook, final_loss_and_steps
from alignkit.world.files import read_jsonl
from alignkit.world.labelers import LabelerSettings

__all__ = ["CAIPairs", "cai_preference_rows", "train_sl_cai", "train_rl_cai", "train_rlaif_dpo", "CAI_CARDS"]


def train_sl_cai(seed: int | None = None, settings: SLCAISettings | None = None, root=None,
                 sft_settings: SFTSettings | None = None, on_step: StepHook | None = None) -> Trained:
    """SL-CAI: `base` fine-tuned on `sft`'s red-team answers as the feedback model revised them, plus the
    demonstrations for every other prompt (SFT's settings)."""
    settings = resolve(SLCAISettings(), settings, seed=seed)
    red_team = red_team_prompts(read_jsonl("prompts_sft.jsonl"))
    policy, tokenizer = zoo.load("sft", root=root)
    feedback_model, _ = zoo.load("feedback", root=root)
    revisions = red_team_revisions(policy, feedback_model, tokenizer, load_constitution(), red_team, settings)
    del policy, feedback_model  # only the model being fine-tuned stays in memory while it trains
    rows = sl_cai_rows(revisions, helpful_demonstrations(read_jsonl("sft.jsonl"), red_team))
    model, _ = zoo.load("base", root=root)
    sft_settings = resolve(SFTSettings(), sft_settings, seed=settings.seed)
    log = train_sft(model, tokenizer, rows, sft_settings, on_step=on_step)
    changed = sum(r.final != r.responses[0] for r in revisions) / len(revisions)
    metrics = {"revised_answers": len(revisions), "revisions_changed": round(changed, 4),
               "training_rows": len(rows)} | final_loss_and_steps(log)
    return Trained(model, tokenizer, asdict(settings) | {"sft": asdict(sft_settings)}, metrics, seed=settings.seed,
                   log=log)


@dataclass(frozen=True)
class CAIPairs:
    """Which of `sl-cai`'s responses are paired and labeled: every red-team prompt, and helpful prompts."""

    n_helpful_prompts: int | None = None  # training prompts that are not red-team prompts; None = all
    samples_per_prompt: int = 4
    temperature: float = 1.0
    labeler: LabelerSettings = LabelerSettings()


def cai_preference_rows(policy, tokenizer, pairs_config: CAIPairs, seed: int, root=None, constitution=None,
                        feedback_model=None) -> dict:
    """{"ai": ..., "human": ...} rows on pairs of `policy`'s responses (alignkit.cai.rl_cai.mixed_preference_rows).

    feedback_model: one already loaded (a chapter's); by default the zoo's `feedback` is loaded for the call."""
    prompt_rows = read_jsonl("prompts_preference.jsonl")
    red_team = red_team_prompts(prompt_rows)
    helpful = spread([r["prompt"] for r in prompt_rows if r["prompt"] not in set(red_team)],
                     pairs_config.n_helpful_prompts)
    pairs = sample_pairs(policy, tokenizer, red_team + helpful, samples_per_prompt=pairs_config.samples_per_prompt,
                         sampling=SampleSettings(temperature=pairs_config.temperature), seed=seed)
    if feedback_model is None:
        feedback_model, _ = zoo.load("feedback", root=root)
    return mixed_preference_rows(pairs, red_team, feedback_model, tokenizer, constitution or load_constitution(),
                                 pairs_config.labeler, seed=seed)


def _label_counts(rows: dict) -> dict:
    return {"ai_labels": len(rows["ai"]), "human_labels": len(rows["human"])}


def train_rl_cai(seed: int | None = None, settings: PPOSettings | None = None, root=None,
                 pairs_config: CAIPairs = CAIPairs(), reward_settings: RewardSettings = RewardSettings(),
                 steps: int | None = None, on_step: StepHook | None = None) -> Trained:
    """RL-CAI: a preference model on `sl-cai`'s pairs (AI labels on red-team pairs, people's on the rest), then
    PPO from `sl-cai` against it with the human-feedback run's settings (PPOSettings' defaults, its length too)."""
    settings = resolve(PPOSettings(), settings, seed=seed, steps=steps)
    sl_cai, tokenizer = zoo.load("sl-cai", root=root)
    rows = cai_preference_rows(sl_cai, tokenizer, pairs_config, settings.seed, root)
    preference_model = reward_model_from_sft(sl_cai, tokenizer, seed=settings.seed)
    train_reward_model(preference_model, tokenizer, rows["ai"] + rows["human"], reward_settings)
    metrics = {"preference_model_train_ai_accuracy": round(preference_accuracy(preference_model, tokenizer, rows["ai"]),
                                                           4)}
    policy, ref_model, reward_model, value_model = ppo_models(sl_cai, preference_model)
    del sl_cai, preference_model  # ppo_models copied them; PPO holds its four models only
    prompts = [r["prompt"] for r in read_jsonl("prompts_rl.jsonl")]
    log = train_ppo(policy, ref_model, reward_model, value_model, tokenizer, prompts, settings, on_step=on_step)
    last = log[-5:]
    metrics |= {f"train_{k}": round(sum(r[k] for r in last) / len(last), 4) for k in ("rm_score", "kl")}
    metrics |= _label_counts(rows) | {"steps": settings.steps}
    trained_with = asdict(settings) | {"pairs": asdict(pairs_config), "reward": asdict(reward_settings)}
    # The preference model is not kept (the zoo's size budget), so the harness reports no rm_score for rl-cai,
    # at build and on remeasure alike; train_rm_score is its score during the last PPO steps.
    return Trained(policy, tokenizer, trained_with, metrics, ref_model, None, settings.seed, log)


RLAIF_DPO_PAIRS = CAIPairs(n_helpful_prompts=POLICY_SET.n_prompts)  # DPO's chapter-sized set plus every red-team prompt


def train_rlaif_dpo(seed: int | None = None, settings: DPOSettings | None = None, root=None,
                    pairs_config: CAIPairs = RLAIF_DPO_PAIRS, constitution=None, start: str = "sl-cai",
                    on_step: StepHook | None = None) -> Trained:
    """RLAIF without a reward model: DPO from `start` on its own pairs, labeled as RL-CAI labels them.

    constitution: the principles the feedback model reads (default data/constitution.yaml; chapter 05 edits
    it). start: the policy, its reference and the sampler of the pairs ("sft" for the constitution-edit
    experiment, whose red-team answers still comply often enough for the labels to matter)."""
    settings = resolve(DPOSettings(), settings, seed=seed)
    ref_model, tokenizer = zoo.load(start, root=root)
    rows = cai_preference_rows(ref_model, tokenizer, pairs_config, settings.seed, root, constitution)
    model, _ = zoo.load(start, root=root)  # loaded after labeling: the feedback model is gone by then
    log = train_dpo(model, ref_model, tokenizer, rows["ai"] + rows["human"], settings, on_step=on_step)
    config = asdict(settings) | {"pairs": asdict(pairs_config), "start": start}
    return Trained(model, tokenizer, config, _label_counts(rows) | final_loss_and_steps(log), ref_model,
                   seed=settings.seed, log=log)


NAN = float("nan")


def _sl_cai_data(metrics: dict, manifest: dict) -> DataCounts:
    red_team = red_team_prompts(read_jsonl("prompts_sft.jsonl"))
    demonstrations = len(helpful_demonstrations(read_jsonl("sft.jsonl"), red_team))
    revisions, rows = metrics.get("revised_answers", NAN), metrics.get("training_rows", NAN)
    return DataCounts(demonstrations=demonstrations, ai_revisions=revisions,
                      text=f"{count_text(revisions)} AI revisions + {count_text(demonstrations)} demonstrations "
                           f"({count_text(rows)} training rows)")


def _ai_and_human_data(metrics: dict, manifest: dict) -> DataCounts:
    ai, human = metrics.get("ai_labels", NAN), metrics.get("human_labels", NAN)
    return DataCounts(human_labels=human, ai_labels=ai, text=f"{count_text(ai)} AI labels + {count_text(human)} human labels")


AI_SIGNAL = "AI preference labels on red-team pairs + human on the rest"
_AI_LABELS = Phase("AI labels", (sample_pairs, mixed_preference_rows), frozen=("model", "feedback_model"))
CAI_USERS = "Claude (Anthropic)"

SL_CAI = MethodCard(
    "sl-cai", Recipe("base", "causal-lm", "chat", train_sl_cai), label="Constitutional AI: SL-CAI",
    signal="AI revisions + demonstrations", users=CAI_USERS,
    phases=(Phase("critique and revision", (red_team_revisions,), frozen=("policy", "feedback_model")),
            Phase("SFT", (train_sft,), ("model",))), data_counts=_sl_cai_data)
RL_CAI = MethodCard(
    "rl-cai", Recipe("sl-cai", "causal-lm", "chat", train_rl_cai, measured_against_parent=True),
    label="Constitutional AI: RL-CAI", signal=AI_SIGNAL, users=CAI_USERS,
    phases=(_AI_LABELS, Phase("preference model", (train_reward_model,), ("reward_model",)),
            Phase("PPO", (train_ppo,), ("policy", "value_model"), ("ref_model", "reward_model"))),
    data_counts=_ai_and_human_data)
RLAIF_DPO = MethodCard(
    "rlaif-dpo", Recipe("sl-cai", "causal-lm", "chat", train_rlaif_dpo, measured_against_parent=True),
    label="RLAIF with DPO", signal=AI_SIGNAL, users="Google (Lee et al. 2023)",
    phases=(_AI_LABELS, Phase("DPO", (train_dpo,), ("model",), ("ref_model",))), data_counts=_ai_and_human_data)

CAI_CARDS = (SL_CAI, RL_CAI, RLAIF_DPO)  # chapter 05's, in build order after the feedback model
