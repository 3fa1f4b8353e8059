"""The session's active hierarchy and active run, changed in one place so that they agree.

Session keys (``app.py`` sets the defaults): ``source`` (the active hierarchy's SOURCE string),
``run_id`` (the active run, or None) and ``max_distance`` (the distance cap, None for none).

Every page shows the run the sidebar names: the Query inspector and Embeddings draw the active
run, the Train page's "Live" panel too. Or a page says plainly that the active hierarchy has no
run yet. For that the two agree: the active run is a run of the active hierarchy, or None.

- Choosing a run (Home's "Inspect its queries", Results' and Train's "Make it the active run",
  "Watch run #N", the run box of the Query inspector or Embeddings, a link ``/query?run=N``) goes
  through :func:`set_active_run`: its hierarchy (and distance cap) becomes the active one.
- Choosing a hierarchy (the Hierarchy page, an upload) goes through :func:`set_active_source`:
  the active run stays when it is a run of that hierarchy, else the newest finished run on it
  becomes the active run, or none.

No page keeps its own idea of "the run": the run boxes (``q_run``, ``e_run``) only mirror
``run_id`` (:func:`active_run_box`). Before, they kept the last run chosen there, which a later
visit showed instead of the run chosen elsewhere (issue 26).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from hrviz.errors import InputError

from .resources import DEFAULT_SOURCE, get_store, load_hierarchy
from .titles import run_label, run_row, source_title


def active_source() -> str:
    return st.session_state.get("source", DEFAULT_SOURCE)


def newest_run_on(source: str, runs: pd.DataFrame | None = None) -> int | None:
    """The newest finished run on ``source`` (of ``runs``, default the store's), or None."""
    runs = get_store().runs(status="finished") if runs is None else runs
    here = runs[(runs["source"] == source) & (runs["status"] == "finished")]
    return int(here["run_id"].iloc[0]) if len(here) else None


def set_active_run(run_id) -> str | None:
    """Make ``run_id`` (or None) the active run; its hierarchy and distance cap become the
    active ones. Returns why its hierarchy could not be loaded (it stays the active run; the pages
    say so when they need the hierarchy), else None."""
    st.session_state["run_id"] = None if run_id is None else int(run_id)
    row = run_row(run_id)
    if row is None or row["source"] == active_source():
        return None
    try:
        load_hierarchy(row["source"])
    except InputError as err:
        return str(err)
    st.session_state["source"] = row["source"]
    st.session_state["max_distance"] = (row.get("params") or {}).get("max_distance")
    return None


def set_active_source(source: str, max_distance: int | None = None) -> None:
    """Make ``source`` the active hierarchy (cap ``max_distance``); the active run follows: kept
    when it is a run of ``source``, else the newest finished run on it, or None."""
    st.session_state["source"] = source
    st.session_state["max_distance"] = max_distance
    row = run_row(st.session_state.get("run_id"))
    if row is None or row["source"] != source:
        st.session_state["run_id"] = newest_run_on(source)


def run_of_active_source(run_id) -> dict | None:
    """The store's row of ``run_id`` when it is a run of the active hierarchy, else None."""
    row = run_row(run_id)
    return row if row is not None and row["source"] == active_source() else None


def _chosen(key: str) -> None:
    if st.session_state.get(key) is not None:  # a cleared box keeps the active run
        set_active_run(st.session_state[key])


def active_run_box(runs: pd.DataFrame, key: str) -> int:
    """The run box of the Query inspector and Embeddings: it shows the active run, and a run
    chosen there becomes the active run (its hierarchy the active one). Returns the active run;
    when it has no saved model to show (none yet on the active hierarchy, still training, failed)
    says so in words and stops the page.

    runs: :func:`hrviz_app.resources.inspectable_runs`; key: the box's session key.
    """
    labels = {int(r["run_id"]): run_label(r) for _, r in runs.iterrows()}
    active = st.session_state.get("run_id")
    if active is None and (here := newest_run_on(active_source(), runs)) is not None:
        set_active_run(here)  # no active run yet (a new session, a first start): the newest here
        active = here
    st.session_state[key] = active if active in labels else None  # mirrors run_id, never its own
    st.selectbox("Run", list(labels), format_func=labels.get, key=key, index=None,
                 placeholder="choose a run", on_change=_chosen, args=(key,),
                 help="the active run, named in the sidebar; choosing another makes it the active "
                      "run, and its hierarchy the active hierarchy")
    if active in labels:
        return int(active)
    row = run_row(active)
    title = source_title(active_source())
    if row is None:
        st.info(f"The active hierarchy `{title}` has no run with a saved model yet: train one on "
                "the Train page" + (", or choose a run of another hierarchy above (its hierarchy "
                                    "becomes the active one)." if labels else "."),
                icon=":material/info:")
    else:
        state = {"running": "is still training: its model is saved when it ends"}.get(
            row["status"], f"ended {row['status']} without a saved model")
        st.info(f"The active run #{active} {state}. Choose another run above to see one now.",
                icon=":material/info:")
    st.stop()
