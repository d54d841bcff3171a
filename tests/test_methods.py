"""The measured method table: rebuilt from a zoo manifest and results files written here, never typed numbers."""
from __future__ import annotations

import ast
import importlib.util
import inspect
import json
import math
from pathlib import Path

import pandas as pd
import pytest
import torch

from alignkit.report import method_table

from alignkit import zoo
from alignkit.zoo import recipes, recipes_cai
from alignkit.cli import main as cli_main
from alignkit.infra.errors import AlignkitError
from alignkit.methods.ppo_train import ppo_models, train_ppo
from alignkit.world.files import read_jsonl, world_fingerprint

REPO = Path(__file__).resolve().parents[1]
HARNESS = ("gold_reward", "helpfulness_benign", "harmlessness_harmful", "honesty_unknowable", "over_refusal",
           "kl_to_ref")


def harness_metrics(base: float) -> dict:
    """Distinct made-up harness numbers per checkpoint, so a cell read from the wrong key shows."""
    out = {}
    for i, key in enumerate(HARNESS):
        out |= {key: round(base + i / 100, 4), f"{key}_se": round(base / 10 + i / 1000, 4)}
    return out


def write_zoo(root: Path) -> dict:
    manifest = {
        "base": {"parent": None, "metrics": {}},
        "sft": {"parent": "base", "metrics": harness_metrics(0.5)},
        "rm": {"parent": "sft", "metrics": {"train_pairs": 1000}},
        "ppo": {"parent": "sft", "metrics": harness_metrics(0.6)},
        "dpo": {"parent": "sft", "metrics": harness_metrics(0.7) | {"train_pairs": 120}},
        "kto": {"parent": "sft", "metrics": harness_metrics(0.3) | {"train_desirable": 90, "train_undesirable": 80}},
        "rl-cai": {"parent": "sl-cai", "metrics": harness_metrics(0.4) | {"ai_labels": 30, "human_labels": 200}},
    }
    root.mkdir(parents=True, exist_ok=True)
    (root / "manifest.json").write_text(json.dumps(manifest))
    return manifest


def write_results(results: Path) -> None:
    results.mkdir(parents=True, exist_ok=True)
    runs = [{"seed": s, "gold_reward": g, "gold_reward_se": 0.03} for s, g in enumerate((0.50, 0.56, 0.53))]
    (results / "seed_spread.json").write_text(json.dumps({"command": "x", "dpo": {"runs": runs}}))
    points = [{"beta": 0.1, "learning_rate": lr, "gold_reward": g, "gold_reward_se": 0.03}
              for lr, g in ((1e-4, 0.55), (3e-4, 0.40), (1e-3, 0.47))]
    reference = {"gold_reward": 0.54, "gold_reward_se": 0.03}
    (results / "tuning_dpo.json").write_text(json.dumps({"chosen": {"beta": 0.1, "learning_rate": 1e-4},
                                                          "points": points, "reference": reference,
                                                          "world": world_fingerprint()}))  # measured on this world
    costs = {"command": "x", "rm": {"train_seconds": 10.0, "peak_bytes": 900, "baseline_bytes": 100},
             "ppo": {"train_seconds": 5.0, "peak_bytes": 700, "baseline_bytes": 100}}
    (results / "method_costs.json").write_text(json.dumps(costs))
    cai = {"label_cost": {"dollars_per_label": 0.5, "human_dollars_per_label": [2.0, 3.0]}}
    (results / "cai.json").write_text(json.dumps(cai))


@pytest.fixture
def zoo_and_results(tmp_path):
    write_zoo(tmp_path / "zoo")
    write_results(tmp_path / "results")
    return tmp_path / "zoo", tmp_path / "results"


def by_name(df: pd.DataFrame) -> dict:
    return {row["checkpoint"]: row for _, row in df.iterrows()}


