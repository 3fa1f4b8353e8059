"""The Study page (AppTest): a sweep trained into the app's store becomes a phase diagram whose
cells are that sweep's runs; the bundled study is listed beside it."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from hrviz.charts.study import phase_frame
from hrviz.sweep import cell_table, parse_spec, run_sweep, sweep_runs
from tests.helpers import APP, seed_demo

SPEC = """
name = "grid"
[fixed]
source = "tree:H=3,W=3"
steps = 30
finetune_steps = 10
eval_every = 10
[grid]
recipe = ["standard", "pretrain-finetune"]
dim = [2, 4]
seed = [0, 1]
"""


@pytest.fixture
def study_env(tmp_path, monkeypatch, tiny_demo):
    db = tmp_path / "study.duckdb"
    seed_demo(db)  # a store as a first start leaves it: Home trains nothing
    result = run_sweep(parse_spec(SPEC), str(db))
    assert len(result["trained"]) == 8 and not result["failed"]
    monkeypatch.setenv("HRVIZ_DB", str(db))
    return db


def chart_data(chart) -> "pd.DataFrame":
    """The data a Vega-Lite element carries (Arrow IPC per dataset), as one frame."""
    import pandas as pd
    import pyarrow as pa

    frames = [pa.ipc.open_stream(d.data.data).read_pandas() for d in chart.proto.datasets]
    return pd.concat(frames, ignore_index=True)


def study_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("pages/7_study.py").run()
    assert not at.exception, at.exception
    return at


def test_a_stored_sweep_is_a_phase_diagram_of_its_runs(study_env):
    from hrviz.store import Store

    at = study_page()
    options = at.selectbox(key="s_sweep").options
    assert "store: grid" in options
    assert any(o.startswith("bundled study: ") for o in options)  # bench/results/recipes_cells.csv
    at.selectbox(key="s_sweep").set_value("store: grid").run()
    assert not at.exception, at.exception
    rows, cols = at.selectbox(key="s_rows_grid"), at.selectbox(key="s_cols_grid")
    assert {rows.value, cols.value} <= {"recipe", "dim", "seed"} and rows.value != cols.value
    at.selectbox(key="s_rows_grid").set_value("recipe").run()
    at.selectbox(key="s_cols_grid").set_value("dim").run()
    assert not at.exception, at.exception
    # the chart's cells are the sweep's runs, averaged over the two seeds
    with Store(study_env) as store:
        cells = cell_table(sweep_runs(store, "grid"))
    expected = phase_frame(cells, "recipe", "dim", at.selectbox(key="s_metric_grid").value)
    assert len(expected) == 4 and set(expected["seeds"]) == {2}
    drawn = chart_data(at.get("vega_lite_chart")[-1])
    got = drawn.set_index(["row", "col"])["mean"].sort_index()
    want = expected.set_index(["row", "col"])["mean"].astype(float).sort_index()
    assert list(got.index) == list(want.index) and (abs(got.values - want.values) < 1e-9).all()
    table = at.dataframe[-1].value  # "All cells of this sweep"
    assert len(table) == 8 and set(table["dim"]) == {2, 4}


def test_a_bundled_study_reads_without_opening_runs(study_env):
    at = study_page()
    bundled = [o for o in at.selectbox(key="s_sweep").options if o.startswith("bundled study: ")]
    at.selectbox(key="s_sweep").set_value(bundled[0]).run()
    assert not at.exception, at.exception
    assert any("Bundled results" in c.value for c in at.caption)
    assert len(at.get("vega_lite_chart")) == 1
