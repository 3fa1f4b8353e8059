"""Training from the app: start a run in the background, stop it, list the live ones. The
runs live in the process's job registry (:mod:`hrviz.jobs`), shared by every session."""

from __future__ import annotations

import streamlit as st

from hrviz.hierarchy import Hierarchy
from hrviz.jobs import Job

from .resources import get_store, jobs


def active_trainings() -> dict[int, Job]:
    """run id -> job of the runs training in this process now."""
    return jobs().running("training")


def training_job(run_id) -> Job | None:
    """The job of a run started by this process, live or ended; None otherwise."""
    return None if run_id is None else jobs().get("training", int(run_id))


def start_training(source: str, cfg, hierarchy: Hierarchy) -> int:
    """Launch a run in the background and make it the session's run (one run at a time)."""
    job = jobs().start_training(source, cfg, get_store(), hierarchy=hierarchy)
    st.session_state["run_id"] = int(job.key)
    return int(job.key)


def stop_training(run_id: int) -> bool:
    """Ask a run of this process to stop; False when it is not running here."""
    return jobs().cancel("training", int(run_id))