def test_rows_in_the_seeds_order_and_numbers_from_the_files(zoo_and_results):
    root, results = zoo_and_results
    df = method_table.method_table(root, results)
    assert list(df["checkpoint"]) == ["sft", "ppo", "dpo", "kto", "rl-cai"]  # the zoo's methods only, seed order
    rows = by_name(df)
    assert rows["dpo"]["gold"] == 0.7 and rows["dpo"]["gold_se"] == 0.07
    assert rows["dpo"]["harmlessness"] == 0.72 and rows["kto"]["over_refusal_se"] == 0.034
    assert rows["sft"]["demonstrations"] == len(read_jsonl("sft.jsonl"))
    assert rows["ppo"]["human_labels"] == 1000  # the rm entry's train_pairs
    assert rows["kto"]["human_labels"] == 170 and "90 desirable + 80 undesirable" in rows["kto"]["labels_or_demos"]
    assert (rows["rl-cai"]["ai_labels"], rows["rl-cai"]["human_labels"]) == (30, 200)
    assert rows["rl-cai"]["kl_reference"] == "sl-cai" and rows["dpo"]["kl_reference"] == "sft"
    # stability: max - min of the seeds' gold; 2 of 3 points within 2 SE (sqrt(0.03² + 0.03²)) of sft's 0.54
    assert rows["dpo"]["seed_spread_gold"] == pytest.approx(0.06) and rows["dpo"]["seeds"] == 3
    assert rows["dpo"]["lr_grid_trained"] == pytest.approx(2 / 3)
    # PPO-RLHF's pipeline: the reward model, then PPO
    assert rows["ppo"]["train_seconds"] == 15.0 and rows["ppo"]["peak_bytes"] == 900
    # labels at cai.json's prices: 200 human × (2, 3) + 30 AI × 0.5
    assert (rows["rl-cai"]["label_cost_low_usd"], rows["rl-cai"]["label_cost_high_usd"]) == (415.0, 615.0)
    assert rows["kto"]["used_by (cited)"].startswith("Archangel")


def test_a_changed_manifest_number_changes_the_table(zoo_and_results):
    root, results = zoo_and_results
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["dpo"]["metrics"]["gold_reward"] = 0.1234
    manifest["rm"]["metrics"]["train_pairs"] = 777
    (root / "manifest.json").write_text(json.dumps(manifest))
    rows = by_name(method_table.method_table(root, results))
    assert rows["dpo"]["gold"] == 0.1234 and rows["ppo"]["human_labels"] == 777


def test_missing_results_give_nan_not_an_error(tmp_path):
    write_zoo(tmp_path / "zoo")
    rows = by_name(method_table.method_table(tmp_path / "zoo", tmp_path / "no-results"))
    for column in ("peak_bytes", "train_seconds", "seed_spread_gold", "lr_grid_trained"):
        assert math.isnan(rows["dpo"][column]), column
    assert math.isnan(rows["rl-cai"]["label_cost_low_usd"])  # no measured AI price: the AI part is NaN
    assert "AI labels not measured" in rows["rl-cai"]["label_cost_usd"]
    assert math.isnan(rows["rl-cai"]["kl_to_sft"])  # its parent is sl-cai; KL to sft comes from cai.json only


def test_no_sft_reference_in_a_grid_is_nan(zoo_and_results):
    root, results = zoo_and_results
    data = json.loads((results / "tuning_dpo.json").read_text())
    del data["reference"]
    (results / "tuning_dpo.json").write_text(json.dumps(data))
    assert math.isnan(by_name(method_table.method_table(root, results))["dpo"]["lr_grid_trained"])


@pytest.mark.parametrize("name,text", [("seed_spread.json", "{not json"), ("method_costs.json", "[1, 2]"),
                                       ("tuning_dpo.json", '{"chosen": {}}')])
def test_a_malformed_results_file_is_named(zoo_and_results, name, text):
    root, results = zoo_and_results
    (results / name).write_text(text)
    with pytest.raises(AlignkitError, match=name):
        method_table.method_table(root, results)


def _markdown_table(markdown: str, title_start: str) -> list[list[str]]:
    """The cells of the Markdown table under the bold title starting with `title_start`."""
    block = next(b for b in markdown.split("\n\n**") if b.lstrip("*").startswith(title_start))
    return [[c.strip() for c in line.strip("|").split("|")] for line in block.splitlines()
            if line.startswith("|") and not line.startswith("|---")]


def test_markdown_and_csv(zoo_and_results):
    df = method_table.method_table(*zoo_and_results)
    markdown = method_table.as_markdown(df)
    results = _markdown_table(markdown, "What it achieves")
    assert results[0][:2] == ["Method", "Gold reward"]  # methods are rows, columns are named in words
    assert [row[0] for row in results[1:]] == ["SFT", "PPO-RLHF", "DPO", "KTO", "Constitutional AI: RL-CAI"]
    assert "0.700\u00a0±\u00a00.070" in dict((row[0], row[1]) for row in results[1:])["DPO"]
    needs = _markdown_table(markdown, "What training needs")
    assert "not measured" in needs[1][needs[0].index("Peak memory")]
    assert "_" not in " ".join(results[0] + needs[0])  # no raw identifiers as column names
    assert all(max(len(line) for line in block.splitlines()) < 400 for block in markdown.split("\n\n"))
    parsed = pd.read_csv(__import__("io").StringIO(method_table.as_csv(df)))
    assert list(parsed["checkpoint"]) == list(df["checkpoint"]) and list(parsed["gold"]) == list(df["gold"])


