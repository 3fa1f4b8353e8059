"""Text encoders in the app: the Train page's encoder choice and tower settings, and the Query
inspector's free-text box. The library side is :mod:`hrviz.kinds.text` (runs) and
:mod:`hrviz.free_text` (free text)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from hrviz.errors import InputError
from hrviz.free_text import open_text_run, query_text
from hrviz.hierarchy import Hierarchy
from hrviz.kinds.text import TextRunConfig
from hrviz.models.text_encoders import available_encoders
from hrviz.models.text_fit import TowerConfig, holdout_leaves

from .paths import db_key
from .resources import _store, get_store

#: the Train page's encoder choice: display name -> encoder name (None: lookup tables)
ENCODERS = {"lookup table": None, "wordllama": "wordllama", "model2vec": "model2vec",
            "hashing (no model, not semantic)": "hashing"}
ENCODER_HELP = ("lookup table: the paper's dual encoder, one free vector per node (no text). A text "
                "encoder embeds each node's text (WordNet: lemma: gloss; uploads: label: description) "
                "with a frozen model; a trainable query head and document head (plus per-node residuals) "
                "are trained on top with the same recipe and regime, and free text can be queried.")
FREE_TEXT_PLACEHOLDER = "golden retriever puppy"


def encoder_choice() -> str | None:
    """The Train page's "Encoder" select (key ``t_encoder``); the encoder name, None for tables."""
    label = st.selectbox("Encoder", list(ENCODERS), key="t_encoder", help=ENCODER_HELP)
    return ENCODERS[label]


def text_settings(h: Hierarchy, encoder: str, train):
    """The text tower's own settings (zero-shot only, held-out share, head), in one row, around
    the page's ``train`` config (a TrainConfig, or None when it is not valid); returns the
    :class:`~hrviz.kinds.text.TextRunConfig`, or None with the error shown."""
    if not available_encoders().get(encoder, False):
        st.error(f"The {encoder} encoder is not installed here: see README (Text encoders) to add it, "
                 "or choose another encoder.")
        return None
    c1, c2, c3 = st.columns(3)
    zero = c1.toggle("Zero-shot only (no training)", key="t_zero_shot",
                     help="evaluate the frozen encoder as it is: query = document = the node text's "
                          "embedding, cosine score; recorded as recipe zero-shot")
    holdout = c2.slider("Held-out leaves (share)", 0.0, 0.5, 0.1, 0.05, key="t_holdout", disabled=zero,
                        help="leaves held out entirely: neither their text nor their pairs are trained; "
                             "their queries are evaluated against all documents (new items). 0: none")
    head = c3.selectbox("Heads", ["mlp", "linear"], key="t_head", disabled=zero,
                        help="query and document heads over the frozen features: a small MLP or linear")
    if not zero and train is None:  # the training settings above are not valid: shown there
        return None
    try:
        cfg = TextRunConfig(encoder=encoder, train=None if zero else train, tower=TowerConfig(head=head),
                            holdout_nodes=None if zero or not holdout else float(holdout),
                            max_distance=st.session_state.get("max_distance"))
        if not zero and holdout:
            holdout_leaves(h, float(holdout))  # refuses a share that holds out no leaf, or all
        cfg = cfg.resolved(h)
    except InputError as err:
        st.error(str(err))
        return None
    st.caption(f"Text: {encoder} features of every node's text"
               + (", evaluated zero-shot (no training: the settings above are not used)." if zero else
                  f", {head} heads and per-node residuals trained with the settings above"
                  + (f"; {holdout:.0%} of the leaves held out entirely." if holdout else ".")))
    return cfg


# ----- free text on the Query page ----------------------------------------------
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
    kind = "zero-shot" if model.run["recipe"] == "zero-shot" else "text tower"
    if info["match"] is not None:
        st.markdown(f"The text names **{h.label(info['match'])}** (`{h.names[info['match']]}`): "
                    f"{info['found']} of its {info['relevant']} relevant documents (itself and its ancestors) "
                    "are retrieved within the top |S(q)|.")
    else:
        st.caption("The text names no node: no relevant set to mark, only what it retrieves.")
    st.markdown(f"**Top {len(top)} retrieved for** “{info['text']}” ({model.encoder}, {kind})")
    st.dataframe(free_text_table(top, info), hide_index=True, key="q_text_top", column_config={
        "score": st.column_config.NumberColumn(format="%.4f")})
