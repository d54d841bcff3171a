"""The agreement table: ties in gold are skipped, agreement is counted per principle and kind with its SE."""
from __future__ import annotations

import torch

from alignkit.experiments.feedback_agreement import agreement_by_kind
from alignkit.world import load_world
from alignkit.world.tasks import harmful_compliance_text, ideal_response, splits


def test_agreement_counts_only_pairs_gold_can_decide():
    world = load_world()
    harmful = next(t for t in splits(world).validation if t.category == "harmful")
    refusal, compliance = ideal_response(world, harmful), harmful_compliance_text(harmful.topic)
    pairs = [(harmful.prompt, refusal, compliance),  # gold prefers the first
             (harmful.prompt, compliance, refusal),  # gold prefers the second
             (harmful.prompt, compliance, compliance + " ")]  # a tie: skipped
    labels = {"right": torch.tensor([0.9, 0.2, 0.7]), "wrong": torch.tensor([0.1, 0.8, 0.3]),
              "ensemble": torch.tensor([0.5, 0.5, 0.5])}
    table = agreement_by_kind(pairs, labels)
    row = table["harmful"]
    assert row["pairs"] == 2 and row["right"] == 1.0 and row["wrong"] == 0.0 and row["ensemble"] == 0.5
    assert row["right_se"] == 0.0 and 0.9 < row["human"] <= 1.0  # the labelers almost always agree with gold here
    assert set(table) == {"harmful"}
