"""Home: the task, the paper's synthetic tree (three recipes), then the paper's story as runs of
this store (hrviz.story): lost in the long distance, repaired by pretrain-finetune, the cause
removed, the cause corrected (logQ), each on a hierarchy its heading names with its size; then
full WordNet as measured offline (hrviz.measured) in three rows and a sentence; then the story on
the user's own hierarchy (hrviz_app.your_story), one button away. "Words on this page" explains
every term (hrviz.story.GLOSSARY). While the story's runs train
in the background (a first start, or a re-run), a status fragment at the top redraws their
progress (read from the store) every second and reruns the page whenever one of them starts or
ends, so the chapters fill in as their runs finish; the timer stops with the job."""

import random

import pandas as pd
import streamlit as st

from hrviz import charts, measured, story
from hrviz.errors import InputError
from hrviz.kinds.poincare import POINCARE
from hrviz.paper import SYNTHETIC, WORDNET
from hrviz_app.active import active_source, newest_run_on
from hrviz_app.navigation import PAGES, through_app
from hrviz_app.resources import DEFAULT_SOURCE, get_store, load_hierarchy
from hrviz_app.story import rerun_story, story_job
from hrviz_app.titles import source_title
from hrviz_app.your_story import story_panel

through_app(__file__)  # never the legacy pages-directory mode
st.title("Hierarchical retrieval: lost in the long distance")
st.markdown(
    "A **dual encoder** embeds every node of a hierarchy twice, as a query and as a document, "
    "and retrieves by dot product. In **hierarchical retrieval** a query must retrieve itself "
    "and *all* its ancestors. The paper behind hrviz (You et al., NeurIPS 2025) reports that "
    "standard training finds the near ancestors and loses the far ones, and that a "
    "**pretrain-finetune** recipe brings them back. Below: the task, the paper's own synthetic "
    f"experiment on {story.where(story.TREE_SOURCE)}, then the story on {story.where(story.SOURCE)}, "
    "all as runs in *this* store, with the paper's numbers as black ticks; then full WordNet "
    f"({story.HIERARCHIES['wordnet'][1]:,} nodes) as measured offline, and the story on your own hierarchy."
)
with st.expander("Words on this page", icon=":material/menu_book:"):
    st.markdown("\n".join(f"- **{term}**: {text}" for term, text in story.GLOSSARY.items()))

# ----- the story's runs, and their job when they train in the background (a first start, a re-run)
store = get_store()
PAPER = {"lost": WORDNET[(story.DIM, "standard")], "repaired": WORDNET[(story.DIM, "pretrain-finetune")]}
PAPER_LABEL = f"paper: full WordNet, dim {story.DIM}"  # the ticks' data, in every legend
PAPER_TICKS = (f"the paper's row on {story.where('wordnet')} at dimension {story.DIM}, for its shape: "
               "not numbers for this subtree")


def job_states(job) -> list[story.ChapterProgress]:
    """Where each run of the story job stands (read from the store); [] without a job."""
    return [] if job is None else story.progress(store, job.info["chapters"], job.info["after"])


def drawn_state(job, states) -> tuple:
    """What the page's chapters show of a job: it changes when a run starts or ends, or the job
    ends (so a chapter never says it waits while its run trains)."""
    return (id(job), job is not None and job.alive, tuple(p.status for p in states))


def job_status() -> None:
    """The story job in words, with a progress bar while it trains. A fragment that redraws
    every second while the job trains, and reruns the whole page when one of its runs ends (the
    chapters then show it) or the job does (which stops the timer)."""
    job = story_job()
    if job is None:
        return
    states = job_states(job)
    if drawn_state(job, states) != st.session_state.get("home_drawn"):
        st.rerun(scope="app")
    info = job.info
    what = (f"{len(info['chapters'])} ({', '.join(info['chapters'])}) on the paper's tree "
            f"(`{story.TREE_SOURCE}`, dimension {story.TREE_DIM}) and the WordNet mammal subtree "
            f"(`{story.SOURCE}`, dimension {story.DIM})")
    if job.alive:
        if info["force"]:
            st.info(f"Re-running the story with seed {info['seed']} in the background: the chapters "
                    "below fill in as their runs finish.", icon=":material/model_training:")
        else:
            st.info(f"First start: the results store had no story runs, so hrviz is training {what} "
                    "in the background (30 to 50 s). The other pages work meanwhile; the chapters "
                    "below fill in as their runs finish.", icon=":material/model_training:")
        st.progress(story.overall(states), text=story.progress_line(states))
    elif job.status == "failed":
        st.warning(f"The story's runs could not be trained: {job.error}")
    elif not info["force"]:
        st.info(f"First start: the results store had no story runs, so hrviz has just trained {what} "
                f"in {job.seconds:.0f} s. Re-run them with a new seed at the bottom, or train your own "
                "on the Train page.", icon=":material/info:")


