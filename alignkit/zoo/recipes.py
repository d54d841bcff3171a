"""The zoo's recipes: how each named checkpoint is trained from its parent, on what data, with what settings.

    trained = recipes.train("dpo", seed=1)   # train only: the model and what it was trained with
    metrics = recipes.build("dpo", seed=1)   # train, measure with the harness, save to the zoo

One rule for settings everywhere: an explicit argument (seed=, beta=, kl_coef=, steps=) wins over a passed
`settings=` object, which wins over the default. Each default is written once, in its settings class (or a
named preset such as `preferences.POLICY_SET`). Every recipe takes one hook, `on_step(row)`, called after each
training step with its logged dict (a LivePlot draws it). The zoo (`alignkit.zoo.store`) only stores;
experiments (`alignkit.experiments`) reuse the setups below.
"""
from __future__ import annotations

from dataclasses import asdict, replace

from alignkit import zoo
from alignkit.methods.dpo import DPOSettings, dpo_config, to_conversational, train_dpo
from alignkit.infra.errors import CheckpointError
from alignkit.measure.evaluate import REPORTING, EvalSettings, evaluate
from alignkit.cai.feedback_model import FeedbackSettings, review_accuracy, train_feedback_model
from alignkit.methods.kto import (KTOSettings, drop_desirable, kto_config, recommended_desirable_weight,
                                  to_unpaired_conversational, train_kto, unpaired_rows)
from alignkit.core.models import count_parameters
from alignkit.methods.ppo import PPOSettings
from alignkit.methods.ppo_train import ppo_models, train_ppo
from alignkit.methods.preferences import POLICY_SET, REWARD_MODEL_SET, PreferenceSet, implicit_reward_accuracy, preference_rows
from alignkit.methods.pretrain import PretrainSettings, pretrain
from alignkit.zoo.card import DataCounts, MethodCard, Phase, Recipe, Trained, TRLExport, count_text, resolve
from alignkit.zoo.real_runs import run_dpo, run_ppo, run_sft
from alignkit.zoo.recipes_cai import CAI_CARDS
from alignkit.zoo.preference_data import stored_preference_rows
from alignkit.methods.reward import (RewardSettings, reward_config, reward_metrics, reward_model_from_sft, to_trl_rows,
                                     train_reward_model)
from alignkit.methods.sft import SFTSettings, sft_config, train_sft
from alignkit.core.trl_driver import StepHook, final_loss_and_steps
from alignkit.world import load_world
from alignkit.world.files import read_jsonl
from alignkit.world.labelers import LabelerSettings
from alignkit.world.reviews import critiques, reviews

__all__ = ["CARDS", "register", "card", "table_cards", "train", "build", "remeasure", "dpo_setup", "ppo_setup"]


def _seed(seed: int | None, settings) -> int:
    return seed if seed is not None else getattr(settings, "seed", 0)


def _rl_prompts() -> list[str]:
    return [row["prompt"] for row in read_jsonl("prompts_rl.jsonl")]


# --- base and sft ------------------------------------------------------------------------------


def train_base(seed: int | None = None, settings: PretrainSettings | None = None, root=None,
               on_step: StepHook | None = None) -> Trained:
    """Train a tokenizer and a tiny Llama on the world's corpus."""
    settings = resolve(PretrainSettings(), settings, seed=seed)
    model, tokenizer, log = pretrain(settings, on_step=on_step)
    metrics = {"final_loss": round(sum(r["loss"] for r in log[-20:]) / min(20, len(log)), 4),
               "train_seconds": round(log[-1]["seconds"], 1), "steps": len(log)}
    return Trained(model, tokenizer, asdict(settings) | {"params": count_parameters(model)}, metrics,
                   seed=settings.seed, log=log)


def train_sft_checkpoint(seed: int | None = None, settings: SFTSettings | None = None, root=None,
                         on_step: StepHook | None = None) -> Trained:
    """Fine-tune `base` on the world's demonstrations."""
    settings = resolve(SFTSettings(), settings, seed=seed)
    model, tokenizer = zoo.load("base", root=root)
    log = train_sft(model, tokenizer, read_jsonl("sft.jsonl"), settings, on_step=on_step)
    return Trained(model, tokenizer, asdict(settings), final_loss_and_steps(log), seed=settings.seed, log=log)


# --- the reward model --------------------------------------------------------------------------


