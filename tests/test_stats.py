"""The statistics layer: one verdict rule, paired vs unpaired differences, clustered SEs, sentences, tables, results."""
import json
import math
import warnings

import pandas as pd
import pytest

from alignkit.infra.errors import DataFileError
from alignkit.measure import stats
from alignkit.measure.evaluate import paired_difference


def test_verdict_at_above_and_below_two_standard_errors():
    assert stats.verdict(0.2, 0.1) == "within noise"  # exactly 2 SE does not clear it
    assert stats.verdict(-0.2, 0.1) == "within noise"
    assert stats.verdict(0.2001, 0.1) == "A higher"
    assert stats.verdict(-0.2001, 0.1) == "B higher"
    assert stats.verdict(0.05, 0.1) == "within noise"
    assert stats.verdict(0.3, 0.1, higher="better", lower="worse") == "better"
    assert stats.verdict(0.0, 0.0) == "within noise"


def test_mean_and_se_matches_the_textbook_formula():
    values = [0.0, 1.0, 1.0, 0.0, 1.0]
    mean, se = stats.mean_and_se(values)
    assert mean == 0.6 and se == round(pd.Series(values).std(ddof=1) / math.sqrt(5), 4)
    assert stats.mean_and_se([0.7]) == (0.7, 0.0)
    assert all(math.isnan(x) for x in stats.mean_and_se([]))


def test_clustered_se_against_a_hand_computation():
    values = [1.0, 0.0, 1.0, 1.0, 0.0]
    prompts = ["p", "p", "q", "r", "r"]
    mean, se = stats.clustered_mean_and_se(values, prompts)
    # residuals from the mean 0.6: p: 0.4 - 0.6 = -0.2; q: 0.4; r: 0.4 - 0.6 = -0.2
    assert mean == pytest.approx(0.6)
    assert se == pytest.approx(math.sqrt(0.2 ** 2 + 0.4 ** 2 + 0.2 ** 2) / 5)
    # one value per prompt: sqrt(sum of squared residuals) / N
    _, independent = stats.clustered_mean_and_se(values, range(5))
    assert independent == pytest.approx(math.sqrt(sum((v - 0.6) ** 2 for v in values)) / 5)


def _frame(golds):
    return pd.DataFrame({"prompt": [f"p{i}" for i in range(len(golds))], "gold": golds, "category": "fact"})