job = story_job()
states = job_states(job)
training = job is not None and job.alive
st.session_state["home_drawn"] = drawn_state(job, states)
if job is not None and not training and job.status == "done" and \
        job.info["seed"] == st.session_state.pop("home_rerun_seed", None):
    st.session_state["home_runs"] = [int(r) for r in job.result.values()]  # this session's re-run
st.fragment(job_status, run_every=1.0 if training else None)()

runs = story.story_runs(store, st.session_state.get("home_runs"))
pending = {p.chapter.key: p for p in states if p.status != "finished"}  # runs of the job not finished
runs = {k: r for k, r in runs.items() if k not in pending}  # not an older run in their place
final = story.final_frame(store, runs)
if runs and st.session_state.get("run_id") is None:  # a first start's session: its runs are there now
    st.session_state["run_id"] = newest_run_on(active_source())  # one of the active hierarchy
tree_runs = story.story_runs(store, st.session_state.get("home_runs"), chapters=story.TREE_CHAPTERS)
tree_runs = {k: r for k, r in tree_runs.items() if k not in pending}
tree_final = story.final_frame(store, tree_runs)


def in_words(key: str, frame: pd.DataFrame | None = None) -> str:
    """One chapter's chart in words: every distance, the weakest and the strongest."""
    frame = final if frame is None else frame
    if frame.empty:
        return ""
    part = frame[frame["chapter"] == story.CHAPTERS_BY_KEY[key].short].sort_values("distance")
    if part.empty:
        return ""
    cells = ", ".join(f"{int(d)} at {r:.0%}" for d, r in zip(part["distance"], part["recall"]))
    lo, hi = part.loc[part["recall"].idxmin()], part.loc[part["recall"].idxmax()]
    return (f"Run #{int(part['run_id'].iloc[0])}, recall by distance: {cells}. Weakest: distance {int(lo['distance'])} "
            f"({lo['recall']:.0%}); strongest: distance {int(hi['distance'])} ({hi['recall']:.0%}).")


def not_there(ch: story.Chapter) -> None:
    """In place of a chapter's chart: why its run is not there (training, waiting, failed, none)."""
    state = pending.get(ch.key)
    if state is None:
        st.info(f"No finished *{ch.short}* run on `{ch.source}` yet: re-run the story below.")
    elif state.status == "running":
        st.info(f"Run #{state.run_id} ({ch.short}) is training in the background: its chart appears "
                "here when it ends.", icon=":material/hourglass_top:")
    elif state.status == "waiting" and training:
        st.info(f"The *{ch.short}* run starts when the run before it ends.", icon=":material/schedule:")
    elif state.status == "waiting":
        st.error(f"The *{ch.short}* run was not trained: see the warning above.")
    else:
        why = (state.error or "").splitlines()[0] if state.error else "no error recorded"
        st.error(f"The *{ch.short}* run #{state.run_id} {state.status}: {why}")


def chapter_section(number: int, ch: story.Chapter) -> None:
    """One chapter: what was trained and why, its numbers, its chart, a link to its queries."""
    st.header(f"{number} · {ch.title}, on {story.where(ch.source)}")
    run = runs.get(ch.key)
    c1, c2 = st.columns([1, 3])
    with c1:
        st.markdown(ch.caption)
        if run is not None and run.get("min") is not None:
            st.metric(f"Worst distance ({ch.short})", f"{run['min']:.1%}",
                      help="min over distances of recall@k, k = the number of relevant documents")
            st.metric(f"Overall ({ch.short})", f"{run['overall']:.1%}", help="pooled over all pairs")
            if st.button("Inspect its queries", key=f"home_inspect_{ch.key}", icon=":material/search:"):
                st.session_state["source"] = story.SOURCE
                st.session_state["max_distance"] = story.MAX_DISTANCE
                st.session_state["run_id"] = int(run["run_id"])
                st.switch_page("pages/4_query.py")
    with c2:
        part = final[final["chapter"] == ch.short] if not final.empty else final
        if part.empty:
            not_there(ch)
            return
        other = story.CHAPTERS_BY_KEY.get(ch.beside)  # drawn beside it (logQ beside the repair)
        if other is not None:
            part = final[final["chapter"].isin([ch.short, other.short])]
        ref = charts.reference_frame(PAPER.get(ch.key), chapter=PAPER_LABEL)
        st.altair_chart(charts.recall_by_distance_chart(
            part, color="chapter", reference=ref,
            title=f"recall by distance on {story.HIERARCHIES[ch.source][0]}: {ch.short}"
                  + (f" beside {other.short}" if other else "")),
            width="stretch")
        st.caption(in_words(ch.key) + (f" Black ticks: {PAPER_TICKS}." if not ref.empty else "")
                   + (f" Beside it: {other.short} ({in_words(other.key)})" if other and other.key in runs else ""))


