"""Results: every run in the store, filterable; recall by distance per run and stage side by side
with the paper's numbers where the setting matches; export."""

import pandas as pd
import streamlit as st

from hrviz import charts
from hrviz.charts.models import model_comparison_chart, with_model_kind
from hrviz.kinds import DEFAULT
from hrviz.paper import reference
from hrviz_app.active import set_active_run
from hrviz_app.exports import export_run, projector_export
from hrviz_app.navigation import through_app
from hrviz_app.resources import get_store
from hrviz_app.titles import run_label, source_title
from hrviz_app.verdict import show_verdict


through_app(__file__)  # never the legacy pages-directory mode
st.title("Results")
store = get_store()
runs = store.runs()
runs = with_model_kind(runs)  # + "model": the display name of each run's model kind
if runs.empty:
    st.info("No runs yet: train one on the Train page.")
    st.stop()

# ----- filters and the table
f1, f2, f3, f4 = st.columns(4)
sources = sorted(runs["source"].unique())
recipes = sorted(runs["recipe"].unique())
statuses = sorted(runs["status"].unique())
pick_sources = f1.multiselect("Hierarchy", sources, format_func=source_title, key="r_sources",
                              placeholder="all")
pick_recipes = f2.multiselect("Recipe", recipes, key="r_recipes", placeholder="all")
pick_status = f3.multiselect("Status", statuses, key="r_status", placeholder="all")
pick_models = f4.multiselect("Model", sorted(runs["model"].unique()), key="r_models", placeholder="all")
keep = pd.Series(True, index=runs.index)
for column, picked in [("source", pick_sources), ("recipe", pick_recipes), ("status", pick_status),
                       ("model", pick_models)]:
    if picked:
        keep &= runs[column].isin(picked)
shown = runs[keep]
st.caption(f"{len(shown)} of {len(runs)} runs. Recall is recall@k with k = the number of relevant "
           "documents of each query; overall pools all pairs, min is the worst distance.")
table = shown[["run_id", "created", "status", "source", "model", "recipe", "dim", "seed", "overall", "min",
               "map", "mean_rank", "seconds", "name", "error"]].assign(
    source=shown["source"].map(source_title))
st.dataframe(table, hide_index=True, key="r_table", column_config={
    "run_id": st.column_config.NumberColumn("run", format="#%d"),
    "overall": st.column_config.ProgressColumn("overall", min_value=0, max_value=1, format="percent"),
    "min": st.column_config.ProgressColumn("min", min_value=0, max_value=1, format="percent"),
    "map": st.column_config.NumberColumn("MAP", format="%.3f"),
    "seconds": st.column_config.NumberColumn("seconds", format="%.1f"),
})
if shown.empty:
    st.stop()

# ----- side by side
labels = {int(r["run_id"]): run_label(r) for _, r in shown.iterrows()}
finished = [int(r) for r in shown.loc[shown["status"] == "finished", "run_id"]]
default = finished[:4] or list(labels)[:1]
if not set(st.session_state.get("r_compare") or []) & set(labels):
    st.session_state.pop("r_compare", None)  # the filters hid every compared run: start afresh
compare = st.multiselect("Compare runs", list(labels), default=default, format_func=labels.get,
                         key="r_compare", max_selections=12)
if compare:
    rec = store.recall(compare)
    final = charts.final_recall_frame(rec, runs)
    if final.empty:
        st.info("These runs have no recall rows yet.")
    else:
        final["stage"] = [s if sp in ("val", "all") else f"{s} ({sp})"
                          for s, sp in zip(final["stage"], final["split"])]
        refs = []
        for rid in compare:
            row = runs[runs["run_id"] == rid].iloc[0]
            params = store.run(rid)["params"]
            ref = (reference(row["source"], int(row["dim"]), row["recipe"], params.get("max_distance"))
                   if row["model"] == DEFAULT.title else None)  # the paper's numbers are its dual encoder's
            label = final.loc[final["run_id"] == rid, "run"]
            if ref and len(label):
                refs.append(charts.reference_frame(ref, run=label.iloc[0]))
        ref = pd.concat(refs, ignore_index=True) if refs else None
        st.altair_chart(charts.runs_recall_chart(final, reference=ref), width="content")
        st.caption("Lines: the last evaluation of each stage (train/pretrain/finetune on the "
                   "validation queries, final on all pairs). Black ticks: the paper's published "
                   "numbers for the same setting" + ("." if refs else " (none of these runs matches "
                   "a published setting)."))
        if runs.loc[runs["run_id"].isin(compare), "model"].nunique() > 1:  # e.g. dual encoder vs Poincaré
            st.altair_chart(model_comparison_chart(rec, runs, title="final recall by distance, by model"),
                            width="stretch")
            st.caption("The same final evaluation for every model kind: recall@auto (a Poincaré "
                       "model ranks by hyperbolic distance; a text tower with held-out leaves counts "
                       "their queries). Solid: dual encoder; dashed: Poincaré; dotted: text tower; "
                       "dash-dotted: zero-shot text encoder; sparse dots: user vectors (hrviz load).")

# ----- active run and export
st.subheader("One run")
ids = list(labels)
current = st.session_state.get("run_id")
c1, c2 = st.columns([2, 3])
with c1:
    pick = st.selectbox("Run", ids, format_func=labels.get, key="r_pick",
                        index=ids.index(current) if current in ids else 0)
    if st.button("Make it the active run", key="r_use", disabled=pick == current,
                 help="the run the Query inspector and Embeddings pages show; its hierarchy becomes the active one"):
        problem = set_active_run(pick)  # its hierarchy becomes the active one
        if problem:
            st.warning(f"Its hierarchy cannot be loaded: {problem}")
        else:
            st.rerun()
    row = store.run(pick)
    if row.get("error"):
        st.caption(f"{row['status']}: {row['error']}")
    show_verdict(row.get("summary"))
    st.caption("Parameters: " + ", ".join(f"{k}={v}" for k, v in sorted(row["params"].items())))
with c2:
    st.markdown("**Export**")
    d1, d2, d3 = st.columns(3)
    d1.download_button("Tables (CSV, zip)", lambda: export_run(pick, "csv"),
                       file_name=f"hrviz_run{pick}_csv.zip", mime="application/zip",
                       key="r_csv", on_click="ignore", icon=":material/download:")
    d2.download_button("Tables (Parquet, zip)", lambda: export_run(pick, "parquet"),
                       file_name=f"hrviz_run{pick}_parquet.zip", mime="application/zip",
                       key="r_parquet", on_click="ignore", icon=":material/download:")
    if row.get("model_path"):
        d3.download_button("Embeddings (projector TSV, zip)", lambda: projector_export(pick),
                           file_name=f"hrviz_run{pick}_projector.zip", mime="application/zip",
                           key="r_projector", on_click="ignore", icon=":material/download:")
    else:
        d3.caption("Embeddings: this run has no saved model.")
    st.caption("Tables: runs, metrics, recall and retrievals rows of this run, as written by "
               "`python -m hrviz export`.")