def test_paired_and_unpaired_differences_differ_only_in_their_standard_error():
    a = _frame([0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    b = _frame([0.45, 0.55, 0.65, 0.75, 0.85, 0.9])  # close to a, prompt by prompt
    paired = paired_difference(a, b, "gold_reward")
    summary = lambda df: {"gold_reward": stats.mean_and_se(df.gold)[0],  # noqa: E731 - a one-line summary, local to this test
                          "gold_reward_se": stats.mean_and_se(df.gold)[1]}
    unpaired = stats.unpaired_difference(summary(a), summary(b), "gold_reward")
    assert paired["difference"] == pytest.approx(unpaired["difference"], abs=1e-4)
    assert paired["se"] < unpaired["se"]  # pairing removes the prompts' shared difficulty
    assert paired["verdict"] == "A higher" and unpaired["verdict"] == "within noise"
    assert unpaired["se"] == pytest.approx(math.hypot(summary(a)["gold_reward_se"], summary(b)["gold_reward_se"]))
    assert set(paired) <= set(unpaired) and unpaired["paired"] is False


def test_the_sentence_names_both_sides_and_the_verdict():
    diff = {"key": "gold_reward", "a": 0.55, "b": 0.498, "difference": 0.052, "se": 0.014, "n_prompts": 222,
            "verdict": "A higher"}
    assert stats.sentence(diff, "ppo", "sft") == \
        "gold_reward: ppo − sft = +0.052 ± 0.014 (0.550 vs 0.498, paired over 222 prompts): ppo higher"
    lower = diff | {"difference": -0.052, "verdict": "B higher"}
    assert stats.sentence(lower, "ppo", "sft").endswith("= -0.052 ± 0.014 (0.550 vs 0.498, paired over 222 prompts): sft higher")
    unpaired = stats.unpaired_difference({"x": 0.5, "x_se": 0.1}, {"x": 0.4, "x_se": 0.1}, "x")
    assert stats.sentence(unpaired, "kto", "dpo", digits=2) == "x: kto − dpo = +0.10 ± 0.14 (0.50 vs 0.40, unpaired): within noise"
    assert stats.verdict_words(lower, "ppo", "sft") == "sft higher"


def test_se_table_has_a_column_per_model_and_a_dash_where_not_measured():
    table = stats.se_table({"sft": {"gold_reward": 0.52, "gold_reward_se": 0.033, "kl_to_ref": None},
                            "dpo": {"gold_reward": 0.5764, "gold_reward_se": 0.0331, "kl_to_ref": 0.209,
                                    "kl_to_ref_se": 0.022}}, ["gold_reward", "kl_to_ref"])
    assert list(table.columns) == ["sft", "dpo"] and list(table.index) == ["gold_reward", "kl_to_ref"]
    assert table.loc["gold_reward", "dpo"] == "0.576 ± 0.033"
    assert table.loc["kl_to_ref", "sft"] == "–"
    assert stats.se_table({"m": {"k": 0.5, "k_se": 0.01}}, ["k"], digits=2).loc["k", "m"] == "0.50 ± 0.01"


def test_load_result_reads_the_results_folder_and_names_the_command_for_a_missing_file(tmp_path, monkeypatch):
    monkeypatch.setenv("ALIGNKIT_REPO", str(tmp_path))
    with pytest.raises(DataFileError) as missing:
        stats.load_result("seed_spread")
    message = str(missing.value)
    assert str(tmp_path / "data" / "results" / "seed_spread.json") in message
    assert "python scripts/seed_spread.py" in message
    with pytest.raises(DataFileError, match="scripts/tune.py dpo"):
        stats.load_result("tuning_dpo")
    assert stats.load_result("seed_spread", missing_ok=True) == {}
    (tmp_path / "data" / "results").mkdir(parents=True)
    (tmp_path / "data" / "results" / "frontier.json").write_text('{"command": "python scripts/frontier.py"}')
    assert stats.load_result("frontier")["command"] == "python scripts/frontier.py"
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(DataFileError, match="bad.json"):
        stats.load_result(tmp_path / "bad.json")


def test_a_result_records_its_world_and_one_from_another_world_warns(tmp_path):
    from alignkit.experiments.common import write_result
    from alignkit.world.files import world_fingerprint

    here = write_result(tmp_path / "here.json", "python scripts/frontier.py", {"points": [1]})
    assert json.loads(here.read_text())["world"] == world_fingerprint()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert stats.load_result(here)["points"] == [1]
    (tmp_path / "other.json").write_text(json.dumps({"command": "c", "world": "0" * 16}))
    with pytest.warns(stats.OtherWorldWarning, match="other.json was measured on another world.*Rerun"):
        stats.load_result(tmp_path / "other.json")
    (tmp_path / "frontier.json").write_text(json.dumps({"command": "c"}))
    with pytest.warns(stats.OtherWorldWarning, match="an earlier world.*python scripts/frontier.py"):
        stats.load_result(tmp_path / "frontier.json")


def test_the_world_fingerprint_follows_every_world_file(tmp_path):
    from alignkit.world.files import world_fingerprint

    (tmp_path / "prompts_test.jsonl").write_text('{"prompt": "a"}\n')
    (tmp_path / "world.json").write_text("{}")
    before = world_fingerprint(tmp_path)
    assert world_fingerprint(tmp_path) == before
    (tmp_path / "prompts_test.jsonl").write_text('{"prompt": "b"}\n')
    assert world_fingerprint(tmp_path) != before
    (tmp_path / "prompts_test.jsonl").rename(tmp_path / "prompts_other.jsonl")
    assert len({before, world_fingerprint(tmp_path)}) == 2


def test_harm_help_points_keep_each_axis_with_its_standard_error():
    points = stats.harm_help_points({
        "sft": {"helpfulness_benign": 0.65, "helpfulness_benign_se": 0.03, "harmlessness_harmful": 0.33,
                "harmlessness_harmful_se": 0.05},
        "old": {"helpfulness_benign": 0.5, "helpfulness_benign_se": 0.02}})
    assert list(points.columns) == ["model", "helpfulness", "helpfulness_se", "harmlessness", "harmlessness_se"]
    sft = points.set_index("model").loc["sft"]
    assert (sft.helpfulness, sft.helpfulness_se, sft.harmlessness, sft.harmlessness_se) == (0.65, 0.03, 0.33, 0.05)
    assert math.isnan(points.set_index("model").loc["old", "harmlessness"])


def test_the_plane_plots_one_point_per_measured_model_with_its_error_bars():
    from alignkit.viz import labeled_scatter

    points = stats.harm_help_points({
        "sft": {"helpfulness_benign": 0.65, "helpfulness_benign_se": 0.03, "harmlessness_harmful": 0.33,
                "harmlessness_harmful_se": 0.05},
        "old": {"helpfulness_benign": 0.5, "helpfulness_benign_se": 0.02}})
    figure = labeled_scatter(points, "helpfulness", "harmlessness", "model", x_se="helpfulness_se",
                             y_se="harmlessness_se")
    assert [trace.name for trace in figure.data] == ["sft"]  # "old" has no harmlessness: not plotted
    assert list(figure.data[0].error_x.array) == [0.03] and list(figure.data[0].error_y.array) == [0.05]


def test_claim_verdict_calls_a_claim_reproduced_only_beyond_two_standard_errors():
    from alignkit.measure.stats import claim_verdict

    def diff(d, se):
        return {"difference": d, "se": se, "verdict": stats.verdict(d, se)}

    assert "reproduced (+0.050 ± 0.020" in claim_verdict(diff(0.05, 0.02), "KTO beats DPO")
    assert "not shown here (within noise: +0.030 ± 0.020)" in claim_verdict(diff(0.03, 0.02), "KTO beats DPO")
    assert "contradicted here (-0.050" in claim_verdict(diff(-0.05, 0.02), "KTO beats DPO")
    assert "reproduced" in claim_verdict(diff(-0.05, 0.02), "KTO lowers length", expected="B higher")
