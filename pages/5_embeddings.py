"""Embeddings: a 2-d map (PCA, instant; or UMAP, computed in the background and cached on disk)
of a run's query and/or document vectors, coloured by depth, subtree or per-query recall.
Hover shows the node; clicking a point offers to open it in the Query inspector."""

from pathlib import Path

import numpy as np
import streamlit as st

from hrviz import map_points, projection
from hrviz.charts.models import poincare_disk_chart
from hrviz.charts.query import COLOR_BY, SELECTION, embedding_chart
from hrviz.errors import InputError
from hrviz_app.active import active_run_box
from hrviz_app.navigation import through_app
from hrviz_app.poincare_disk import DISK_CAPTION, disk_points, is_disk_run
from hrviz_app.resources import get_store, inspectable_runs, jobs, run_vectors
from hrviz_app.titles import source_title

DEFAULT_POINTS = 5_000
SAMPLE_SEED = 0
SIDES = {"queries": ["query"], "documents": ["doc"], "both": ["query", "doc"]}


@st.cache_data(show_spinner="Ranking the sampled queries against all documents...", max_entries=16)
def recall_of(run_id: int, nodes: np.ndarray) -> np.ndarray:
    h, q, d, run = run_vectors(run_id)
    return map_points.query_recall(q, d, h.closure((run.get("params") or {}).get("max_distance")), nodes)



through_app(__file__)  # never the legacy pages-directory mode
st.title("Embeddings")
runs = inspectable_runs(or_stop=True)
run_id = active_run_box(runs, "e_run")  # the active run, or a plain word why there is none
try:
    h, q_vecs, d_vecs, run = run_vectors(run_id)
except InputError as err:
    st.error(f"Cannot map run #{run_id}: {err}")
    st.stop()
disk = is_disk_run(run)  # a d = 2 Poincaré model: its own points are the map, no projection

# ----- what to draw
c1, c2, c3, c4 = st.columns(4)
side = c1.radio("Vectors", list(SIDES), key="e_side", horizontal=True, disabled=disk,
                help="both: queries are circles, documents squares")
method = c2.radio("Projection", ["PCA", "UMAP"], key="e_method", horizontal=True, disabled=disk,
                  help="PCA is exact and instant; UMAP keeps neighbourhoods but takes a while")
color = c3.selectbox("Colour by", list(COLOR_BY), key="e_color",
                     help="subtree: the ancestor at the chosen depth; recall@auto: share of the "
                          "query's relevant documents found in its top |S(q)|")
max_points = int(c4.number_input("Points at most", 100, 200_000, DEFAULT_POINTS, step=1_000,
                                 key="e_max_points"))
level = 1
if color == "subtree" and h.max_depth > 1:
    level = st.slider("Subtree: ancestor at depth", 1, h.max_depth, 1, key="e_level")

