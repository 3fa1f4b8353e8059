"""The Query inspector's free-text box for a text run: type any text, see what it retrieves. The
library side is :mod:`hrviz.free_text`; the text kind's settings on the Train page come from
:mod:`hrviz.kinds.text` (:mod:`hrviz_app.model_choice`)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from hrviz.errors import InputError
from hrviz.free_text import open_text_run, query_text
from hrviz.hierarchy import Hierarchy
from hrviz.kinds.text import TEXT

from .paths import db_key
from .resources import _store, get_store

FREE_TEXT_PLACEHOLDER = "golden retriever puppy"


@st.cache_resource(show_spinner="Loading the text encoder...", max_entries=4)
def _text_model(db: str, run_id: int, model_path: str):
    return open_text_run(_store(db), run_id)


def text_model(run_id: int):
    """The free-text side of a stored text run (encoder, document vectors, query head), cached."""
    row = get_store().run(int(run_id))
    return _text_model(db_key(), int(run_id), str(row.get("model_path")))


def free_text_table(top: pd.DataFrame, info: dict) -> pd.DataFrame:
    """What the free-text box shows: rank, document, name, score, distance, and a hit mark where
    the text names a node (✓ a relevant document within the top |S(q)|, ✗ one below it)."""
    out = pd.DataFrame({"rank": top["rank"], "document": top["label"], "name": top["name"],
                        "score": top["score"]})
    if info["match"] is not None:
        out["distance"] = top["distance"]
        out["hit"] = ["✓ hit" if hit else ("✗ miss" if pd.notna(d) else "")
                      for hit, d in zip(top["hit"], top["distance"])]
    return out


def free_text_section(run_id: int, h: Hierarchy, k: int = 20) -> None:
    """The Query inspector's free-text box (key ``q_text``) for a text run: type a text, see the
    documents it retrieves with their scores; where it names a node, the hits among its ancestors."""
    st.subheader("Free text")
    text = st.text_input("Type any text: a new item, a term, a query", key="q_text",
                         placeholder=f"e.g. {FREE_TEXT_PLACEHOLDER}",
                         help="embedded by the run's encoder (through its query head when it is a trained "
                              "tower; free text has no per-node residual) and scored against every document")
    if not text:
        st.caption("Empty: nothing to retrieve. The node inspector below shows stored queries.")
        return
    try:
        model = text_model(run_id)
        top, info = query_text(model, h, text, k=k)
    except InputError as err:
        st.error(f"Cannot query this text: {err}")
        return
    kind = TEXT.run_title(model.run["params"])
    if info["match"] is not None:
        st.markdown(f"The text names **{h.label(info['match'])}** (`{h.names[info['match']]}`): "
                    f"{info['found']} of its {info['relevant']} relevant documents (itself and its ancestors) "
                    "are retrieved within the top |S(q)|.")
    else:
        st.caption("The text names no node: no relevant set to mark, only what it retrieves.")
    st.markdown(f"**Top {len(top)} retrieved for** “{info['text']}” ({model.encoder}, {kind})")
    st.dataframe(free_text_table(top, info), hide_index=True, key="q_text_top", column_config={
        "score": st.column_config.NumberColumn(format="%.4f")})