# ----- 1. the task
small = load_hierarchy("tree:H=4,W=3")
st.header(f"1 · The task, on a small tree ({small.n} nodes)")
leaves = [int(i) for i in small.leaves]
c1, c2 = st.columns([1, 3])
with c1:
    st.markdown(
        "A perfect tree of 4 levels (the root, then 3 levels below it). Pick a query: it must score **itself and every "
        "ancestor** (orange) above every other node. The **distance** of a pair is the number "
        "of hops up; the root is the farthest ancestor."
    )
    q = st.selectbox("Query", leaves, index=len(leaves) // 2, format_func=small.label,
                     key="home_query")
with c2:
    st.altair_chart(charts.query_tree_chart(small, q, height=300), width="stretch")

# ----- 2. the paper's own experiment: its synthetic tree, three recipes
st.header(f"2 · The paper's synthetic tree, on `{story.TREE_SOURCE}` "
          f"({story.HIERARCHIES[story.TREE_SOURCE][1]} nodes)")
c1, c2 = st.columns([1, 3])
with c1:
    st.markdown(
        "The paper's first table: a perfect tree of 4 levels and 5 children a node, embedded in "
        f"**dimension {story.TREE_DIM}**; each leaf must retrieve itself and its ancestors up to "
        "distance 2. Three recipes in the paper regime with what defines the paper's experiment "
        "(the leaves as queries, distances 0-2, per-document pairs, the full softmax, free norms); "
        "every size (batch, steps, plateau) from the hierarchy's measures, as on any hierarchy. "
        "The Train page and the command line default to the exact regime with pretrain-finetune "
        "instead: this is the paper's setting, chosen to show its failure.")
with c2:
    if tree_final.empty:
        for ch in story.TREE_CHAPTERS:
            not_there(ch)
    else:
        ref = pd.concat([charts.reference_frame(story.tree_reference(ch), chapter=ch.short)
                         for ch in story.TREE_CHAPTERS], ignore_index=True)
        st.altair_chart(charts.recall_by_distance_chart(
            tree_final, color="chapter", reference=ref,
            title=f"recall by distance on {story.TREE_SOURCE}, dim {story.TREE_DIM}: three recipes"),
            width="stretch")
        st.caption(" ".join(f"**{ch.short}**: {in_words(ch.key, tree_final)}"
                            for ch in story.TREE_CHAPTERS if ch.key in tree_runs)
                   + " Black ticks: the paper's numbers (" + "; ".join(
                       f"{ch.short}: " + ", ".join(
                           [f"distance {d} at {v:.1%}" for d, v in SYNTHETIC[ch.recipe]["recall_by_distance"].items()]
                           + [f"{SYNTHETIC[ch.recipe]['overall']:.1%} overall"])
                       for ch in story.TREE_CHAPTERS) + "). The map behind these settings: "
                   "bench/results/synthetic_paper.md.")
        for ch in story.TREE_CHAPTERS:
            if ch.key not in tree_runs:
                not_there(ch)
for col, ch in zip(st.columns(len(story.TREE_CHAPTERS)), story.TREE_CHAPTERS):
    with col:
        run = tree_runs.get(ch.key)
        if run is not None and run.get("overall") is not None:
            ref = story.tree_reference(ch) or {}
            st.metric(f"Overall ({ch.short}, tree)", f"{run['overall']:.1%}",
                      delta=None if ref.get("overall") is None else f"paper {ref['overall']:.1%}",
                      delta_color="off", delta_arrow="off",
                      help="pooled over the leaves' pairs (distances 0-2)")
        st.caption(ch.caption)
rebalanced = tree_final[tree_final["chapter"] == story.CHAPTERS_BY_KEY["tree-rebalanced"].short] \
    if not tree_final.empty else tree_final
if not rebalanced.empty:  # hrviz ~67% beside the paper's 40.7%: why
    st.caption(story.rebalanced_gap(dict(zip(rebalanced["distance"].astype(int), rebalanced["recall"])),
                                    float(tree_runs["tree-rebalanced"]["overall"])))

