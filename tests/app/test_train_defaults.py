"""The Train page's defaults show a meaningful result on every hierarchy: the regime defaults to
``paper`` (Home's story regime) and the finetune widgets start at the hierarchy-aware preset
(``regime_values(regime, h)``), sending None while left there, so the preset applies. On the
default hierarchy (``tree:H=4,W=5``, d=3) that is the paper's synthetic setting (PAPER_TREE),
and Start with the defaults trains the paper's pretrain-finetune result (~99.7%)."""

from __future__ import annotations

from dataclasses import asdict

import pytest
from streamlit.testing.v1 import AppTest

from hrviz import story
from hrviz.sources import load_source
from hrviz.training import TrainConfig
from hrviz.training.config import PAPER_TREE, REGIMES
from tests.helpers import APP



def train_page(**session) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in session.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    at.switch_page("pages/2_train.py").run()
    assert not at.exception, at.exception
    return at


def finetune_widgets(at: AppTest) -> tuple:
    threshold = next(s for s in at.slider if s.label == "Long-distance threshold")
    return (at.selectbox(key="t_regime").value, at.select_slider(key="t_ratio").value,
            at.number_input(key="t_ft_temp").value, threshold.value)


@pytest.fixture
def store(app_env):
    from hrviz_app.resources import get_store

    return get_store()


def test_start_with_the_defaults_trains_the_paper_tree_preset(app_env, store):
    from hrviz_app.training import training_job

    at = train_page()
    assert at.session_state["source"] == "tree:H=4,W=5"
    assert finetune_widgets(at) == ("paper", PAPER_TREE["finetune_lr_ratio"],
                                    PAPER_TREE["finetune_temperature"], PAPER_TREE["long_threshold"])
    assert any("Pairs up to distance 2" in c.value for c in at.caption)  # the preset's cap
    at.button(key="t_start").click().run()
    assert not at.exception, at.exception
    run_id = at.session_state["run_id"]
    job = training_job(run_id)
    job.wait(300)
    row = store.run(run_id)
    assert row["status"] == "finished", row.get("error")
    params = row["params"]
    h = load_source("tree:H=4,W=5")
    want = asdict(TrainConfig(dim=3, regime="paper", recipe="pretrain-finetune").resolved(h))
    for name, value in want.items():
        if name in params and name not in ("device", "threads"):
            assert params[name] == value, name
    for name, value in PAPER_TREE.items():
        assert params[name] == value, name
    final = store.final_recall(run_id, split="all").set_index("distance")["recall"]
    assert row["overall"] >= 0.90 and final.loc[0] >= 0.90, (row["overall"], final.to_dict())


def test_a_changed_value_is_sent_and_another_regime_brings_its_own_defaults(app_env):
    at = train_page()
    at.select_slider(key="t_ratio").set_value(0.1).run()
    assert at.select_slider(key="t_ratio").value == 0.1  # kept while the preset is the same
    at.selectbox(key="t_regime").set_value("exact").run()
    exact = REGIMES["exact"]
    assert finetune_widgets(at)[:3] == ("exact", exact["finetune_lr_ratio"], exact["finetune_temperature"])
    at.selectbox(key="t_regime").set_value("paper").run()
    assert finetune_widgets(at)[1] == PAPER_TREE["finetune_lr_ratio"]


def test_on_the_story_hierarchy_the_defaults_are_the_repaired_chapters(app_env, store):
    from hrviz_app.training import training_job

    at = train_page(source=story.SOURCE, max_distance=story.MAX_DISTANCE)
    repaired = story.config(story.CHAPTERS_BY_KEY["repaired"])
    h = load_source(story.SOURCE)
    full = TrainConfig(**{**asdict(repaired), "steps": 300, "finetune_steps": 600}).resolved(h)
    assert finetune_widgets(at) == ("paper", full.finetune_lr_ratio, full.finetune_temperature,
                                    full.long_threshold)
    assert at.selectbox(key="t_recipe").value == repaired.recipe
    at.number_input(key="t_steps").set_value(20).run()
    at.number_input(key="t_ft_steps").set_value(20).run()
    at.button(key="t_start").click().run()
    run_id = at.session_state["run_id"]
    training_job(run_id).wait(300)
    params = store.run(run_id)["params"]
    for name in ("regime", "recipe", "max_distance", "queries", "pairs", "negatives", "masking",
                 "optimizer", "lr", "temperature", "temperature_mode", "normalize",
                 "finetune_lr_ratio", "finetune_temperature", "long_threshold",
                 "finetune_self_share", "finetune_masking"):
        assert params[name] == getattr(full, name), name
