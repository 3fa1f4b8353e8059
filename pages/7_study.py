"""Study: the recipe study's sweeps as phase diagrams. Pick a sweep, two settings as the axes and
a metric; each cell is the mean over seeds of its finished runs; click a cell to open its runs."""

from pathlib import Path

import pandas as pd
import streamlit as st

from hrviz.charts.study import METRICS, SELECTION, phase_chart, phase_frame
from hrviz.sweep import cell_table, sweep_names, sweep_runs, varying_keys
from hrviz_app.navigation import through_app
from hrviz_app.resources import get_store

BUNDLED = Path(__file__).resolve().parents[1] / "bench" / "results" / "recipes_cells.csv"


through_app(__file__)  # never the legacy pages-directory mode
st.title("Study")
st.markdown(
    "Where does standard training lose the far ancestors, and where does pretrain-finetune bring "
    "them back? Each **sweep** is a grid of runs (`python -m hrviz sweep SPEC.toml`); here its "
    "cells become a **phase diagram**: one recall metric over two settings, averaged over seeds.")

store = get_store()
names = sweep_names(store)
sources = {f"store: {n}": ("store", n) for n in names}
if BUNDLED.exists():
    bundled = pd.read_csv(BUNDLED)
    for n in bundled["sweep"].unique():
        sources[f"bundled study: {n}"] = ("bundled", n)
if not sources:
    st.info("No sweeps yet. Run one from a terminal into this store, for example "
            "`python -m hrviz sweep bench/specs/recipes-headline.toml --db <this store>`; it appears "
            "here while it trains.")
    st.stop()

choice = st.selectbox("Sweep", list(sources), key="s_sweep",
                      help="store: sweeps in the app's results store; bundled: the project's own study "
                           "(bench/recipes.py), read from bench/results/recipes_cells.csv")
kind, name = sources[choice]
if kind == "store":
    cells = cell_table(sweep_runs(store, name))
else:
    cells = bundled[bundled["sweep"] == name].dropna(axis=1, how="all")
    st.caption("Bundled results: measured by `bench/recipes.py` (see bench/results/recipes.md); "
               "their runs are not in this store, so cells do not open.")
if not len(cells):
    st.warning("This sweep has no finished runs yet.")
    st.stop()

keys = varying_keys(cells)
metrics = list(METRICS) + [c for c in cells.columns if c.startswith("d") and c[1:].isdigit()]
if len(keys) < 2:
    keys = keys + [k for k in ("seed",) if k in cells.columns and k not in keys]
if len(keys) < 2:
    st.warning("This sweep varies fewer than two settings: nothing to map.")
    st.dataframe(cells, hide_index=True)
    st.stop()
c1, c2, c3 = st.columns(3)
rows = c1.selectbox("Rows", keys, index=0, key=f"s_rows_{name}")
cols = c2.selectbox("Columns", [k for k in keys if k != rows], index=0, key=f"s_cols_{name}")
metric = c3.selectbox("Metric", metrics, key=f"s_metric_{name}",
                      format_func=lambda m: METRICS.get(m, f"recall at distance {m[1:]}"))
where = {}
others = [k for k in keys if k not in (rows, cols)]
if others:
    fcols = st.columns(len(others))
    for col, key in zip(fcols, others):
        values = sorted(cells[key].astype(str).unique())
        where[key] = col.selectbox(key, values, key=f"s_where_{name}_{key}")
frame = phase_frame(cells, rows, cols, metric, where)
event = st.altair_chart(phase_chart(frame, rows=rows, cols=cols, metric=metric,
                                    title=f"{name}: {METRICS.get(metric, metric)}"),
                        width="stretch", on_select="rerun", key=f"s_chart_{name}")
picked = (event or {}).get("selection", {}).get(SELECTION) or []
if picked:
    hit = frame[(frame["row"] == str(picked[0].get("row"))) & (frame["col"] == str(picked[0].get("col")))]
    if len(hit):
        ids = hit["run_ids"].iloc[0]
        st.markdown(f"**Cell {rows} = {picked[0]['row']}, {cols} = {picked[0]['col']}**: "
                    f"{len(ids)} run(s): {', '.join(str(i) for i in ids)}")
        if kind == "store":
            run = st.selectbox("Open run", ids, key="s_open")
            if st.button("Open in the Query inspector", key="s_go"):
                st.session_state["run_id"] = int(run)
                st.switch_page("pages/4_query.py")
with st.expander("All cells of this sweep"):
    st.dataframe(cells, hide_index=True)
