"""The story Home tells (:mod:`hrviz.story`): its runs (the paper's tree, the WordNet chapters),
trained in the background when the store lacks them (a first start, 30 to 50 s on 2 cores) and
again on demand with a new seed.

The training is one job of the process's job registry (:func:`hrviz_app.resources.jobs`, one per
process and store, shared by every session): :func:`start_first_story` (``app.py``, every
request) starts it once, without waiting for it, so every page works while it trains; Home
follows it (:func:`story_job`, :func:`hrviz.story.progress`).
"""

from __future__ import annotations

import streamlit as st

from hrviz import story
from hrviz.jobs import Job

from .paths import db_key
from .resources import _jobs, _store


@st.cache_resource(show_spinner=False)
def _first_start(path: str) -> Job | None:
    return story.start_story(_jobs(path), _store(path))


def start_first_story() -> Job | None:
    """Start training the story's missing runs in the background (a first start), once per
    process and store; returns at once. The job, or None when the store had them all, or when
    the store could not be read now (e.g. a CLI process held it past the store's timeout: not
    cached, so the next request tries again; no page fails for it)."""
    try:
        return _first_start(db_key())
    except Exception:  # noqa: BLE001 - the story is a bonus; the page the user asked for must render
        return None


def story_job() -> Job | None:
    """The story's latest job in this process and store (the first start's, or a re-run's),
    live or ended; None when none was started."""
    return _jobs(db_key()).get("story", story.JOB_KEY)


def rerun_story(seed: int) -> Job:
    """Train the story's runs again with ``seed``, in the background (30 to 50 s); the job (the
    live one, unchanged, while a story job is still training)."""
    return story.start_story(_jobs(db_key()), _store(db_key()), force=True, seed=int(seed))


def story_training() -> list[int]:
    """Run ids of Home's story runs that this process trains now (its live story job's); [] when
    no story job is live (nothing is read then)."""
    job = story_job()
    if job is None or not job.alive:
        return []
    states = story.progress(_store(db_key()), job.info["chapters"], job.info["after"])
    return [p.run_id for p in states if p.status == "running"]
