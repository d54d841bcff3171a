"""The constitution file: the shipped one loads, every schema violation names the file and the principle."""
from __future__ import annotations

import random

import pytest
import yaml

from alignkit.world.constitution import CONSTITUTION_PATH, FIELDS, load_constitution, parse_constitution
from alignkit.infra.errors import ConstitutionError


def _valid() -> dict:
    return {"version": 1, "principles": [
        {"id": "harmless", "critique": "Say what is harmful.", "revision": "Remove it.",
         "comparison": "Which is less harmful?"},
        {"id": "honest", "critique": "Say what is made up.", "revision": "Say you do not know.",
         "comparison": "Which is more honest?"}]}


def test_the_shipped_constitution_loads_with_every_field():
    constitution = load_constitution()
    assert len(constitution.ids) >= 4 and len(set(constitution.ids)) == len(constitution.ids)
    for principle in constitution.principles:
        assert all(getattr(principle, field).strip() for field in FIELDS)
    assert str(CONSTITUTION_PATH) == constitution.source


@pytest.mark.parametrize("change, named", [
    (lambda d: d["principles"][1].pop("revision"), "principle 2 ('honest') lacks ['revision']"),
    (lambda d: d["principles"][0].update(comparison="  "), "principle 1 ('harmless') comparison"),
    (lambda d: d["principles"][1].update(id="has space"), "principle 2 needs an id"),
    (lambda d: d["principles"][1].update(id="harmless"), "'harmless' appears twice"),
    (lambda d: d["principles"][0].update(reward=1), "unknown keys ['reward']"),
    (lambda d: d["principles"].append("just text"), "principle 3 must be a mapping"),
    (lambda d: d.update(version=2), "'version: 1'"),
    (lambda d: d.update(principles=[]), "non-empty list"),
])
def test_each_schema_violation_names_the_file_and_the_principle(tmp_path, change, named):
    data = _valid()
    change(data)
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConstitutionError) as err:
        load_constitution(path)
    assert str(path) in str(err.value) and named in str(err.value)


def test_missing_and_unparsable_files_say_what_to_do(tmp_path):
    with pytest.raises(ConstitutionError, match="no constitution at .*git checkout"):
        load_constitution(tmp_path / "absent.yaml")
    (tmp_path / "bad.yaml").write_text("principles: [unclosed\n")
    with pytest.raises(ConstitutionError, match="not valid YAML"):
        load_constitution(tmp_path / "bad.yaml")
    (tmp_path / "tag.yaml").write_text("!!python/object/apply:os.system ['true']\n")
    with pytest.raises(ConstitutionError):  # safe_load: no Python objects from a constitution
        load_constitution(tmp_path / "tag.yaml")


def test_edits_remove_or_reword_one_principle_and_leave_the_rest():
    constitution = parse_constitution(_valid())
    assert constitution.without("honest").ids == ["harmless"]
    reversed_ = constitution.reworded("harmless", comparison="Which is more harmful?")
    assert reversed_["harmless"].comparison == "Which is more harmful?"
    assert reversed_["honest"] == constitution["honest"] and constitution["harmless"].comparison == "Which is less harmful?"
    with pytest.raises(KeyError, match="no principle 'kindness'"):
        constitution.without("kindness")
    with pytest.raises(ConstitutionError, match="no field"):
        constitution.reworded("harmless", reward="1")
    with pytest.raises(ConstitutionError, match="no principles"):
        constitution.without("honest").without("harmless")


def test_draw_is_reproducible_and_reaches_every_principle():
    constitution = load_constitution()
    draws = [constitution.draw(random.Random(7)).id for _ in range(3)]
    assert len(set(draws)) == 1
    rng = random.Random(0)
    assert {constitution.draw(rng).id for _ in range(200)} == set(constitution.ids)