def train_rm(seed: int | None = None, settings: RewardSettings | None = None, root=None,
             preference_set: PreferenceSet = REWARD_MODEL_SET, labeler: LabelerSettings = LabelerSettings(),
             on_step: StepHook | None = None) -> Trained:
    """A reward model on labeled pairs of `sft`'s responses, measured against labels, ceiling and oracle."""
    settings = resolve(RewardSettings(), settings, seed=seed)
    sft_model, tokenizer = zoo.load("sft", root=root)
    data = stored_preference_rows(sft_model, tokenizer, preference_set, seed=settings.seed, labeler=labeler)
    reward_model = reward_model_from_sft(sft_model, tokenizer, seed=settings.seed)
    log = train_reward_model(reward_model, tokenizer, data["train"], settings, on_step=on_step)
    metrics = {"train_pairs": len(data["train"]), "heldout_pairs": len(data["heldout"])}
    metrics |= reward_metrics(reward_model, tokenizer, data, labeler) | final_loss_and_steps(log)
    config = asdict(settings) | asdict(preference_set) | {"labeler": asdict(labeler)}
    return Trained(reward_model, tokenizer, config, metrics, seed=settings.seed, log=log)


# --- PPO ---------------------------------------------------------------------------------------


def ppo_setup(root=None):
    """(policy, ref_model, reward_model, value_model, tokenizer, prompts): `sft` against the zoo's `rm`."""
    sft_model, tokenizer = zoo.load("sft", root=root)
    rm, _ = zoo.load("rm", root=root)
    return (*ppo_models(sft_model, rm), tokenizer, _rl_prompts())


def train_ppo_checkpoint(seed: int | None = None, settings: PPOSettings | None = None, root=None,
                         kl_coef: float | None = None, steps: int | None = None,
                         on_step: StepHook | None = None) -> Trained:
    """PPO-train `sft` against the zoo's `rm` on the world's training prompts."""
    settings = resolve(PPOSettings(), settings, seed=seed, kl_coef=kl_coef, steps=steps)
    policy, ref_model, reward_model, value_model, tokenizer, prompts = ppo_setup(root)
    log = train_ppo(policy, ref_model, reward_model, value_model, tokenizer, prompts, settings, on_step=on_step)
    last = log[-5:]
    metrics = {f"train_{k}": round(sum(r[k] for r in last) / len(last), 4)
               for k in ("gold", "rm_score", "kl", "kl_exact", "response_length")}
    metrics |= {"steps": settings.steps, "rollout_seconds": round(sum(r["rollout_s"] for r in log), 1),
                "update_seconds": round(sum(r["update_s"] for r in log), 1)}
    return Trained(policy, tokenizer, asdict(settings), metrics, ref_model, reward_model, settings.seed, log)


def train_ppo_nokl(seed: int | None = None, settings: PPOSettings | None = None, root=None,
                   steps: int | None = None, on_step: StepHook | None = None) -> Trained:
    """The same run without the KL penalty (kl_coef = 0): the chapter's reward-hacking contrast."""
    return train_ppo_checkpoint(seed, settings, root, kl_coef=0.0, steps=steps, on_step=on_step)


# --- DPO and KTO -------------------------------------------------------------------------------


def dpo_setup(seed: int, root=None, base: str = "sft", preference_set: PreferenceSet = POLICY_SET,
              labeler: LabelerSettings = LabelerSettings()):
    """(policy, ref_model, tokenizer, data): two copies of `base` and labeled pairs of `sft`'s responses.

    The pairs always come from `sft` (the reward chapter's data); `base` is only where the policy and its
    reference start (base="base": preference optimisation without SFT).
    """
    model, tokenizer = zoo.load(base, root=root)
    ref_model, _ = zoo.load(base, root=root)
    sampler = ref_model if base == "sft" else zoo.load("sft", root=root)[0]
    return model, ref_model, tokenizer, stored_preference_rows(sampler, tokenizer, preference_set, seed=seed,
                                                               labeler=labeler)


def _data_config(preference_set: PreferenceSet, labeler: LabelerSettings) -> dict:
    return asdict(preference_set) | {"labeler": asdict(labeler)}