sides = ["query"] if disk else SIDES[side]  # a Poincaré node is one point of the disk
nodes = map_points.sample_nodes(h.n, max(1, max_points // len(sides)), seed=SAMPLE_SEED)
if len(nodes) < h.n:
    st.info(f"{h.n:,} nodes: the map shows a seeded sample of {len(nodes):,} of them "
            f"(seed {SAMPLE_SEED}, {len(nodes) * len(sides):,} points). Raise *Points at most* "
            "for more; UMAP time grows with it.", icon=":material/info:")
x = np.vstack([q_vecs[nodes] if s == "query" else d_vecs[nodes] for s in sides])
recall = recall_of(run_id, nodes) if color == "recall@auto" else None

# ----- the projection
coords, note = None, ""
if method == "UMAP" and not disk:
    p1, p2, p3, p4 = st.columns(4)
    params = projection.umap_params(
        n_neighbors=p1.slider("n_neighbors", 2, 200, 15, key="e_nn",
                              help="neighbourhood size: larger keeps more global structure"),
        min_dist=p2.slider("min_dist", 0.0, 1.0, 0.1, 0.05, key="e_min_dist",
                           help="how tightly points may pack"),
        metric=p3.selectbox("metric", list(projection.METRICS), key="e_metric",
                            help="cosine matches the normalised dot product of the model"),
        seed=int(p4.number_input("seed", 0, 2**31 - 1, 0, key="e_seed")),
    )
    cache_dir = Path(get_store().path).parent / "cache" / "umap"
    shown = ", ".join(f"{k}={'auto' if v is None else v}" for k, v in params.items())
    if len(x) < projection.MIN_UMAP_POINTS:
        st.warning(f"UMAP needs at least {projection.MIN_UMAP_POINTS} points: showing PCA.")
    elif (hit := projection.load_cached(x, cache_dir, **params)) is not None:
        coords, info = hit
        note = (f"UMAP ({shown}) of {len(x):,} points, computed in {info['seconds']:.1f} s on "
                f"{info['created']} with umap {info['umap_version']}; read from the cache "
                f"`{cache_dir}`.")
    else:
        key = projection.cache_key(projection.embedding_hash(x), params)
        job = jobs().get("umap", key)
        if job is not None and job.status == "done" and job.result is not None:
            coords = job.result
            note = f"UMAP ({shown}) of {len(x):,} points, computed in {job.seconds:.1f} s."
        elif job is not None and job.status == "running":
            def umap_progress() -> None:
                j = jobs().get("umap", key)
                if j is None or j.status != "running":
                    st.rerun(scope="app")  # done, failed or stopped: draw it
                st.progress(j.progress, text=f"UMAP ({shown}): {j.message} · {j.seconds:.0f} s")

            st.fragment(umap_progress, run_every=1.0)()
            if st.button("Stop UMAP", key="e_umap_stop", icon=":material/stop:"):
                job.cancel()
                st.rerun()
            st.caption("UMAP runs in the background: the PCA map below stays until it is ready; "
                       "other pages stay usable.")
        else:
            if job is not None and job.status == "failed":
                st.error(f"UMAP failed: {job.error}")
            elif job is not None and job.status == "stopped":
                st.warning("UMAP was stopped: press Compute UMAP to start it again.")
            st.caption(f"UMAP ({shown}) of {len(x):,} points is not computed yet. The first UMAP "
                       "of a process also compiles it (30-60 s); 5,000 points then take a few "
                       "seconds. The result is cached on disk for these vectors and parameters.")
            if st.button("Compute UMAP", type="primary", key="e_umap_go", icon=":material/scatter_plot:"):
                jobs().start_umap(x, cache_dir=cache_dir, **params)
                st.rerun()
if disk:
    coords, note = disk_points(run_id)[nodes], DISK_CAPTION
if coords is None:
    coords, ratio = projection.pca(x, return_variance=True)
    note = (f"PCA of {len(x):,} points: the two axes explain {ratio[0]:.0%} and {ratio[1]:.0%} of "
            "the variance." + (" (UMAP is not ready.)" if method == "UMAP" else ""))

# ----- the map
points = map_points.map_frame(h, coords, nodes, sides, recall=recall, level=level)
title = (f"run #{run_id} · {source_title(run['source'])} · "
         + ("Poincaré disk" if disk else 'UMAP' if note.startswith('UMAP') else 'PCA'))
chart = poincare_disk_chart(points, color=color, title=title) if disk else embedding_chart(points, color=color, title=title)
event = st.altair_chart(chart, on_select="rerun",
                        key="e_chart", width="content" if disk else "stretch")  # the disk keeps its aspect
st.caption(note + " Hover a point to see its node; click one to open it in the Query inspector "
           "(double-click clears).")
if color == "recall@auto" and "doc" in sides:
    st.caption("A document point shows the recall of its node as a query.")

# ----- a chosen point
selection = (event or {}).get("selection") or {}  # {"pick": [{"name": ...}, ...]}
picked = [p.get("name") for p in (selection.get(SELECTION) or []) if isinstance(p, dict)]
picked = [name for name in dict.fromkeys(picked) if name in h.index]
if picked:
    name = picked[-1]
    i = h.index[name]
    st.markdown(f"**Selected:** {h.label(i)} (`{name}`, depth {int(h.depth[i])})"
                + (f" · *{h.descriptions[i]}*" if h.descriptions and h.descriptions[i] else ""))
    if st.button(f"Open {h.label(i)} in the Query inspector", key="e_open", icon=":material/search:"):
        st.switch_page("pages/4_query.py", query_params={"run": str(run_id), "node": name})
