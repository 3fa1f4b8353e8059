"""The Train page's logQ control: off by default, and the plan says when it corrects the
negatives (in-batch or sampled ones) and when there is nothing to correct (a full softmax)."""

from streamlit.testing.v1 import AppTest

from tests.helpers import APP


def _plan(at) -> str:
    return next(c.value for c in at.caption if c.value.startswith("Plan:"))


def test_the_logq_control_reaches_the_plan(app_env):
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page("pages/2_train.py").run()
    assert not at.exception and at.select_slider(key="t_logq").value == 0.0
    at.select_slider(key="t_logq").set_value(1.0).run()
    assert "logQ" not in _plan(at)  # the default exact regime: a full softmax, nothing to correct
    at.session_state["source"] = "wordnet:mammal.n.01"
    at.run()
    at.selectbox(key="t_regime").set_value("paper").run()  # in-batch negatives: logQ corrects them
    at.select_slider(key="t_logq").set_value(0.5).run()
    assert not at.exception
    assert "in-batch softmax" in _plan(at) and "logQ-corrected (alpha 0.5)" in _plan(at)