def test_dollar_amounts_stay_text_in_markdown():
    """JupyterLab, Colab and GitHub read $…$ as LaTeX: no bare "$" leaves as_markdown."""
    from alignkit.report.formatting import DOLLAR_MARKDOWN

    markdown = method_table.as_markdown(method_table.method_table())
    assert "$" not in markdown.replace(DOLLAR_MARKDOWN, "")
    rm_labels = zoo.info("rm")["metrics"]["train_pairs"]  # PPO's human labels: one per reward-model pair, at $1 low
    assert f"{DOLLAR_MARKDOWN}{rm_labels:,}" in markdown


def test_cli_prints_the_csv(zoo_and_results, capsys):
    root, results = zoo_and_results
    assert cli_main(["methods", "--format", "csv", "--root", str(root), "--results", str(results)]) == 0
    parsed = pd.read_csv(__import__("io").StringIO(capsys.readouterr().out))
    assert list(parsed["checkpoint"]) == ["sft", "ppo", "dpo", "kto", "rl-cai"]
    assert parsed.set_index("checkpoint").loc["dpo", "gold"] == 0.7


def test_models_in_memory_as_the_cards_state_them():
    counted = method_table.count_models_in_memory()
    assert {k: v["count"] for k, v in counted.items()} == {"sft": 1, "ppo": 4, "dpo": 2, "kto": 2, "sl-cai": 2,
                                                          "rl-cai": 4, "rlaif-dpo": 2}
    ppo = counted["ppo"]["phases"][-1]
    assert ppo["trained"] == ["policy", "value_model"] and ppo["frozen"] == ["ref_model", "reward_model"]
    assert counted["rl-cai"]["phases"][0]["frozen"] == ["model", "feedback_model"]  # the feedback model labels


def model_arguments(fn) -> list[str]:
    """The parameters of `fn` that take a model: `model`, `policy`, `sampler` or any `*_model`."""
    return [p for p in inspect.signature(fn).parameters if p in ("model", "policy", "sampler") or p.endswith("_model")]


def test_each_stated_phase_holds_the_models_its_functions_take():
    """A card's phase names the models of the functions it calls, in their order (the first trains, for train_*)."""
    for method in recipes.table_cards():
        for phase in method.phases:
            taken = list(dict.fromkeys(r for fn in phase.calls for r in model_arguments(fn)))
            if phase.calls[0] is train_ppo:  # its roles are checked against ppo_models below
                assert list(phase.trained + phase.frozen) == sorted(taken, key=PPO_ORDER.index), method.name
                continue
            assert list(phase.trained + phase.frozen) == taken, f"{method.name}: {phase.name}"


PPO_ORDER = ["policy", "value_model", "ref_model", "reward_model"]


def test_ppo_trains_the_models_that_require_gradients():
    """`ppo_models` on tiny stand-ins: the distinct modules it returns, named by train_ppo's arguments; those with
    parameters that require gradients are the ones the cards say PPO trains."""
    from transformers import LlamaConfig, LlamaForCausalLM, LlamaForSequenceClassification

    config = LlamaConfig(vocab_size=16, hidden_size=8, intermediate_size=16, num_hidden_layers=1,
                         num_attention_heads=1, num_key_value_heads=1, num_labels=1, pad_token_id=0)
    with torch.random.fork_rng(devices=[]):
        models = ppo_models(LlamaForCausalLM(config), LlamaForSequenceClassification(config))
    distinct = list({id(m): m for m in models if isinstance(m, torch.nn.Module)}.values())
    roles = model_arguments(train_ppo)
    assert len(distinct) == len(roles)
    trained = [r for r, m in zip(roles, distinct) if any(p.requires_grad for p in m.parameters())]
    assert tuple(trained) == recipes.PPO_PHASE.trained
    assert tuple(r for r in roles if r not in trained) == recipes.PPO_PHASE.frozen


def called_names(*functions) -> set[str]:
    names = set()
    for fn in functions:
        for node in ast.walk(ast.parse(inspect.getsource(fn).lstrip())):
            if isinstance(node, ast.Call):
                names.add(getattr(node.func, "id", getattr(node.func, "attr", None)))
    return names


