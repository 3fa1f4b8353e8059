"""The geometry page (pages/6_geometry.py) run headless with Streamlit's AppTest."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.helpers import page_path, standalone

PAGE = page_path("6_geometry.py")


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_page_runs_and_d_changes_the_numbers():
    at = standalone(PAGE).run()
    assert not at.exception
    assert at.slider(key="geometry_H").value == 4 and at.slider(key="geometry_W").value == 5
    assert at.radio(key="geometry_mode").options == ["Perfect tree"]  # no current hierarchy yet
    before = metrics(at)
    assert set(before) == {"margin (one threshold)", "separated", "queries separated", "recall@auto"}
    assert len(at.get("vega_lite_chart")) == 3  # histogram + two study curves
    assert any("Theorem" in m.value or "theorem" in m.value for m in at.markdown)

    at.select_slider(key="geometry_dim").set_value(4).run()
    assert not at.exception
    low = metrics(at)
    at.select_slider(key="geometry_dim").set_value(1024).run()
    high = metrics(at)
    assert low["margin (one threshold)"] != high["margin (one threshold)"]
    assert low["recall@auto"] != high["recall@auto"]
    assert low["separated"] == "no" and high["separated"] == "yes"
    assert float(high["recall@auto"].rstrip("%")) == 100.0 > float(low["recall@auto"].rstrip("%"))

    at.slider(key="geometry_H").set_value(3).run()
    assert not at.exception
    assert any("tree:H=3,W=5" in c.value for c in at.caption)


def test_page_samples_a_large_current_hierarchy():
    at = standalone(PAGE)
    at.session_state["source"] = "dag:n=6000,depth=5,parents=2,seed=0"
    at.run()
    assert not at.exception
    at.radio(key="geometry_mode").set_value("The current hierarchy").run()
    assert not at.exception
    assert any("sample" in i.value and "6,000" in i.value for i in at.info)
    assert any("dag:n=6000" in c.value for c in at.caption)


def test_page_shows_a_bad_current_source_as_an_error():
    at = standalone(PAGE)
    at.session_state["source"] = "tree:H=oops,W=2"
    at.run()
    at.radio(key="geometry_mode").set_value("The current hierarchy").run()
    assert not at.exception
    assert at.error and "oops" in at.error[0].value
