"""Home: the task, then the paper's story as three runs of this store (hrviz.story): lost in the
long distance, repaired by pretrain-finetune, and the cause removed."""

import random

import pandas as pd
import streamlit as st

from hrviz import charts, story
from hrviz.paper import WORDNET
from hrviz_app.navigation import PAGES, through_app
from hrviz_app.resources import get_store, load_hierarchy
from hrviz_app.story import ensure_story_runs, rerun_story

through_app(__file__)  # never the legacy pages-directory mode
st.title("Hierarchical retrieval: lost in the long distance")
st.markdown(
    "A **dual encoder** embeds every node of a hierarchy twice, as a query and as a document, "
    "and retrieves by dot product. In **hierarchical retrieval** a query must retrieve itself "
    "and *all* its ancestors. The paper behind hrviz (You et al., NeurIPS 2025) reports that "
    "standard training finds the near ancestors and loses the far ones, and that a "
    "**pretrain-finetune** recipe brings them back. Below: the task, then the story as three "
    "runs in *this* store, with the paper's numbers as black ticks."
)

start = ensure_story_runs()
if start.error:
    st.warning(f"The story's runs could not be trained: {start.error}")
elif start.trained:
    st.info(
        f"First start: the results store had no story runs, so hrviz has just trained "
        f"{len(start.trained)} ({', '.join(start.trained)}) on the WordNet mammal subtree "
        f"(`{story.SOURCE}`, d={story.DIM}) in {start.seconds:.0f} s. Re-run them with a new "
        "seed at the bottom, or train your own on the Train page.",
        icon=":material/info:",
    )

# ----- 1. the task
st.header("1 · The task")
small = load_hierarchy("tree:H=4,W=3")
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

# ----- the three runs behind the story
store = get_store()
runs = story.story_runs(store, st.session_state.get("home_runs"))
final = pd.DataFrame()
if runs:
    ids = [int(r["run_id"]) for r in runs.values()]
    rec = store.recall(ids, split="all")
    final = charts.final_recall_frame(rec[rec["stage"] == "final"])
    chapter = {int(r["run_id"]): story.CHAPTERS_BY_KEY[k].short for k, r in runs.items()}
    final["chapter"] = final["run_id"].map(chapter)

PAPER = {"lost": WORDNET[(story.DIM, "standard")], "repaired": WORDNET[(story.DIM, "pretrain-finetune")]}
PAPER_LABEL = f"paper, full WordNet, d={story.DIM}"


def in_words(key: str) -> str:
    """One chapter's chart in words: every distance, the weakest and the strongest."""
    part = final[final["chapter"] == story.CHAPTERS_BY_KEY[key].short].sort_values("distance")
    if part.empty:
        return ""
    cells = " · ".join(f"d{int(d)} {r:.0%}" for d, r in zip(part["distance"], part["recall"]))
    lo, hi = part.loc[part["recall"].idxmin()], part.loc[part["recall"].idxmax()]
    return (f"Run #{int(part['run_id'].iloc[0])}: {cells}. Weakest: distance {int(lo['distance'])} "
            f"({lo['recall']:.0%}); strongest: distance {int(hi['distance'])} ({hi['recall']:.0%}).")


def chapter_section(number: int, ch: story.Chapter) -> None:
    """One chapter: what was trained and why, its numbers, its chart, a link to its queries."""
    st.header(f"{number} · {ch.title}")
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
            st.info(f"No finished *{ch.short}* run on `{story.SOURCE}` yet: re-run the story below.")
            return
        ref = charts.reference_frame(PAPER.get(ch.key), chapter=PAPER_LABEL)
        st.altair_chart(charts.recall_by_distance_chart(
            part, color="chapter", reference=ref,
            title=f"recall by distance: {ch.short}"), width="stretch")
        st.caption(in_words(ch.key) + (f" Black ticks: {PAPER_LABEL}." if not ref.empty else ""))


for i, ch in enumerate(story.CHAPTERS, start=2):
    chapter_section(i, ch)

st.header(f"{len(story.CHAPTERS) + 2} · The three together")
if final.empty:
    st.info("No story runs yet: re-run the story below.")
else:
    st.altair_chart(charts.recall_by_distance_chart(
        final, color="chapter", title="recall by distance: lost, repaired, cause removed"),
        width="stretch")
    st.caption("Runs shown: " + ", ".join(f"#{r['run_id']} {story.CHAPTERS_BY_KEY[k].short} "
                                          f"(seed {r['seed']})" for k, r in runs.items()) + ".")
st.markdown(
    "**Not under-training.** The lost run is not short of steps: in the recipe study "
    "(`bench/results/recipes.md`, 3 seeds) standard training at 4,000 steps ends at 4% at "
    "distance 8, no better than at 300. **Where it comes from.** The failure needs in-batch "
    "negatives that are not masked: a far ancestor such as *mammal* is somebody's positive in "
    "almost every batch, so every other query learns to push it away. hrviz's default "
    "(`--regime exact`) masks those false negatives; the paper's regime (`--regime paper`) "
    "does not. The full map of what fails and what repairs it is on the Study page and in "
    "`docs/science-notes.md`."
)

# ----- beside the story: hyperbolic embeddings on the same hierarchy
st.header(f"{len(story.CHAPTERS) + 3} · Why not hyperbolic embeddings?")
hyp = story.poincare_run(store)
c1, c2 = st.columns([1, 3])
with c1:
    st.markdown(
        "A **Poincaré ball** (Nickel & Kiela 2017) places a hierarchy in hyperbolic space: far "
        "ancestors sit near the origin, close to everything below them, and one table scores by "
        f"minus the hyperbolic distance. Here: the same hierarchy, d={story.DIM}, the same "
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
        part = charts.final_recall_frame(rec[rec["stage"] == "final"]).assign(chapter="Poincaré ball")
        both = pd.concat([final, part], ignore_index=True) if not final.empty else part
        st.altair_chart(charts.recall_by_distance_chart(
            both, color="chapter", title="recall by distance: the story's runs and a Poincaré ball"),
            width="stretch")
        st.caption(f"Poincaré run #{hyp['run_id']}: MAP {hyp['map']:.3f}, mean rank "
                   f"{hyp['mean_rank']:.2f}. More dimensions and the study of pretrain-finetune "
                   "on Poincaré: bench/results/hyperbolic.md.")

# ----- re-run and explore
st.header("Try it")
c1, c2 = st.columns([1, 2])
with c1:
    if st.button("Re-run the story (new seed)", type="primary", key="home_rerun",
                 icon=":material/replay:", help="trains the three runs again, about 20 s"):
        seed = random.randrange(1, 10_000)
        with st.spinner(f"Training the three story runs with seed {seed} (about 20 s)..."):
            try:
                st.session_state["home_runs"] = rerun_story(store, seed)
            except Exception as err:  # shown in words; the page stays usable
                st.error(f"The story's runs failed: {err}")
            else:
                st.rerun()
with c2:
    st.markdown("Then explore:")
    for spec in PAGES[1:]:
        st.page_link(spec.path, label=spec.title, icon=spec.icon)
