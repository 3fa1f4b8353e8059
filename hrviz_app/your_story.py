"""The story on the active hierarchy (:mod:`hrviz.your_story`): one button that trains the four
chapters in the background, a progress bar while they train, then the four-line chart (the
paper's full-WordNet ticks where the cap is the paper's 8) and one sentence per chapter.

Home and the Train page both call :func:`story_panel`; the job is one per process, source and
cap (:func:`hrviz.your_story.start`), so the two buttons and every session share it.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from hrviz import charts, your_story
from hrviz.paper import WORDNET

from .paths import db_key
from .resources import _jobs, _store

PAPER_TICKS = {"lost": WORDNET[(64, "standard")], "repaired": WORDNET[(64, "pretrain-finetune")]}
REFRESH_SECONDS = 2.0  # how often the story's progress redraws while it trains


def _job(source: str, cap):
    return _jobs(db_key()).get(your_story.JOB_KIND, your_story.job_key(source, cap))


def _progress(source: str, cap) -> None:
    """While the story trains: its progress; once it ends, one rerun draws the results. Drawn as a
    fragment that redraws every :data:`REFRESH_SECONDS` only while the job is alive (nothing
    polls without a job, or after it ends: the full rerun it triggers draws no fragment)."""
    job = _job(source, cap)
    if job is None:
        return
    if job.alive:
        st.progress(job.progress, text=f"The story on this hierarchy, {job.progress:.0%}: {job.message}")
        if st.button("Stop the story", key=f"ys_stop_{source}_{cap}"):
            job.cancel()
    elif st.session_state.get("ys_seen") != (source, cap, job.ended):
        st.session_state["ys_seen"] = (source, cap, job.ended)
        st.rerun()


def story_panel(source: str, h, cap, *, where: str) -> None:
    """The button, the progress and the results of the story on ``source`` at ``cap``."""
    cap = your_story.DEFAULT_MAX_DISTANCE if cap is None else cap
    store = _store(db_key())
    found = your_story.runs(store, source, cap)
    job = _job(source, cap)
    live = job is not None and job.alive
    missing = [ch.short for ch in your_story.CHAPTERS if ch.key not in found]
    c1, c2 = st.columns([2, 3])
    label = "Tell the story on this hierarchy" if missing else "Tell it again (new seed)"
    if c1.button(label, key=f"ys_start_{where}", disabled=live, icon=":material/auto_stories:"):
        seed = 0 if missing else int(st.session_state.get("ys_seed", 0)) + 1
        st.session_state["ys_seed"] = seed
        your_story.start(_jobs(db_key()), store, source, max_distance=cap, seed=seed, hierarchy=h,
                         force=not missing)
        st.rerun()
    c2.caption(f"Four runs on this hierarchy ({h.n:,} nodes, distances 0-{min(cap, h.max_depth)}) with the "
               "defaults: standard training in the paper regime (lost), pretrain-finetune (repaired), the logQ "
               "correction (corrected), the exact regime (cause removed). In the background; every page "
               "stays usable." + (f" Not trained yet: {', '.join(missing)}." if missing else ""))
    if live:  # a timer only while the story trains
        st.fragment(_progress, run_every=REFRESH_SECONDS)(source, cap)
    if job is not None and job.status == "failed":
        st.warning(f"The story could not be trained: {job.error}")
    if not found:
        return
    frame = your_story.final_frame(store, found)
    ref = pd.DataFrame()
    if cap == 8:  # the paper's ticks apply where its cap does (its WordNet rows, dimension 64)
        ref = pd.concat([charts.reference_frame(PAPER_TICKS[k], chapter=your_story.BY_KEY[k].short)
                         for k in PAPER_TICKS if k in found], ignore_index=True)
    st.altair_chart(charts.recall_by_distance_chart(
        frame, color="chapter", reference=ref if not ref.empty else None,
        title=f"the story on {h.source}: " + ", ".join(your_story.BY_KEY[k].short for k in found)),
        width="stretch")
    if cap == 8:
        st.caption("Black ticks: the paper's full-WordNet rows at dimension 64 (standard and "
                   "pretrain-finetune), for shape, not a target on this hierarchy.")
    for key, text in your_story.sentences(found).items():
        st.markdown(f"- **{your_story.BY_KEY[key].short}** (run #{found[key]['run_id']}): {text}")
