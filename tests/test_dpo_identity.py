"""Chapter 06's enumerable DPO identity: the cell marked `# dpo-identity` recovers r from pi* and pi_ref up to
a per-prompt constant (beta log Z(x)) and its Bradley-Terry likelihoods agree; with a wrong beta neither holds."""
import json
from pathlib import Path

import pytest
import torch

NOTEBOOK = Path(__file__).resolve().parents[1] / "chapters" / "06_dpo.ipynb"
MARKER = "# dpo-identity"


def identity_cell() -> str:
    cells = [c for c in json.loads(NOTEBOOK.read_text())["cells"]
             if c["cell_type"] == "code" and MARKER in "".join(c["source"])]
    assert len(cells) == 1, f"expected exactly one code cell marked {MARKER!r} in {NOTEBOOK.name}, found {len(cells)}"
    return "".join(cells[0]["source"])


@pytest.fixture(scope="module")
def cell():
    namespace: dict = {}
    exec(compile(identity_cell(), f"{NOTEBOOK.name}:dpo-identity", "exec"), namespace)  # the notebook's own code
    return namespace


def test_cell_is_checked_by_nbval():
    cells = [c for c in json.loads(NOTEBOOK.read_text())["cells"]
             if c["cell_type"] == "code" and MARKER in "".join(c["source"])]
    assert "nbval-check-output" in cells[0].get("metadata", {}).get("tags", [])  # nbval's tag (tests/notebook_markers.py)


def test_reward_recovered_up_to_a_per_prompt_constant(cell):
    offset = cell["reward"] - cell["implicit"]  # [X, Y]
    assert torch.allclose(offset, cell["beta_log_z"][:, None].expand_as(offset), atol=1e-12)
    assert float(cell["max_deviation"]) < 1e-12
    # the constant differs between prompts (else the test would not show it is *per prompt*)
    assert abs(float(cell["beta_log_z"][0] - cell["beta_log_z"][1])) > 1e-3


def test_bradley_terry_likelihoods_agree(cell):
    assert float(cell["bt_gap"]) < 1e-12
    probs = cell["bradley_terry"](cell["reward"])
    assert torch.allclose(probs + probs.transpose(1, 2), torch.ones_like(probs))  # P(i>j) + P(j>i) = 1


def test_optimum_is_a_distribution_that_moves_towards_reward(cell):
    optimum = cell["optimum"]
    assert torch.allclose(optimum.sum(-1), torch.ones(len(optimum), dtype=optimum.dtype))
    best = cell["reward"].argmax(-1)
    assert bool((optimum.gather(1, best[:, None]) > cell["reference_probs"].gather(1, best[:, None])).all())


@pytest.mark.parametrize("wrong_beta", [0.1, 1.0])
def test_fails_for_a_wrong_beta(cell, wrong_beta):
    """Reading the implicit reward with a beta other than the optimum's: no per-prompt constant, and the
    Bradley-Terry likelihoods disagree with r's."""
    optimum, reference, reward = cell["optimum"], cell["reference_probs"], cell["reward"]
    wrong_implicit = wrong_beta * torch.log(optimum / reference)
    offset = reward - wrong_implicit
    assert float((offset - offset.mean(-1, keepdim=True)).abs().max()) > 0.05
    gap = (cell["bradley_terry"](reward) - cell["bradley_terry"](wrong_implicit)).abs().max()
    assert float(gap) > 0.05


def test_fails_for_an_optimum_built_with_a_wrong_beta(cell):
    optimum, _ = cell["kl_optimum"](cell["reference_probs"], cell["reward"], cell["beta"] * 2)
    implicit = cell["beta"] * torch.log(optimum / cell["reference_probs"])
    offset = cell["reward"] - implicit
    assert float((offset - offset.mean(-1, keepdim=True)).abs().max()) > 0.05
