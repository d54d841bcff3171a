"""The zoo's recipes on tiny models: each builds, saves what it was trained with, and honours passed settings.

One rule for settings: an explicit argument wins over a passed settings object, which wins over the default.
"""
from __future__ import annotations

from dataclasses import replace

import pytest
from tiny_models import TINY

from alignkit.methods import preferences

from alignkit.zoo import recipes
from alignkit.zoo.card import resolve

from alignkit import zoo
from alignkit.cli import main as alignkit_main
from alignkit.methods.dpo import DPOSettings
from alignkit.infra.errors import CheckpointError
from alignkit.measure.evaluate import EvalSettings, prompts_for
from alignkit.cai.feedback_model import FeedbackSettings
from alignkit.core.generation import SampleSettings, Samples
from alignkit.methods.kto import KTOSettings
from alignkit.methods.ppo import PPOSettings
from alignkit.methods.preferences import PreferenceSet
from alignkit.methods.pretrain import PretrainSettings
from alignkit.zoo.recipes_cai import CAIPairs
from alignkit.methods.reward import RewardSettings
from alignkit.methods.sft import SFTSettings
from alignkit.cai.sl_cai import SLCAISettings, helpful_demonstrations, red_team_prompts
from alignkit.world import find_task, load_world
from alignkit.world.files import read_jsonl
from alignkit.world.tasks import ideal_response

QUICK_EVAL = EvalSettings(sampling=SampleSettings(max_new_tokens=8))  # every prompt: each kind is represented
TINY_SET = PreferenceSet(n_prompts=4, samples_per_prompt=2, n_heldout_prompts=2)
NO_IDEA = "No idea, sorry."
TINY_FEEDBACK = FeedbackSettings(n_reviews=16, n_critiques=16, batch_size=8, seed=3)
TINY_CAI_PAIRS = CAIPairs(n_helpful_prompts=4, samples_per_prompt=2)  # every red-team prompt, 4 helpful ones


def scripted_policy(model, tokenizer, prompts, prompt_format="chat", config=SampleSettings()):
    """A stand-in for sampling: even seeds give the ideal response, odd seeds the evasive reply."""
    world = load_world()
    responses = [ideal_response(world, find_task(world, p)) if config.seed % 2 == 0 else NO_IDEA for p in prompts]
    return Samples(list(prompts), responses, [], [], [], [])


@pytest.fixture(scope="module")
def tiny_zoo(tmp_path_factory):
    """A zoo whose base was built by the base recipe at toy size, with an sft and an rm on top."""
    root = tmp_path_factory.mktemp("zoo")
    pretrain = PretrainSettings(model=TINY, vocab_size=600, epochs=0.002, batch_size=8, warmup_steps=1, seed=4)
    recipes.build("base", settings=pretrain, root=root, eval_config=QUICK_EVAL)
    recipes.build("sft", settings=SFTSettings(epochs=0.01, batch_size=32, seed=2), root=root, eval_config=QUICK_EVAL)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(preferences, "sample", scripted_policy)
        recipes.build("rm", settings=RewardSettings(batch_size=8, learning_rate=3e-5), preference_set=TINY_SET,
                      root=root, seed=7)
    return root


def test_resolve_explicit_beats_given_beats_default():
    assert resolve(DPOSettings()).beta == DPOSettings().beta
    assert resolve(DPOSettings(), DPOSettings(beta=0.3)).beta == 0.3
    assert resolve(DPOSettings(), DPOSettings(beta=0.3), beta=0.7).beta == 0.7
    assert resolve(DPOSettings(), DPOSettings(beta=0.3, seed=5), seed=None).seed == 5  # None: not given


def test_registry_is_in_build_order_and_unknown_names_are_clear():
    order = list(recipes.CARDS)
    assert order[:3] == ["base", "sft", "rm"]
    for name, method in recipes.CARDS.items():
        assert method.recipe.parent is None or order.index(method.recipe.parent) < order.index(name)
    with pytest.raises(CheckpointError, match="No recipe for 'nothing'"):
        recipes.build("nothing")


@pytest.mark.slow
def test_base_and_sft_record_the_settings_they_were_given(tiny_zoo):
    base = zoo.info("base", root=tiny_zoo)
    assert (base["format"], base["parent"], base["seed"]) == ("document", None, 4)
    assert base["config"]["vocab_size"] == 600 and base["config"]["model"]["hidden_size"] == TINY.hidden_size
    assert base["metrics"]["n_prompts"] == len(prompts_for("test")) and "cloze_accuracy" in base["metrics"]
    sft = zoo.info("sft", root=tiny_zoo)
    assert (sft["format"], sft["parent"], sft["seed"]) == ("chat", "base", 2)  # the passed settings' seed
    assert sft["config"]["epochs"] == 0.01 and sft["command"] == "alignkit zoo build sft --seed 2"