def train_dpo_checkpoint(seed: int | None = None, settings: DPOSettings | None = None, root=None,
                         beta: float | None = None, base: str = "sft", preference_set: PreferenceSet = POLICY_SET,
                         on_step: StepHook | None = None) -> Trained:
    """DPO from `base` on labeled pairs of `sft`'s responses."""
    settings, labeler = resolve(DPOSettings(), settings, seed=seed, beta=beta), LabelerSettings()
    model, ref_model, tokenizer, data = dpo_setup(settings.seed, root, base, preference_set, labeler)
    log = train_dpo(model, ref_model, tokenizer, data["train"], settings, on_step=on_step)
    metrics = {"train_pairs": len(data["train"]), "heldout_pairs": len(data["heldout"])}
    for split in ("train", "heldout"):
        accuracy = implicit_reward_accuracy(model, ref_model, tokenizer, data[split], settings.beta)
        metrics[f"implicit_{split}_accuracy"] = round(accuracy, 4)
    config = asdict(settings) | _data_config(preference_set, labeler)
    return Trained(model, tokenizer, config, metrics | final_loss_and_steps(log), ref_model, seed=settings.seed,
                   log=log)


def train_kto_checkpoint(seed: int | None = None, settings: KTOSettings | None = None, root=None,
                         beta: float | None = None, base: str = "sft", preference_set: PreferenceSet = POLICY_SET,
                         drop_fraction: float = 0.0, on_step: StepHook | None = None) -> Trained:
    """KTO from `base` on DPO's labeled pairs, unpaired: each chosen response desirable, each rejected not.

    drop_fraction: the share of desirable examples discarded; λ_D then defaults to the recommended weight
    (ratio 4/3 when any are dropped, else 1), unless `settings` sets it.
    """
    seed, labeler = _seed(seed, settings), LabelerSettings()
    model, ref_model, tokenizer, data = dpo_setup(seed, root, base, preference_set, labeler)
    rows = drop_desirable(unpaired_rows(data["train"]), drop_fraction, seed=seed)
    n_desirable = sum(r["label"] for r in rows)
    weight = recommended_desirable_weight(n_desirable, len(rows) - n_desirable, 4 / 3 if drop_fraction > 0 else 1.0)
    settings = resolve(KTOSettings(seed=seed, desirable_weight=round(weight, 4)), settings, seed=seed, beta=beta)
    log = train_kto(model, ref_model, tokenizer, rows, settings, on_step=on_step)
    accuracy = implicit_reward_accuracy(model, ref_model, tokenizer, data["heldout"], settings.beta)
    metrics = {"train_desirable": n_desirable, "train_undesirable": len(rows) - n_desirable,
               "heldout_pairs": len(data["heldout"]), "implicit_heldout_accuracy": round(accuracy, 4)}
    config = asdict(settings) | _data_config(preference_set, labeler) | {"drop_fraction": drop_fraction}
    return Trained(model, tokenizer, config, metrics | final_loss_and_steps(log), ref_model, seed=settings.seed,
                   log=log)


# --- the feedback model (chapter 05) -------------------------------------------------------------

FEEDBACK_VALIDATION_REVIEWS = 500  # reviews about validation prompts, to see that the verdicts generalise


def train_feedback(seed: int | None = None, settings: FeedbackSettings | None = None, root=None,
                   on_step: StepHook | None = None) -> Trained:
    """`base` fine-tuned on the corpus's reviews (to answer (A) or (B)) and editors' notes (to critique and
    revise) about training prompts."""
    settings = resolve(FeedbackSettings(), settings, seed=seed)
    model, tokenizer = zoo.load("base", root=root)
    world = load_world()
    documents = (reviews(world, settings.n_reviews, seed=settings.seed)
                 + critiques(world, settings.n_critiques, seed=settings.seed))
    log = train_feedback_model(model, tokenizer, documents, settings, on_step=on_step)
    unseen = reviews(world, FEEDBACK_VALIDATION_REVIEWS, seed=settings.seed + 1, split="validation")
    metrics = {"validation_review_accuracy": round(review_accuracy(model, tokenizer, unseen), 4),
               "final_loss": round(sum(r["loss"] for r in log[-20:]) / min(20, len(log)), 4), "steps": len(log),
               "train_seconds": round(log[-1]["seconds"], 1)}
    return Trained(model, tokenizer, asdict(settings), metrics, seed=settings.seed, log=log)


# --- the cards: one per checkpoint, in build order (each starts from one before it) ---------------------

NAN = float("nan")


def _sft_data(metrics: dict, manifest: dict) -> DataCounts:
    demonstrations = len(read_jsonl("sft.jsonl"))
    return DataCounts(demonstrations=demonstrations, text=f"{count_text(demonstrations)} demonstrations")


