"""Home: the story in three steps (the task, the failure, the fix), each with a live chart."""

import random

import pandas as pd
import streamlit as st

from hrviz import charts
from hrviz.paper import reference
from hrviz.experiment import DEMO_SOURCE
from hrviz_app.demo import DEMO_DIM, demo_runs, ensure_demo_runs, rerun_demo
from hrviz_app.navigation import PAGES, through_app
from hrviz_app.resources import get_store, load_hierarchy


through_app(__file__)  # never the legacy pages-directory mode
st.title("Hierarchical retrieval: lost in the long distance")
st.markdown(
    "A **dual encoder** embeds every node of a hierarchy twice, as a query and as a document, "
    "and retrieves by dot product. In **hierarchical retrieval** a query must retrieve itself "
    "and *all* its ancestors. The paper behind hrviz (You et al., NeurIPS 2025) reports that "
    "standard training gets the near ones and loses the far ones, and that a **pretrain-finetune** "
    "recipe brings them back. Below: the task, then what *this* store's runs measure, next to the "
    "paper's numbers. Where they disagree, the charts show our measurement, not the paper's story."
)

demo = ensure_demo_runs()
if demo.error:
    st.warning(f"The demo experiment could not run: {demo.error}")
elif demo.trained:
    st.info(
        f"First start: the results store had no demo runs, so hrviz has just trained the small "
        f"synthetic experiment ({DEMO_SOURCE}, 781 nodes, d={DEMO_DIM}, standard and "
        f"pretrain-finetune) in {demo.seconds:.0f} s. The charts below show those runs. "
        "Re-run it with a new seed at the bottom, or train your own on the Train page.",
        icon=":material/info:",
    )

# ----- 1. the task
st.header("1 · The task")
small = load_hierarchy("tree:H=3,W=3")
leaves = [int(i) for i in small.leaves]
c1, c2 = st.columns([1, 3])
with c1:
    st.markdown(
        "A perfect tree, 3 levels deep. Pick a query: it must score **itself and every "
        "ancestor** (orange) above every other node. The **distance** of a pair is the number "
        "of hops up; the root is the farthest ancestor."
    )
    q = st.selectbox("Query", leaves, index=len(leaves) // 2, format_func=small.label,
                     key="home_query")
with c2:
    st.altair_chart(charts.query_tree_chart(small, q, height=300), width="stretch")

# ----- the runs behind steps 2 and 3
store = get_store()
runs = demo_runs(store, st.session_state.get("home_runs"))
final = pd.DataFrame()
if runs:
    ids = [int(r["run_id"]) for r in runs.values()]
    rec = store.recall(ids, split="all")
    rec = rec[rec["stage"] == "final"]
    final = charts.final_recall_frame(rec, store.runs()[lambda r: r["run_id"].isin(ids)])


def in_words(recipe: str) -> str:
    """The chart's numbers in words, naming the weakest and strongest distance of this run."""
    part = final[final["recipe"] == recipe].sort_values("distance")
    if part.empty:
        return ""
    cells = " · ".join(f"d{int(d)} {r:.0%}" for d, r in zip(part["distance"], part["recall"]))
    lo, hi = part.loc[part["recall"].idxmin()], part.loc[part["recall"].idxmax()]
    return (f"{recipe}, this run: {cells}. Weakest: distance {int(lo['distance'])} ({lo['recall']:.0%}); "
            f"strongest: distance {int(hi['distance'])} ({hi['recall']:.0%}).")


