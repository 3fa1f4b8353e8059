"""Process-wide resources, cached with ``st.cache_resource``: the Store, hierarchies, the
registry of background jobs, and the vectors of stored runs (with the helpers that pick a run
to inspect)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from hrviz.experiment import DEMO_SOURCE as DEFAULT_SOURCE, load_run_model  # the session starts on the demo's hierarchy
from hrviz.hierarchy import Hierarchy
from hrviz.jobs import Jobs
from hrviz.sources import load_source
from hrviz.store import Store

from .paths import db_key


@st.cache_resource(show_spinner=False)
def _store(path: str):
    store = Store(path)
    store.fail_stale_runs()  # runs left "running" by a process that died
    return store


def get_store():
    """The process-wide Store for :func:`hrviz_app.paths.db_path`."""
    return _store(db_key())


@st.cache_resource(show_spinner=False)
def _jobs(path: str) -> Jobs:
    return Jobs()


def jobs() -> Jobs:
    """The background jobs (training runs, UMAP maps) of this process and store, any session."""
    return _jobs(db_key())


@st.cache_resource(show_spinner="Loading the hierarchy...", max_entries=8)
def load_hierarchy(source: str) -> Hierarchy:
    """The Hierarchy for a SOURCE string, cached (closures are cached inside it)."""
    return load_source(source)


def inspectable_runs(or_stop: bool = False) -> pd.DataFrame:
    """Runs that saved a model (finished or stopped), newest first: what those pages can show.

    or_stop: bool (optional, default False), with none: say so and stop the page's run.
    """
    runs = get_store().runs()
    runs = runs[runs["model_path"].notna() & runs["status"].isin(["finished", "stopped"])]
    if or_stop and runs.empty:
        st.info("No run with a saved model yet: train one on the Train page.")
        st.stop()
    return runs


def default_inspect_run(runs: pd.DataFrame, wanted=None) -> int | None:
    """``wanted`` (e.g. the URL's ``run``) when it is in ``runs``, else the active run, else the
    newest finished run on the active hierarchy, else the newest run; None when there are none."""
    ids = [int(r) for r in runs["run_id"]]
    for candidate in (wanted, st.session_state.get("run_id")):
        try:
            if candidate is not None and int(candidate) in ids:
                return int(candidate)
        except (TypeError, ValueError):
            pass
    here = runs[(runs["source"] == st.session_state.get("source", DEFAULT_SOURCE))
                & (runs["status"] == "finished")]
    return int(here["run_id"].iloc[0]) if len(here) else (ids[0] if ids else None)


@st.cache_resource(show_spinner="Loading the model...", max_entries=4)
def _run_vectors(db: str, run_id: int, model_path: str):
    model, run = load_run_model(_store(db), run_id)
    h = load_hierarchy(run["source"])
    model.check_hierarchy(h.hash, where=f"run {run_id}")
    return h, model.query_vectors(), model.doc_vectors(), run


def run_vectors(run_id: int):
    """``(hierarchy, query vectors, doc vectors, run row)`` of a stored run, cached. Raises
    :class:`InputError` when the model file is missing or was trained on another hierarchy."""
    row = get_store().run(int(run_id))
    return _run_vectors(db_key(), int(run_id), str(row.get("model_path")))
