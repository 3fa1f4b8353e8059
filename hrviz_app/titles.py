"""Display names: a hierarchy's short title and one line per run for select boxes."""

from __future__ import annotations

import os
from pathlib import Path

from hrviz.charts.models import model_prefix

import streamlit as st

from hrviz.errors import InputError
from hrviz.kinds import LOADED

from .resources import get_store


def source_title(source: str) -> str:
    """A short display name: an upload's original file name (when this session uploaded it),
    else the file name of a path, else the SOURCE string itself."""
    names = st.session_state.get("upload_names") or {}
    if source in names:
        return names[source]
    p = Path(source)
    if p.suffix or os.sep in source:
        return p.name
    return source


def run_label(row) -> str:
    """``#12 pretrain-finetune d=3 · tree:H=4,W=5 · finished``: one line per run in selects; a
    model other than the default kind's is named (``#13 Poincaré ball standard d=2 · ...``)."""
    model = model_prefix(row.get("params") if hasattr(row, "get") else None)
    return (f"#{row['run_id']} {model}{row['recipe']} d={row['dim']} · {source_title(row['source'])}"
            f" · {row['status']}")


def run_origin(row: dict) -> str:
    """Where a run's model came from when it logged no evaluation while training, in words."""
    params = row.get("params") or {}
    if params.get("model") == LOADED.name:  # vectors made elsewhere (hrviz.kinds.loaded)
        return "vectors loaded from files"
    if params.get("uploaded_from"):
        return f"a model file uploaded as {params['uploaded_from']}"
    return "no validation sample was logged"


def run_row(run_id: int | None) -> dict | None:
    """The store's row of a run, or None (no run, or one that is gone)."""
    if run_id is None:
        return None
    try:
        return get_store().run(int(run_id))
    except InputError:
        return None
