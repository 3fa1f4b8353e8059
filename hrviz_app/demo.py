"""The demo experiment: trained once when the store has none (a first start), shown on Home."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pandas as pd
import streamlit as st

from .paths import db_key
from .resources import _store

DEMO_DIM = 3


@dataclass
class Demo:
    """What :func:`ensure_demo_runs` did at start-up."""

    trained: bool  # the store had no demo runs and they were trained now
    run_ids: list[int] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None


@st.cache_resource(show_spinner=False)
def _demo(path: str) -> Demo:
    from hrviz.experiment import ensure_demo

    store = _store(path)
    before = set(store.runs()["run_id"])
    t0 = time.perf_counter()
    try:
        ids = [int(r) for r in ensure_demo(store)]
    except Exception as err:  # shown on Home; the rest of the app must still start
        return Demo(False, [], time.perf_counter() - t0, f"{type(err).__name__}: {err}")
    return Demo(bool(set(ids) - before), ids, time.perf_counter() - t0)


def ensure_demo_runs() -> Demo:
    """Train the small synthetic experiment when the store has no demo runs (a first start);
    once per process and store."""
    return _demo(db_key())


def demo_runs(store, prefer: list[int] | None = None) -> dict[str, dict]:
    """recipe -> run (dict) for Home: the newest finished standard and pretrain-finetune runs of
    the demo setting (``DEMO_SOURCE``, d = ``DEMO_DIM``, named ``demo`` where there are such
    runs); runs in ``prefer`` come first."""
    from hrviz.experiment import DEMO_RECIPES, DEMO_SOURCE

    runs = store.runs(source=DEMO_SOURCE, status="finished")
    runs = runs[runs["dim"] == DEMO_DIM]
    if (runs["name"] == "demo").any():  # the demo's own settings, not a user's d=3 run
        runs = runs[runs["name"] == "demo"]
    if prefer:
        first = runs["run_id"].isin([int(r) for r in prefer])
        runs = pd.concat([runs[first], runs[~first]])
    out = {}
    for recipe in DEMO_RECIPES:
        rows = runs[runs["recipe"] == recipe]
        if len(rows):
            out[recipe] = rows.iloc[0].to_dict()
    return out


def rerun_demo(store, seed: int) -> list[int]:
    """Train the demo experiment again (both recipes, ``seed``) in this thread; the run ids."""
    from hrviz.experiment import ensure_demo

    return [int(r) for r in ensure_demo(store, force=True, seed=int(seed))]