def _ppo_data(metrics: dict, manifest: dict) -> DataCounts:
    pairs = manifest.get("rm", {}).get("metrics", {}).get("train_pairs", NAN)
    return DataCounts(human_labels=pairs, text=f"{count_text(pairs)} human preference pairs (rm's training set)")


def _dpo_data(metrics: dict, manifest: dict) -> DataCounts:
    pairs = metrics.get("train_pairs", NAN)
    return DataCounts(human_labels=pairs, text=f"{count_text(pairs)} human preference pairs")


def _kto_data(metrics: dict, manifest: dict) -> DataCounts:
    desirable, undesirable = metrics.get("train_desirable", NAN), metrics.get("train_undesirable", NAN)
    return DataCounts(human_labels=desirable + undesirable,
                      text=f"{count_text(desirable)} desirable + {count_text(undesirable)} undesirable rows")


def _sft_rows(max_prompts: int | None = None, seed: int = 0) -> list[dict]:
    return [{"messages": r["messages"]} for r in read_jsonl("sft.jsonl")]


def _sampled_pairs(preference_set: PreferenceSet, max_prompts: int | None, seed: int) -> list[dict]:
    """Labeled pairs of the zoo's `sft` responses, as the recipe samples them (fewer prompts if asked)."""
    sft_model, tokenizer = zoo.load("sft")
    size = replace(preference_set, n_prompts=max_prompts or preference_set.n_prompts, n_heldout_prompts=1)
    return preference_rows(sft_model, tokenizer, size, seed=seed)["train"]


def _rm_rows(max_prompts: int | None = None, seed: int = 0) -> list[dict]:
    return to_trl_rows(_sampled_pairs(REWARD_MODEL_SET, max_prompts, seed))


def _dpo_rows(max_prompts: int | None = None, seed: int = 0) -> list[dict]:
    return to_conversational(_sampled_pairs(POLICY_SET, max_prompts, seed))


def _kto_rows(max_prompts: int | None = None, seed: int = 0) -> list[dict]:
    return to_unpaired_conversational(unpaired_rows(_sampled_pairs(POLICY_SET, max_prompts, seed)))


_PREFERENCE_OPTIMISATION = ("model",), ("ref_model",)  # the policy trains; its frozen copy is the reference
PPO_PHASE = Phase("PPO", (train_ppo,), ("policy", "value_model"), ("ref_model", "reward_model"))

BASE = MethodCard("base", Recipe(None, "causal-lm", "document", train_base), exercises=("next_token_loss",))
SFT = MethodCard(
    "sft", Recipe("base", "causal-lm", "chat", train_sft_checkpoint), label="SFT", signal="demonstrations",
    users="every assistant (InstructGPT, Llama 2-Chat)", phases=(Phase("SFT", (train_sft,), ("model",)),),
    data_counts=_sft_data, export=TRLExport("sft", SFTSettings, sft_config, _sft_rows, "base"),
    real_model=run_sft, exercises=("completion_only_loss",))
RM = MethodCard(
    "rm", Recipe("sft", "reward-model", "chat", train_rm, measured_by_harness=False),
    export=TRLExport("reward", RewardSettings, reward_config, _rm_rows, "sft"), exercises=("bradley_terry_loss",))
PPO = MethodCard(
    "ppo", Recipe("sft", "causal-lm", "chat", train_ppo_checkpoint, measured_against_parent=True, scored_by="rm"),
    label="PPO-RLHF", signal="human preference pairs (to train the reward model)",
    users="InstructGPT, ChatGPT, Llama 2-Chat",
    phases=(Phase("reward model", (train_reward_model,), ("reward_model",)), PPO_PHASE), data_counts=_ppo_data,
    pipeline=("rm", "ppo"), tuning_grid="tuning_ppo.json", real_model=run_ppo, exercises=("gae_advantages", "k3_kl"))
PPO_NOKL = MethodCard("ppo-nokl", Recipe("sft", "causal-lm", "chat", train_ppo_nokl, measured_against_parent=True,
                                         scored_by="rm"))
DPO = MethodCard(
    "dpo", Recipe("sft", "causal-lm", "chat", train_dpo_checkpoint, measured_against_parent=True), label="DPO",
    signal="human preference pairs", users="Zephyr, Tulu 2, Llama 3",
    phases=(Phase("DPO", (train_dpo,), *_PREFERENCE_OPTIMISATION),), data_counts=_dpo_data,
    tuning_grid="tuning_dpo.json", export=TRLExport("dpo", DPOSettings, dpo_config, _dpo_rows, "sft"),
    real_model=run_dpo, exercises=("dpo_loss",))
