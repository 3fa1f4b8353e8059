"""The Poincaré-ball model in the app: its few settings on the Train page, and its points for
the Embeddings page's disk (d = 2). The library side is :mod:`hrviz.models.poincare`."""

from __future__ import annotations

import numpy as np
import streamlit as st

from hrviz.errors import InputError
from hrviz.experiment import load_run_model
from hrviz.hierarchy import Hierarchy
from hrviz.kinds.poincare import POINCARE as POINCARE_KIND
from hrviz.models.poincare_fit import PoincareConfig
from hrviz.store import RunParams

from .paths import db_key
from .resources import _store, get_store

#: the Train page's model choice
MODEL_KINDS = ("dual encoder", "Poincaré ball")
POINCARE = MODEL_KINDS[1]

DISK_CAPTION = (
    "The Poincaré disk itself: a d = 2 Poincaré model's points drawn as they are, no projection. "
    "The circle is the boundary |x| = 1, infinitely far away in hyperbolic distance; distances "
    "grow without bound toward it, so the rim has room for exponentially many nodes. The root "
    "settles near the centre, deeper nodes toward the rim, and every subtree fans out in a "
    "direction of its own. A query retrieves the documents nearest to it in hyperbolic distance.")


def poincare_settings(h: Hierarchy, *, max_distance: int | None = None):
    """The Poincaré settings (dimension, epochs, burn-in, finetune epochs, seed), in three columns;
    returns the :class:`~hrviz.models.poincare_fit.PoincareConfig`, or None (with the error
    shown) when they are not valid. The other fields keep Nickel & Kiela's defaults."""
    base = PoincareConfig()
    c1, c2, c3 = st.columns(3)
    dim = c1.number_input("Dimension d", 1, 512, 2 if h.n <= 1000 else 10, key=f"t_poi_dim_{h.hash}",
                          help="dimension of the ball; d = 2 draws the Poincaré disk on the Embeddings page")
    epochs = c2.number_input("Epochs", 1, 10_000, base.epochs, key="t_poi_epochs",
                             help="regular epochs over all ancestor pairs, after the burn-in")
    burn_in = c2.number_input("Burn-in epochs", 0, 1_000, base.burn_in, key="t_poi_burn_in",
                              help=f"epochs at lr x {base.burn_in_lr_ratio:g} with degree-weighted "
                                   "negatives before the regular ones (Nickel & Kiela 2017)")
    finetune = c3.number_input("Finetune epochs", 0, 10_000, 0, key="t_poi_finetune",
                               help="0: off. Otherwise pretrain-finetune: more epochs on the pairs of "
                                    f"distance >= {base.finetune_min_distance} only, at lr x "
                                    f"{base.finetune_lr_ratio:g}, keeping the best checkpoint by recall")
    seed = c3.number_input("Seed", 0, 2**31 - 1, 0, key="t_poi_seed")
    c1.caption(f"Pairs up to distance {max_distance or h.max_depth} (the cap set on the Hierarchy page).")
    try:
        cfg = PoincareConfig(dim=int(dim), epochs=int(epochs), burn_in=int(burn_in),
                             finetune_epochs=int(finetune), max_distance=max_distance, seed=int(seed)).resolved(h)
    except InputError as err:
        st.error(str(err))
        return None
    st.caption(f"Plan: {cfg.burn_in} burn-in + {cfg.epochs} epochs"
               + (f" + {cfg.finetune_epochs} finetune epochs (pretrain-finetune)" if cfg.finetune_epochs else "")
               + f", Riemannian SGD at lr {cfg.lr:g}, batch {cfg.batch}, {cfg.negatives} negatives "
               "(hierarchy-masked); score = minus the hyperbolic distance.")
    return cfg


def is_disk_run(run: dict) -> bool:
    """Whether a run (``store.run`` dict) is a Poincaré model of dimension 2: its points are the
    Poincaré disk, drawn without projection."""
    return RunParams.parse(run.get("params")).kind == POINCARE_KIND.name and int(run.get("dim") or 0) == 2


@st.cache_resource(show_spinner="Loading the model...", max_entries=4)
def _points(db: str, run_id: int, model_path: str) -> np.ndarray:
    model, _ = load_run_model(_store(db), run_id)
    return model.points()


def disk_points(run_id: int) -> np.ndarray:
    """The points (n, 2) in the unit disk of a stored d = 2 Poincaré run, cached."""
    row = get_store().run(int(run_id))
    return _points(db_key(), int(run_id), str(row.get("model_path")))
