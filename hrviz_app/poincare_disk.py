"""The Embeddings page's Poincaré disk: the points of a d = 2 Poincaré-ball run, drawn as they
are. The library side is :mod:`hrviz.models.poincare`; the kind's settings on the Train page come
from :mod:`hrviz.kinds.poincare` (:mod:`hrviz_app.model_choice`)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from hrviz.experiment import load_run_model
from hrviz.kinds.poincare import POINCARE
from hrviz.store import RunParams

from .paths import db_key
from .resources import _store, get_store

DISK_CAPTION = (
    "The Poincaré disk itself: a d = 2 Poincaré model's points drawn as they are, no projection. "
    "The circle is the boundary |x| = 1, infinitely far away in hyperbolic distance; distances "
    "grow without bound toward it, so the rim has room for exponentially many nodes. The root "
    "settles near the centre, deeper nodes toward the rim, and every subtree fans out in a "
    "direction of its own. A query retrieves the documents nearest to it in hyperbolic distance.")


def is_disk_run(run: dict) -> bool:
    """Whether a run (``store.run`` dict) is a Poincaré model of dimension 2: its points are the
    Poincaré disk, drawn without projection."""
    return RunParams.parse(run.get("params")).kind == POINCARE.name and int(run.get("dim") or 0) == 2


@st.cache_resource(show_spinner="Loading the model...", max_entries=4)
def _points(db: str, run_id: int, model_path: str) -> np.ndarray:
    model, _ = load_run_model(_store(db), run_id)
    return model.points()


def disk_points(run_id: int) -> np.ndarray:
    """The points (n, 2) in the unit disk of a stored d = 2 Poincaré run, cached."""
    row = get_store().run(int(run_id))
    return _points(db_key(), int(run_id), str(row.get("model_path")))