# ----- 3-6. the WordNet chapters, 7. all of them together
first = 3
st.markdown(
    f"Chapters {first} to {first + len(story.CHAPTERS)} run on the WordNet mammal subtree, "
    f"`{story.SOURCE}`: {story.HIERARCHIES[story.SOURCE][1]:,} nodes, distances 0-{story.MAX_DISTANCE}, "
    f"dimension {story.DIM}; not full WordNet ({story.HIERARCHIES['wordnet'][1]:,} nodes, chapter "
    f"{first + len(story.CHAPTERS) + 1}). Each run's sizes (batch, steps, plateau) come from the "
    "hierarchy's measures.")
for i, ch in enumerate(story.CHAPTERS, start=first):
    chapter_section(i, ch)

TOGETHER = {3: "three", 4: "four", 5: "five"}.get(len(story.CHAPTERS), str(len(story.CHAPTERS)))
st.header(f"{len(story.CHAPTERS) + first} · The {TOGETHER} together, on {story.where(story.SOURCE)}")
if final.empty:
    st.info("No story runs yet: " + ("they are training, see the progress above." if training
                                     else "re-run the story below."))
else:
    st.altair_chart(charts.recall_by_distance_chart(
        final, color="chapter", title=f"recall by distance on {story.HIERARCHIES[story.SOURCE][0]}: "
        + ", ".join(ch.short for ch in story.CHAPTERS)),
        width="stretch")
    st.caption("Runs shown: " + ", ".join(f"#{r['run_id']} {story.CHAPTERS_BY_KEY[k].short} "
                                          f"(seed {r['seed']})" for k, r in runs.items()) + ".")
st.markdown(
    "**Not under-training.** The lost run is not short of steps: in the recipe study "
    "(`bench/results/recipes.md`, 3 seeds) standard training at 4,000 steps ends at 4% at "
    "distance 8, no better than at 300. **Where it comes from.** The failure needs in-batch "
    "negatives that are not masked: a far ancestor such as *mammal* is somebody's positive in "
    "almost every batch, so every other query learns to push it away. hrviz's default, on the "
    "Train page and the command line alike (`--regime exact`, pretrain-finetune, every size from "
    "the hierarchy's measures), masks those false negatives; the paper regime (`--regime paper`) "
    "does not; `--logq` keeps them and corrects their popularity. The full map of what fails and "
    "what repairs it is on the Study page and in `docs/science-notes.md`."
)

# ----- full WordNet: measured offline (too long for a first start), read from hrviz/measurements
st.header(f"{len(story.CHAPTERS) + first + 1} · Full WordNet ({story.HIERARCHIES['wordnet'][1]:,} nodes), "
          "measured offline")
try:
    measured_runs = measured.wordnet_paper()
    measured_error = None
except ValueError as err:
    measured_runs, measured_error = [], str(err)
paper_rows = {recipe: WORDNET[(story.DIM, recipe)] for recipe in ("standard", "pretrain-finetune")}
st.markdown(
    f"All {story.HIERARCHIES['wordnet'][1]:,} WordNet nouns, ancestors up to distance 8, dimension "
    f"{story.DIM}, the paper regime (in-batch negatives, nothing masked, dense Adam, batch 4,096): the "
    "paper's rows beside hrviz's runs, measured offline (10 to 30 minutes each on 2 cores). Recall in %.")
if measured_error:
    st.warning(f"The measured runs could not be read: {measured_error}")
if measured_runs:
    three = measured.home_rows(measured_runs, paper_rows)
    st.dataframe(three, hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(format="%.1f")
                                for c in three.columns if c not in ("row", "hrviz setting")})
    sentence = measured.conclusion(measured_runs, paper_rows["pretrain-finetune"])
    if sentence:
        st.markdown(f"**{sentence}**")
    ref = pd.concat([charts.reference_frame(v, run=f"paper: {k}") for k, v in paper_rows.items()],
                    ignore_index=True)
    st.altair_chart(charts.recall_by_distance_chart(
        measured.home_frame(measured_runs), color="run", reference=ref,
        title=f"recall by distance on full WordNet, dim {story.DIM}: hrviz (lines), the paper (ticks)"),
        width="stretch")
    st.caption(measured.note(measured_runs) + f" The full map of {len(measured_runs)} settings: below, "
               "and bench/results/wordnet_paper.md with its chart.")
    with st.expander(f"The full map: every measured setting ({len(measured_runs)})", icon=":material/table:"):
        rows = measured.table(measured_runs, {f"paper: {k}": v for k, v in paper_rows.items()}, percent=True)
        st.dataframe(rows.drop(columns=["command"]), hide_index=True, width="stretch",
                     column_config={"seconds": st.column_config.NumberColumn("train s", format="%.0f"),
                                    **{c: st.column_config.NumberColumn(
                                        f"distance {c[1:]}" if c[1:].isdigit() else c, format="%.1f")
                                       for c in rows.columns if c not in ("row", "what", "seconds", "command")}})
        st.caption("Produced by (in a checkout of hrviz; rows copied from bench/results/wordnet_paper.jsonl "
                   "into hrviz/measurements/wordnet_paper.jsonl):")
        st.code("\n".join(dict.fromkeys(r.command for r in measured_runs if r.command)), language="bash")
