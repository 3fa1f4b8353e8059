"""The story Home tells (:mod:`hrviz.story`): its three runs, trained once when the store has
none of them (a first start, about 20 s on 2 cores), and again on demand with a new seed."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import streamlit as st

from hrviz import story

from .paths import db_key
from .resources import _store


@dataclass
class StoryStart:
    """What :func:`ensure_story_runs` did at start-up."""

    trained: list[str] = field(default_factory=list)  # chapter keys trained now (a first start)
    run_ids: dict[str, int] = field(default_factory=dict)  # chapter key -> run id
    seconds: float = 0.0
    error: str | None = None


@st.cache_resource(show_spinner=False)
def _story(path: str) -> StoryStart:
    store = _store(path)
    before = set(story.story_runs(store))
    t0 = time.perf_counter()
    try:
        ids = story.ensure_story(store)
    except Exception as err:  # shown on Home; the rest of the app must still start
        return StoryStart([], {}, time.perf_counter() - t0, f"{type(err).__name__}: {err}")
    trained = [k for k in ids if k not in before]
    return StoryStart(trained, ids, time.perf_counter() - t0)


def ensure_story_runs() -> StoryStart:
    """Train the story's missing runs (a first start); once per process and store."""
    return _story(db_key())


def rerun_story(store, seed: int) -> list[int]:
    """Train the three story runs again with ``seed`` (in this thread, ~20 s); their run ids."""
    return [int(r) for r in story.ensure_story(store, force=True, seed=int(seed)).values()]
