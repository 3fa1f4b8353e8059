"""The sidebar under the navigation: the active hierarchy, the active run, live trainings."""

from __future__ import annotations

import streamlit as st

from hrviz.charts.models import model_prefix
from hrviz.errors import InputError

from .paths import db_path
from .resources import DEFAULT_SOURCE, load_hierarchy
from .titles import run_row, source_title
from .training import active_trainings


def sidebar() -> None:
    """The active hierarchy and run, under the navigation."""
    with st.sidebar:
        src = st.session_state.get("source", DEFAULT_SOURCE)
        st.markdown("**Active hierarchy**")
        try:
            h = load_hierarchy(src)
            st.caption(f"`{source_title(src)}` · {h.n:,} nodes · {h.n_edges:,} edges · "
                       f"depth {h.max_depth}")
        except InputError as err:
            st.caption(f"`{source_title(src)}`: {err}")
        st.markdown("**Active run**")
        row = run_row(st.session_state.get("run_id"))
        if row is None:
            st.caption("none: train one, or pick one on Results")
        else:
            overall = "" if row.get("overall") is None else f" · overall {row['overall']:.1%}"
            model = model_prefix(row.get("params"))
            st.caption(f"#{row['run_id']} {model}{row['recipe']} d={row['dim']} on "
                       f"`{source_title(row['source'])}` · {row['status']}{overall}")
        live = active_trainings()
        if live:
            st.caption("training now: " + ", ".join(f"#{r}" for r in sorted(live)))
        st.caption(f"store: `{db_path()}`")