@pytest.mark.slow
def test_rm_honours_settings_and_the_explicit_seed(tiny_zoo):
    entry = zoo.info("rm", root=tiny_zoo)
    assert (entry["kind"], entry["parent"], entry["seed"]) == ("reward-model", "sft", 7)
    assert entry["config"]["learning_rate"] == 3e-5 and entry["config"]["n_prompts"] == 4
    assert (entry["metrics"]["train_pairs"], entry["metrics"]["heldout_pairs"]) == (4, 2)
    rm, _ = zoo.load("rm", root=tiny_zoo)
    assert type(rm).__name__.endswith("ForSequenceClassification")


@pytest.mark.slow
def test_ppo_explicit_kl_coef_and_steps_win_over_the_passed_settings(tiny_zoo):
    settings = PPOSettings(batch_size=4, minibatch_size=2, max_new_tokens=8, kl_coef=0.1, learning_rate=1e-4, steps=3)
    metrics = recipes.build("ppo", settings=settings, kl_coef=0.5, steps=1, root=tiny_zoo, eval_config=QUICK_EVAL)
    entry = zoo.info("ppo", root=tiny_zoo)
    assert entry["config"]["kl_coef"] == 0.5 and entry["config"]["learning_rate"] == 1e-4
    assert entry["config"]["batch_size"] == 4 and entry["config"]["steps"] == 1
    assert "rm_score" in metrics and "kl_to_ref" in metrics and metrics["steps"] == 1
    recipes.build("ppo-nokl", settings=replace(settings, steps=1), root=tiny_zoo, eval_config=QUICK_EVAL)
    assert zoo.info("ppo-nokl", root=tiny_zoo)["config"]["steps"] == 1  # the passed settings' length
    assert zoo.info("ppo-nokl", root=tiny_zoo)["config"]["kl_coef"] == 0.0  # the recipe's own explicit choice


@pytest.mark.slow
def test_dpo_saves_a_chat_policy_with_beta_from_the_argument(tiny_zoo, monkeypatch):
    monkeypatch.setattr(preferences, "sample", scripted_policy)
    metrics = recipes.build("dpo", beta=0.2, settings=DPOSettings(batch_size=4, beta=0.05), preference_set=TINY_SET,
                            root=tiny_zoo, eval_config=QUICK_EVAL)
    assert (metrics["train_pairs"], metrics["heldout_pairs"], metrics["steps"]) == (4, 2, 1)
    entry = zoo.info("dpo", root=tiny_zoo)
    assert (entry["kind"], entry["format"], entry["parent"]) == ("causal-lm", "chat", "sft")
    assert entry["config"]["beta"] == 0.2 and entry["config"]["batch_size"] == 4
    assert entry["metrics"] == metrics and 0 <= metrics["implicit_heldout_accuracy"] <= 1


@pytest.mark.slow
def test_kto_drops_desirable_examples_and_reweights(tiny_zoo, monkeypatch):
    monkeypatch.setattr(preferences, "sample", scripted_policy)
    tiny_set = PreferenceSet(n_prompts=8, samples_per_prompt=2, n_heldout_prompts=2)
    metrics = recipes.build("kto", preference_set=tiny_set, drop_fraction=0.5, root=tiny_zoo, eval_config=QUICK_EVAL)
    assert (metrics["train_desirable"], metrics["train_undesirable"]) == (4, 8)
    entry = zoo.info("kto", root=tiny_zoo)
    assert entry["config"]["desirable_weight"] == pytest.approx(8 / 4 * 4 / 3, abs=1e-3)
    assert entry["metrics"] == metrics and entry["command"] == "alignkit zoo build kto --seed 0"
    recipes.build("kto", settings=KTOSettings(desirable_weight=2.5, batch_size=4), preference_set=tiny_set,
                  drop_fraction=0.5, root=tiny_zoo, eval_config=QUICK_EVAL, save_as="kto-passed")
    assert zoo.info("kto-passed", root=tiny_zoo)["config"]["desirable_weight"] == 2.5  # passed settings win