else:
    st.info("No measured full-WordNet runs shipped yet (hrviz/measurements/wordnet_paper.jsonl).")

# ----- beside the story: hyperbolic embeddings on the same hierarchy
st.header(f"{len(story.CHAPTERS) + first + 2} · Why not hyperbolic embeddings? On {story.where(story.SOURCE)}")
hyp = story.poincare_run(store)
c1, c2 = st.columns([1, 3])
with c1:
    st.markdown(
        "A **Poincaré ball** (Nickel & Kiela 2017) places a hierarchy in hyperbolic space: far "
        "ancestors sit near the origin, close to everything below them, and one table scores by "
        f"minus the hyperbolic distance. Here: the same mammal subtree, dimension {story.DIM}, the same "
        "evaluation. Its distance is symmetric, so a node's children and siblings compete with "
        "its parent: its weak spot is distance 1, not the far end.")
    if hyp is not None:
        st.metric("Worst distance (Poincaré)", f"{hyp['min']:.1%}")
        st.metric("Overall (Poincaré)", f"{hyp['overall']:.1%}")
    if st.button("Train a Poincaré model here" if hyp is None else "Train it again (new seed)",
                 key="home_poincare", icon=":material/blur_circular:", help="about 10 s"):
        with st.spinner("Training a Poincaré model on the same hierarchy..."):
            try:
                story.train_poincare(store, seed=random.randrange(0, 10_000) if hyp is not None else 0)
            except Exception as err:  # shown in words; the page stays usable
                st.error(f"The Poincaré run failed: {err}")
            else:
                st.rerun()
with c2:
    if hyp is None:
        st.info("No Poincaré run on this hierarchy yet: train one with the button (it is stored "
                "like any run, and Results compares it with the dual encoders).")
    else:
        rec = store.recall([int(hyp["run_id"])], split="all")
        part = charts.final_recall_frame(rec[rec["stage"] == "final"]).assign(chapter=POINCARE.title)
        both = pd.concat([final, part], ignore_index=True) if not final.empty else part
        st.altair_chart(charts.recall_by_distance_chart(
            both, color="chapter", title=f"recall by distance on {story.HIERARCHIES[story.SOURCE][0]}: "
                                         "the story's runs and a Poincaré ball"),
            width="stretch")
        st.caption(f"Poincaré run #{hyp['run_id']}: MAP {hyp['map']:.3f}, mean rank "
                   f"{hyp['mean_rank']:.2f}. More dimensions and the study of pretrain-finetune "
                   "on Poincaré: bench/results/hyperbolic.md.")

# ----- the story on the user's own hierarchy (the active one): one button
st.header("Your hierarchy")
own = st.session_state.get("source", DEFAULT_SOURCE)
try:
    own_h = load_hierarchy(own)
except InputError as err:
    st.info(f"The active hierarchy could not be loaded ({err}): choose one on the Hierarchy page.")
else:
    st.markdown(f"The same story told on the active hierarchy, **{source_title(own)}** ({own_h.n:,} nodes): "
                "upload your own on the Hierarchy page, then press the button.")
    story_panel(own, own_h, st.session_state.get("max_distance"), where="home")

# ----- re-run and explore
st.header("Try it")
c1, c2 = st.columns([1, 2])
with c1:
    if st.button("Re-run the story (new seed)", type="primary", key="home_rerun", disabled=training,
                 icon=":material/replay:", help="trains the story's runs again in the background, 30 to 50 s"):
        seed = random.randrange(1, 10_000)
        st.session_state["home_rerun_seed"] = seed
        rerun_story(seed)
        st.rerun()
with c2:
    st.markdown("Then explore:")
    for spec in PAGES[1:]:
        st.page_link(spec.path, label=spec.title, icon=spec.icon)