st.header("2 · The failure: standard training")
c1, c2 = st.columns([1, 3])
std = runs.get("standard")
with c1:
    st.markdown(
        f"A dual encoder with **d={DEMO_DIM}** trained the standard way (softmax loss on all "
        "relevant pairs) on the 781-node tree. The paper finds that each query finds itself but "
        "recall falls with distance: the model gets **lost in the long distance** "
        f"({reference(DEMO_SOURCE, DEMO_DIM, 'standard')['overall']:.0%} overall for this "
        "setting). The chart is this store's run; the black tick is the paper's number. "
        "In hrviz's runs at d=3 the weak end is the *near* one: 625 leaves cannot all find "
        "themselves in 3 dimensions (see docs/science-notes.md); raise the dimension on the Train "
        "page and watch every distance reach 100%. The paper's failure does appear when the "
        "softmax draws its negatives from the batch and does not mask false negatives: popular "
        "far ancestors are then pushed away (WordNet, d=64: distance 8 falls to 13%). Try it on "
        "the Train page under *More hyper-parameters*."
    )
    if std is not None and std.get("overall") is not None:
        st.metric("Overall recall (standard)", f"{std['overall']:.1%}",
                  help="pooled over all relevant pairs; recall@k with k = number of relevant docs")
with c2:
    part = final[final["recipe"] == "standard"] if not final.empty else final
    if part.empty:
        st.info("No finished standard run on the demo tree yet: re-run the experiment below.")
    else:
        st.altair_chart(charts.recall_by_distance_chart(
            part, color="recipe", title="recall by distance, standard training",
            reference=charts.reference_frame(reference(DEMO_SOURCE, DEMO_DIM, "standard"),
                                             recipe="standard")),
            width="stretch")
        st.caption(in_words("standard"))

st.header("3 · The fix: pretrain, then finetune on far pairs")
c1, c2 = st.columns([1, 3])
pf = runs.get("pretrain-finetune")
with c1:
    st.markdown(
        "Same model, same budget. **Pretrain** as before, then **finetune** on long-distance "
        "pairs only, with a learning rate 1000x smaller and a temperature of 500, keeping the "
        "checkpoint with the best validation recall. In the paper far ancestors come back "
        f"({reference(DEMO_SOURCE, DEMO_DIM, 'pretrain-finetune')['overall']:.0%} overall) while "
        "distance 0 stays near 100%. Black ticks: the paper's published numbers. Here the far "
        "ancestors are already found, so finetuning on them has little to fix: compare the two "
        "lines."
    )
    if pf is not None and pf.get("overall") is not None:
        delta = (f"{(pf['overall'] - std['overall']) * 100:+.1f} points"
                 if std is not None and std.get("overall") is not None else None)
        st.metric("Overall recall (pretrain-finetune)", f"{pf['overall']:.1%}", delta=delta)
with c2:
    if final.empty or "pretrain-finetune" not in set(final["recipe"]):
        st.info("No finished pretrain-finetune run on the demo tree yet: re-run the experiment "
                "below.")
    else:
        ref = pd.concat([charts.reference_frame(reference(DEMO_SOURCE, DEMO_DIM, r), recipe=r)
                         for r in ("standard", "pretrain-finetune")], ignore_index=True)
        st.altair_chart(charts.recall_by_distance_chart(
            final, color="recipe", reference=ref,
            title="recall by distance: standard vs pretrain-finetune"), width="stretch")
        st.caption(in_words("pretrain-finetune"))

if runs:
    st.caption("Runs shown: " + ", ".join(f"#{r['run_id']} {k} (seed {r['seed']})"
                                          for k, r in runs.items()))

# ----- re-run and explore
st.header("Try it")
c1, c2 = st.columns([1, 2])
with c1:
    if st.button("Re-run the small experiment (new seed)", type="primary", key="home_rerun",
                 icon=":material/replay:"):
        seed = random.randrange(1, 10_000)
        with st.spinner(f"Training standard and pretrain-finetune with seed {seed}..."):
            try:
                st.session_state["home_runs"] = rerun_demo(store, seed)
            except Exception as err:  # shown in words; the page stays usable
                st.error(f"The experiment failed: {err}")
            else:
                st.rerun()
with c2:
    st.markdown("Then explore:")
    for spec in PAGES[1:]:
        st.page_link(spec.path, label=spec.title, icon=spec.icon)