def test_cli_build_passes_seed_and_root_to_the_recipe(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(recipes, "build", lambda name, **kwargs: calls.append((name, kwargs)))
    assert alignkit_main(["zoo", "build", "sft", "--seed", "5", "--root", str(tmp_path)]) == 0
    assert calls == [("sft", {"seed": 5, "root": str(tmp_path)})]


@pytest.mark.slow
def test_remeasure_records_todays_harness_without_touching_the_weights(tiny_zoo):
    files = zoo.info("sft", root=tiny_zoo)["files"]
    zoo.update_metrics("sft", {"gold_reward": -1.0}, root=tiny_zoo)
    metrics = recipes.remeasure("sft", root=tiny_zoo, eval_config=QUICK_EVAL)
    entry = zoo.info("sft", root=tiny_zoo)
    assert entry["metrics"]["gold_reward"] == metrics["gold_reward"] >= 0 and "gold_reward_se" in entry["metrics"]
    assert entry["files"] == files and not zoo.verify("sft", root=tiny_zoo)
    with pytest.raises(CheckpointError, match="measures itself"):
        recipes.remeasure("rm", root=tiny_zoo)


@pytest.mark.slow
def test_feedback_fine_tunes_base_on_reviews_and_measures_unseen_ones(tiny_zoo):
    metrics = recipes.build("feedback", settings=TINY_FEEDBACK, root=tiny_zoo)
    info = zoo.info("feedback", root=tiny_zoo)
    assert (info["format"], info["parent"], info["seed"]) == ("document", "base", 3)
    assert (info["config"]["n_reviews"], info["config"]["n_critiques"]) == (16, 16)
    assert metrics["steps"] == 4  # 16 reviews + 16 editors' notes, 8 a step, one epoch
    assert 0.0 <= metrics["validation_review_accuracy"] <= 1.0


# --- chapter 05: sl-cai, then rlaif-dpo and rl-cai from it ----------------------------------------------------

@pytest.fixture(scope="module")
def sl_cai_zoo(tiny_zoo):
    """tiny_zoo with a feedback model (unless the feedback test built one) and sl-cai; sl-cai's build metrics."""
    if "feedback" not in zoo.names(root=tiny_zoo):
        recipes.build("feedback", settings=TINY_FEEDBACK, root=tiny_zoo)
    metrics = recipes.build("sl-cai", settings=SLCAISettings(samples_per_prompt=1),
                            sft_settings=SFTSettings(epochs=0.01, batch_size=32), root=tiny_zoo,
                            eval_config=QUICK_EVAL)
    return tiny_zoo, metrics


@pytest.mark.slow
def test_sl_cai_trains_base_on_a_revision_of_every_red_team_answer(sl_cai_zoo):
    root, metrics = sl_cai_zoo
    entry = zoo.info("sl-cai", root=root)
    assert (entry["kind"], entry["format"], entry["parent"]) == ("causal-lm", "chat", "base")
    red_team = red_team_prompts(read_jsonl("prompts_sft.jsonl"))
    assert metrics["revised_answers"] == len(red_team) > 0  # one sampled answer per red-team prompt
    n_helpful = len(helpful_demonstrations(read_jsonl("sft.jsonl"), red_team))
    assert n_helpful <= metrics["training_rows"] <= n_helpful + len(red_team)  # empty revisions are dropped
    assert 0 <= metrics["revisions_changed"] <= 1
    assert entry["config"]["samples_per_prompt"] == 1 and entry["config"]["sft"]["epochs"] == 0.01
    assert "gold_reward" in entry["metrics"]  # the harness measured it as a chat model


@pytest.mark.slow
def test_rlaif_dpo_trains_on_ai_labels_for_red_team_pairs_and_human_ones_for_the_rest(sl_cai_zoo, monkeypatch):
    root, _ = sl_cai_zoo
    monkeypatch.setattr(preferences, "sample", scripted_policy)  # sample_pairs samples through it
    metrics = recipes.build("rlaif-dpo", pairs_config=TINY_CAI_PAIRS, settings=DPOSettings(batch_size=8),
                            root=root, eval_config=QUICK_EVAL)
    n_red_team = len(red_team_prompts(read_jsonl("prompts_sft.jsonl")))
    assert metrics["human_labels"] == 4 and 0 < metrics["ai_labels"] <= n_red_team  # exact ties dropped
    entry = zoo.info("rlaif-dpo", root=root)
    assert (entry["format"], entry["parent"]) == ("chat", "sl-cai")
    assert entry["config"]["pairs"]["n_helpful_prompts"] == 4 and entry["config"]["batch_size"] == 8


@pytest.mark.slow
def test_rl_cai_trains_a_preference_model_then_ppo_from_sl_cai(sl_cai_zoo, monkeypatch):
    root, _ = sl_cai_zoo
    monkeypatch.setattr(preferences, "sample", scripted_policy)
    settings = PPOSettings(batch_size=4, minibatch_size=2, max_new_tokens=8)
    metrics = recipes.build("rl-cai", pairs_config=TINY_CAI_PAIRS, reward_settings=RewardSettings(batch_size=8),
                            settings=settings, steps=1, root=root, eval_config=QUICK_EVAL)
    assert metrics["ai_labels"] > 0 and metrics["human_labels"] == 4 and metrics["steps"] == 1
    assert 0 <= metrics["preference_model_train_ai_accuracy"] <= 1 and "train_rm_score" in metrics
    entry = zoo.info("rl-cai", root=root)
    assert (entry["format"], entry["parent"]) == ("chat", "sl-cai")
    assert entry["config"]["steps"] == 1 and entry["config"]["reward"]["batch_size"] == 8
