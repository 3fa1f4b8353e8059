"""Geometry: the construction of Theorem 3.1 on a tree or the current hierarchy: score
distributions, margin, separation and recall as d varies; the smallest working d against H and
W beside the O(H^2 log W) shape."""

from pathlib import Path

import pandas as pd
import streamlit as st

ROOT = Path(__file__).resolve().parents[1]

from hrviz import geometry
from hrviz.charts.geometry import min_dim_chart, score_histogram_chart
from hrviz.errors import InputError
from hrviz_app.navigation import through_app
from hrviz_app.resources import load_hierarchy as hierarchy  # one cache of hierarchies for the whole app

STUDY_CSV = ROOT / "bench" / "results" / "geometry.csv"
MAX_EXACT = 5_000  # larger hierarchies: a seeded sample of queries, against all documents
SAMPLE = 2_000
DIMS = [2, 4, 8, 16, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024]


through_app(__file__)  # never the legacy pages-directory mode
st.title("Geometry")
st.markdown(
    "**What the theorem says.** A dual encoder *can* solve hierarchical retrieval exactly: if "
    "every query has at most *s* relevant documents among *m*, there are embeddings in "
    "d = O(*s* log *m*) dimensions (for a perfect tree of H levels and width W: O(H² log W)) and "
    "**one** score threshold that puts every relevant pair above it and every irrelevant pair "
    "below it. The proof builds them: every document gets a random Gaussian direction, and each "
    "query is the normalised sum of the directions of itself and its ancestors. Random directions "
    "are nearly orthogonal, so relevant scores sit near 1/√s and irrelevant ones near 0; as d grows "
    "the noise around both shrinks until the two groups separate."
)


@st.cache_data(show_spinner="Building and scoring the construction...", max_entries=64)
def construction(source: str, dim: int, seed: int):
    rep = geometry.evaluate_construction(hierarchy(source), dim, seed=seed, bins=120,
                                         max_exact=MAX_EXACT, sample=SAMPLE)
    return rep.summary(), geometry.histogram_frame(rep), rep.threshold


@st.cache_data(show_spinner="No study results yet: computing a quick version (a few seconds)...")
def quick_study() -> pd.DataFrame:
    rows = geometry.study(heights=(3, 4, 5, 6), width_fixed=2, widths=(2, 3, 4, 5), height_fixed=4,
                          trials=3, groups=1, seed=0)
    return pd.DataFrame(rows, columns=geometry.STUDY_COLUMNS)


def study_results() -> tuple[pd.DataFrame, str]:
    if STUDY_CSV.exists():
        try:
            frame = pd.read_csv(STUDY_CSV)
            if set(geometry.STUDY_COLUMNS) <= set(frame.columns) and not frame.empty:
                return frame, f"from the dimension study (`{STUDY_CSV.relative_to(ROOT)}`, `bench/geometry.py`)"
        except (OSError, ValueError, pd.errors.ParserError):
            pass
    return quick_study(), "a quick live version (3 trials per point); run `bench/geometry.py` for the full study"


# ----------------------------------------------------------------------------- the construction
current = st.session_state.get("source")
choices = ["Perfect tree"] + (["The current hierarchy"] if current else [])
pick = st.radio("Hierarchy", choices, horizontal=True, key="geometry_mode",
                help="The current hierarchy is the one chosen on the Hierarchy page.")
if pick == "Perfect tree":
    c1, c2 = st.columns(2)
    H = c1.slider("Levels H", 2, 7, 4, key="geometry_H")
    W = c2.slider("Width W", 2, 6, 5, key="geometry_W")
    source = f"tree:H={H},W={W}"
else:
    source = current

c1, c2 = st.columns([3, 1])
dim = c1.select_slider("Dimension d", DIMS, value=128, key="geometry_dim")
seed = int(c2.number_input("Seed", 0, 10_000, 0, step=1, key="geometry_seed"))

try:
    h = hierarchy(source)
    summary, hist, threshold = construction(source, dim, seed)
except InputError as err:
    st.error(str(err))
    st.stop()

st.caption(f"`{source}`: {h.n:,} nodes, {summary['pairs']:,} relevant pairs evaluated "
           f"(each query against all {h.n:,} documents).")
if summary["sampled_queries"]:
    st.info(f"This hierarchy is large: the numbers below use a seeded sample of "
            f"{summary['sampled_queries']:,} of its {h.n:,} queries, each scored against all documents.")

margin = summary["margin"]
m1, m2, m3, m4 = st.columns(4)
m1.metric("margin (one threshold)", "∞" if margin is None else f"{margin:+.4f}",
          help="smallest relevant score minus largest irrelevant score, over all queries")
m2.metric("separated", "yes" if summary["separated"] else "no",
          help="margin > 0: one threshold puts every relevant pair above every irrelevant one")
m3.metric("queries separated", f"{summary['query_separated']:.1%}",
          help="queries whose own relevant documents all outscore their irrelevant ones")
m4.metric("recall@auto", f"{summary['recall']:.2%}",
          help="k = |S(q)| per query, pooled over all relevant pairs")

st.altair_chart(score_histogram_chart(hist, threshold), width="stretch")
st.caption("Each kind is shown as a share of its own pairs (irrelevant pairs outnumber relevant "
           "ones by far). The dashed line is the best single threshold: the middle of the gap when "
           "there is one, else the score with the smallest balanced error.")

# ----------------------------------------------------------------------------- the study
st.subheader("The smallest working d")
frame, where = study_results()
st.caption(f"Smallest d that works, {where}. **construction-global**: one threshold separates "
           "every pair (margin > 0) in at least 90% of seeded trials, the theorem's claim; "
           "**construction-query**: every query separated by its own threshold (recall@auto = 1); "
           "**learned**: a trained dual encoder reaching recall@auto = 1. Dashed: the theorem's "
           "O(H² log W), scaled to the construction's points. Bars: range over seed groups.")
c1, c2 = st.columns(2)
c1.altair_chart(min_dim_chart(frame, "H", log=True), width="stretch", height=480)
c2.altair_chart(min_dim_chart(frame, "W"), width="stretch", height=480)
fits = geometry.fit_study(frame, boot=200)
if fits:
    st.dataframe(pd.DataFrame([{
        "study": "log d vs log H" if f["study"] == "H" else "d vs ln W",
        "method": f["method"], "ours": round(f["slope"], 2),
        "paper": f["paper"], "theory": f["theory"],
        "seed groups": f["groups"],
    } for f in fits]), hide_index=True)
