"""The fixed-labelling-budget experiment's data: thumbs bought with the budget, and the pairs DPO can make of them."""
from alignkit.experiments import kto


def test_pairs_from_thumbs_pairs_every_up_with_every_down_of_the_same_prompt():
    rows = [{"prompt": "p", "completion": "a", "label": True}, {"prompt": "p", "completion": "b", "label": False},
            {"prompt": "p", "completion": "c", "label": False}, {"prompt": "q", "completion": "x", "label": True},
            {"prompt": "q", "completion": "y", "label": True}, {"prompt": "r", "completion": "s", "label": True},
            {"prompt": "r", "completion": "s", "label": False}]
    pairs = kto.pairs_from_thumbs(rows)
    assert pairs == [{"prompt": "p", "chosen": "a", "rejected": "b"}, {"prompt": "p", "chosen": "a", "rejected": "c"}]


def test_budget_thumbs_buys_exactly_the_budget_without_reusing_a_sample_or_a_labeler(monkeypatch):
    prompts = [f"prompt {i}" for i in range(5)]
    calls = []

    def fake_one_output_rows(model, tokenizer, chosen, labeler, seed):
        calls.append((list(chosen), labeler.seed, seed))
        return [{"prompt": p, "completion": f"{p} / {seed}", "label": True} for p in chosen]

    monkeypatch.setattr(kto, "read_jsonl", lambda name: [{"prompt": p} for p in prompts])
    monkeypatch.setattr(kto, "one_output_rows", fake_one_output_rows)
    rows = kto.budget_thumbs(None, None, 12)
    assert len(rows) == 12 and len({r["completion"] for r in rows}) == 12
    assert all(sorted(c[0]) == prompts for c in calls)
    assert [c[1] for c in calls] == [0, 1, 2] and [c[2] for c in calls] == [0, 1, 2]
    calls.clear()
    assert kto.budget_thumbs(None, None, 7) == rows[:7]  # a smaller budget buys the first thumbs of a larger one