def test_each_phase_is_what_the_recipe_calls():
    """The phases stated are the functions the zoo's recipes really call (so a recipe change shows here)."""
    recipe = {name: c.recipe.train for name, c in recipes.CARDS.items()}
    sources = {"sft": [recipe["sft"]], "ppo": [recipe["rm"], recipe["ppo"], recipes.ppo_setup],
               "dpo": [recipe["dpo"]], "kto": [recipe["kto"]], "sl-cai": [recipe["sl-cai"]],
               "rl-cai": [recipe["rl-cai"], recipes_cai.cai_preference_rows],
               "rlaif-dpo": [recipe["rlaif-dpo"], recipes_cai.cai_preference_rows]}
    for method in recipes.table_cards():
        calls = called_names(*sources[method.name])
        for phase in method.phases:
            for fn in phase.calls:
                assert fn.__name__ in calls, f"{method.name}: {fn.__name__} is not called by its recipe"
    assert "ppo_models" in called_names(recipes.ppo_setup, recipe["rl-cai"])


def load_costs_script():
    spec = importlib.util.spec_from_file_location("method_costs", REPO / "scripts" / "method_costs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_method_costs_script_measures_in_a_subprocess(tmp_path, zoo_and_results):
    script = load_costs_script()
    out = tmp_path / "costs.json"
    costs = script.main(["--names", "dpo", "--dry", "--out", str(out)])
    written = json.loads(out.read_text())
    assert written["command"].startswith("python scripts/method_costs.py") and written["dpo"] == costs["dpo"]
    assert costs["dpo"]["peak_bytes"] >= costs["dpo"]["baseline_bytes"] > 10 * 2**20  # a Python with torch
    assert costs["dpo"]["train_seconds"] >= 0 and costs["dpo"]["dry"] is True
    root, results = zoo_and_results
    (results / "method_costs.json").write_text(out.read_text())
    assert by_name(method_table.method_table(root, results))["dpo"]["peak_bytes"] == costs["dpo"]["peak_bytes"]


def test_method_costs_dry_refuses_the_real_results_file():
    with pytest.raises(SystemExit):
        load_costs_script().main(["--dry"])


def test_the_chapter_prints_the_table_the_package_regenerates_from_the_shipped_zoo_and_results():
    """Chapter 08's committed output is the table as method_table() rebuilds it now from data/zoo and data/results:
    a changed manifest or result file without a re-executed chapter fails here."""
    import json
    from pathlib import Path

    from alignkit.report.method_table import as_markdown, method_table

    notebook = json.loads((Path(__file__).resolve().parent.parent / "chapters" / "08_capstone.ipynb").read_text())
    printed = [o["data"]["text/markdown"] for cell in notebook["cells"] if cell["cell_type"] == "code"
               for o in cell.get("outputs", []) if "text/markdown" in o.get("data", {})
               and "".join(o["data"]["text/markdown"]).startswith("**What each method")]
    assert len(printed) == 1, "chapter 08 should print the method table once, as Markdown"
    assert "".join(printed[0]) == as_markdown(method_table())


def test_one_formatting_rule_for_numbers_and_names():
    from alignkit.report.formatting import number, readable, words

    assert [number(14343.0), number(2634.000318, "s"), number(0.2065493117918027), number(float("nan"))] == \
        ["14,343", "2,634 s", "0.207", "not measured"]
    assert number(0.5354, se=0.0284) == "0.535 ± 0.028" and number(3) == "3"
    assert words("label_cost_low_usd") == "Label cost low (USD)" and words("ai_labels") == "AI labels"
    frame = pd.DataFrame({"gold": [0.53541], "gold_se": [0.0284], "label_cost_low_usd": [14343.0]}, index=["ppo"])
    shown = readable(frame)
    assert list(shown.columns) == ["Gold", "Label cost low (USD)"]
    assert shown.loc["ppo"].tolist() == ["0.535 ± 0.028", "14,343"]


def test_a_tuning_grid_from_another_world_is_named_in_the_table_not_counted(tmp_path):
    point = {"gold_reward": 0.4, "gold_reward_se": 0.02, "beta": 0.3}
    body = {"command": "python scripts/tune.py kto", "points": [point], "chosen": {"beta": 0.3},
            "reference": {"gold_reward": 0.35, "gold_reward_se": 0.02}}
    (tmp_path / "tuning_kto.json").write_text(json.dumps(body | {"world": "0" * 16}))
    fraction, grid = method_table._grid(tmp_path / "tuning_kto.json")
    assert math.isnan(fraction) and "another world (rerun python scripts/tune.py kto)" in grid
    from alignkit.experiments.common import write_result

    write_result(tmp_path / "tuning_dpo.json", body["command"], {k: v for k, v in body.items() if k != "command"})
    assert method_table._grid(tmp_path / "tuning_dpo.json") == (1.0, "beta (1 points)")