KTO = MethodCard(
    "kto", Recipe("sft", "causal-lm", "chat", train_kto_checkpoint, measured_against_parent=True), label="KTO",
    signal="human binary labels (here: the DPO pairs unpaired, each chosen response desirable, each rejected one "
           "undesirable)", users="Archangel (Contextual AI)",
    phases=(Phase("KTO", (train_kto,), *_PREFERENCE_OPTIMISATION),), data_counts=_kto_data,
    tuning_grid="tuning_kto.json", export=TRLExport("kto", KTOSettings, kto_config, _kto_rows, "sft"),
    exercises=("kto_loss",))
# Reads comparisons as documents; the harness's chat questions are not its job, so it measures itself.
FEEDBACK = MethodCard("feedback", Recipe("base", "causal-lm", "document", train_feedback, measured_by_harness=False),
                      exercises=("two_order_preference",))

CARDS: dict[str, MethodCard] = {}


def register(method: MethodCard) -> MethodCard:
    """Add a card to the registry (after its parent: the registry is in build order); the card."""
    if method.name in CARDS:
        raise CheckpointError(f"a card named {method.name!r} is registered already")
    if method.recipe.parent is not None and method.recipe.parent not in CARDS:
        raise CheckpointError(f"{method.name!r} starts from {method.recipe.parent!r}, which has no card yet; "
                              "register the parent first")
    CARDS[method.name] = method
    return method


for _card in (BASE, SFT, RM, PPO, PPO_NOKL, DPO, KTO, FEEDBACK, *CAI_CARDS):
    register(_card)


def card(name: str) -> MethodCard:
    if name not in CARDS:
        raise CheckpointError(f"No recipe for {name!r}; buildable checkpoints: {', '.join(CARDS)}.")
    return CARDS[name]


def table_cards() -> list[MethodCard]:
    """The methods of the course's table, in build order (the seed's order)."""
    return [c for c in CARDS.values() if c.in_table]


def train(name: str, **kwargs) -> Trained:
    """Train checkpoint `name` by its recipe without saving it; kwargs go to the recipe (seed=, settings=, ...)."""
    return card(name).recipe.train(**kwargs)


def _measure(recipe: Recipe, model, tokenizer, ref_model, reward_model, eval_config: EvalSettings | None) -> dict:
    config = replace(eval_config or REPORTING, prompt_format=recipe.format)
    summary, _ = evaluate(model, tokenizer, ref_model=ref_model, reward_model=reward_model, config=config)
    return summary


def build(name: str, *, save_as: str | None = None, root=None, eval_config: EvalSettings | None = None,
          **kwargs) -> dict:
    """Train `name` by its recipe, measure it with the harness, save it to the zoo (as `save_as`); its metrics.

    eval_config: how the harness measures it (default REPORTING: every test prompt, several samples each);
    its prompt format is the recipe's.
    """
    recipe = card(name).recipe
    trained = recipe.train(root=root, **kwargs)
    metrics = dict(trained.metrics)
    if recipe.measured_by_harness:
        metrics = _measure(recipe, trained.model, trained.tokenizer, trained.ref_model, trained.reward_model,
                           eval_config) | metrics
    zoo.save(save_as or name, trained.model, trained.tokenizer, kind=recipe.kind, format=recipe.format,
             parent=kwargs.get("base", recipe.parent), command=f"alignkit zoo build {name} --seed {trained.seed}",
             seed=trained.seed, config=trained.config, metrics=metrics, root=root)
    return metrics


def remeasure(name: str, root=None, eval_config: EvalSettings | None = None) -> dict:
    """Measure a saved checkpoint again with today's harness and record it in the manifest; the new metrics.

    For a zoo whose oracle or harness changed after it was built: the weights stay, the numbers follow.
    """
    entry, recipe = zoo.info(name, root), card(name).recipe
    if not recipe.measured_by_harness:
        raise CheckpointError(f"{name!r} measures itself while it trains; rebuild it: alignkit zoo build {name}")
    model, tokenizer = zoo.load(name, root=root)
    ref_model = zoo.load(entry["parent"], root=root)[0] if recipe.measured_against_parent else None
    reward_model = zoo.load(recipe.scored_by, root=root)[0] if recipe.scored_by else None
    summary = _measure(recipe, model, tokenizer, ref_model, reward_model, eval_config)
    zoo.update_metrics(name, summary, root)
    return summary
