"""The Train page's defaults are the command line's: one rule for every hierarchy
(hrviz.rule: dimension, batch, step budget, plateau; the exact regime, pretrain-finetune), the
widgets sending None while left at their defaults, so a Start with the defaults trains exactly
what ``python -m hrviz train SOURCE`` trains, and on the default hierarchy a good retriever."""

from __future__ import annotations

from dataclasses import asdict

import pytest
from streamlit.testing.v1 import AppTest

from hrviz.rule import defaults, measure
from hrviz.sources import load_source
from hrviz.training import TrainConfig
from hrviz.training.config import FINETUNE, REGIMES
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
    threshold = next((s.value for s in at.slider if s.label == "Long-distance threshold"), None)
    return (at.selectbox(key="t_regime").value, at.select_slider(key="t_ratio").value,
            at.number_input(key="t_ft_temp").value, threshold)


@pytest.fixture
def store(app_env):
    from hrviz_app.resources import get_store

    return get_store()


def test_start_with_the_defaults_trains_what_the_command_line_trains(app_env, store):
    from hrviz_app.training import training_job

    at = train_page()
    source = at.session_state["source"]
    h = load_source(source)
    # the widgets show the rule's values: regime exact, the one finetune, d from the hierarchy
    assert finetune_widgets(at) == ("exact", FINETUNE["finetune_lr_ratio"], None, FINETUNE["long_threshold"])
    want = TrainConfig().resolved(h)  # the command line's defaults (python -m hrviz train SOURCE)
    rule = defaults(measure(h))
    assert want.dim == rule["dim"] and want.steps == rule["steps"]
    assert any(c.value.startswith(f"Plan: d={want.dim}, at most") for c in at.caption)
    at.button(key="t_start").click().run()
    assert not at.exception, at.exception
    run_id = at.session_state["run_id"]
    training_job(run_id).wait(300)
    row = store.run(run_id)
    assert row["status"] == "finished", row.get("error")
    params = row["params"]
    for name, value in asdict(want).items():
        if name in params and name not in ("device", "threads"):
            assert params[name] == value, name
    assert row["min"] >= 0.90 and row["overall"] >= 0.95, (row["min"], row["overall"])
    codes = [f["code"] for f in row["summary"]["verdict"]]
    assert codes[0] == "good", codes
    # the verdict is on the page once the run has ended
    at.run()
    assert any("A good retriever" in s.value for s in at.success), [s.value for s in at.success]


def test_a_changed_value_is_sent_and_the_regime_keeps_the_one_finetune(app_env):
    at = train_page()
    at.select_slider(key="t_ratio").set_value(0.1).run()
    assert at.select_slider(key="t_ratio").value == 0.1  # kept while the preset is the same
    at.selectbox(key="t_regime").set_value("paper").run()
    assert finetune_widgets(at)[:3] == ("paper", REGIMES["paper"]["finetune_lr_ratio"], None)
    at.number_input(key="t_dim_" + load_source(at.session_state["source"]).hash).set_value(2).run()
    assert any("is small for this hierarchy" in w.value for w in at.warning)  # said before training
