"""Query inspector: pick a run and a node; see which of its relevant documents (itself and its
ancestors) the dual encoder retrieves, at which rank, the top-k list and the paths to the root.
A text run (a text tower or a zero-shot encoder) also takes free text. Deep-linkable:
``/query?run=3&node=dog.n.01`` opens that query."""

from urllib.parse import urlencode

import numpy as np
import pandas as pd
import streamlit as st

from hrviz.charts.query import path_to_root_text, score_by_rank_chart
from hrviz.kinds.text import TEXT
from hrviz.errors import InputError
from hrviz.evaluate import query_report
from hrviz_app.active import active_run_box, set_active_run
from hrviz_app.navigation import page, through_app
from hrviz_app.resources import default_inspect_run, inspectable_runs, run_vectors
from hrviz_app.free_text import free_text_section
from hrviz_app.titles import source_title

CHART_MAX_RANK = 200  # the chart follows far ancestors down to this rank


through_app(__file__)  # never the legacy pages-directory mode
st.title("Query inspector")
runs = inspectable_runs(or_stop=True)

# ----- the URL: apply it when it changed from outside (a link, the address bar)
url = (st.query_params.get("run"), st.query_params.get("node"))
from_url = url != st.session_state.get("q_url") and any(url)
if from_url and url[0] is not None:  # a link names the run: it becomes the active run
    wanted = default_inspect_run(runs, url[0])
    if str(wanted) != str(url[0]):
        st.warning(f"There is no run #{url[0]} with a saved model: showing run #{wanted}.")
    set_active_run(wanted)

c1, c2 = st.columns([2, 1])
with c1:
    run_id = active_run_box(runs, "q_run")  # the active run, or a plain word why there is none
try:
    h, q_vecs, d_vecs, run = run_vectors(run_id)
except InputError as err:
    st.error(f"Cannot inspect run #{run_id}: {err}")
    st.stop()
cap = (run.get("params") or {}).get("max_distance")
closure = h.closure(cap)
if st.session_state.get("q_hash") != h.hash:  # another hierarchy: its own node choice
    for key in ("q_node", "q_search"):
        st.session_state.pop(key, None)
    st.session_state["q_hash"] = h.hash
c2.caption(f"`{source_title(run['source'])}` · {h.n:,} nodes · d={q_vecs.shape[1]}"
           + (f" · pairs up to distance {cap}" if cap is not None else ""))
if run["params"].kind == TEXT.name:  # free text: embedded by the run's encoder (and query head), scored against every node
    free_text_section(run_id, h, k=min(20, h.n))
    st.subheader("A node as the query")

# ----- the node
last = st.session_state.get("q_last") or {}
if from_url and url[1] is not None:
    if url[1] in h.index:
        st.session_state["q_search"] = url[1]
        st.session_state["q_node"] = h.index[url[1]]
    else:
        st.warning(f"No node named `{url[1]}` in `{source_title(run['source'])}`.")
elif "q_node" not in st.session_state and last.get("node") in h.index:
    st.session_state["q_node"] = h.index[last["node"]]  # back on the page: the last query


def node_text(i: int) -> str:
    name, label = h.names[i], h.label(i)
    shown = name if label == name else f"{label} · {name}"
    return f"{shown} (depth {int(h.depth[i])})"


text = st.text_input("Search a node by name or label", key="q_search",
                     placeholder="e.g. dog, or part of a name; empty: the deepest nodes")
options = h.search(text, limit=100) if text.strip() else \
    np.argsort(-h.depth, kind="stable")[:50].tolist()
current = st.session_state.get("q_node")
if isinstance(current, (int, np.integer)) and 0 <= current < h.n and current not in options \
        and not text.strip():
    options = [int(current)] + options
if not options:
    st.info(f"No node matches {text!r}.")
    st.stop()
if current not in options:
    st.session_state["q_node"] = options[0]
node = int(st.selectbox(f"Node ({len(options)} shown)", options, format_func=node_text, key="q_node"))
k = st.slider("k (length of the top-k list)", 1, min(100, h.n), min(20, h.n), key="q_k") if h.n > 1 else 1

# ----- write the URL and remember the query
st.query_params.from_dict({"run": str(run_id), "node": h.names[node]})
st.session_state["q_url"] = (str(run_id), h.names[node])
st.session_state["q_last"] = {"run": run_id, "node": h.names[node]}

# ----- the report
docs, _ = closure.of(node)
size = len(docs)
top, anc = query_report(q_vecs, d_vecs, closure, node, k=max(k, CHART_MAX_RANK))  # table: head(k)
hits = int(anc["hit"].sum())
st.subheader(node_text(node))
if h.descriptions and h.descriptions[node]:
    st.markdown(f"*{h.descriptions[node]}*")
m1, m2, m3, m4 = st.columns(4)
m1.metric("Relevant documents", f"{size}", help="|S(q)|: the node itself and its ancestors")
m2.metric("Found in the top |S(q)|", f"{hits} of {size}", help="recall@auto of this query")
m3.metric("Recall@auto", f"{hits / size:.0%}")
m4.metric("Worst rank", f"{int(anc['rank'].max()):,}", help="rank of the relevant document found last")

label_of = lambda ids_: [h.label(int(i)) for i in ids_]  # noqa: E731
names_of = lambda ids_: [h.names[int(i)] for i in ids_]  # noqa: E731
show_names = bool(h.labels)  # without labels the name is the label: one column is enough
anc = anc.sort_values(["distance", "rank"], kind="stable")
table = pd.DataFrame({
    "document": label_of(anc["doc"]), "name": names_of(anc["doc"]),
    "distance": anc["distance"].astype(int), "rank": anc["rank"].astype(int), "score": anc["score"],
    "hit": np.where(anc["hit"], "✓ hit", "✗ miss"),
})
if h.descriptions and any(h.descriptions[int(i)] for i in anc["doc"]):
    table["gloss"] = [h.descriptions[int(i)] for i in anc["doc"]]
st.markdown("**Itself and its ancestors**: a hit is ranked within the top |S(q)| "
            f"= {size}; distance is the number of hops up.")
st.dataframe(table, hide_index=True, key="q_ancestors", column_config={
    "score": st.column_config.NumberColumn(format="%.4f"),
    "name": st.column_config.TextColumn() if show_names else None})

left, right = st.columns([1, 1])
with left:
    st.markdown(f"**Top {k} retrieved**")
    head = top.head(k)
    st.dataframe(pd.DataFrame({
        "rank": head["rank"], "document": label_of(head["doc"]), "name": names_of(head["doc"]),
        "score": head["score"], "relevant": head["relevant"], "distance": head["distance"],
    }), hide_index=True, key="q_top", column_config={
        "score": st.column_config.NumberColumn(format="%.4f"),
        "name": st.column_config.TextColumn() if show_names else None})
with right:
    reach = int(min(h.n, max(k, min(int(anc["rank"].max()), CHART_MAX_RANK))))
    shown = top.head(reach).assign(label=label_of(top["doc"].head(reach)))
    st.altair_chart(score_by_rank_chart(shown, k_auto=size, k=k,
                                        title=f"score by rank (top {reach})"), width="stretch")
    beyond = anc[anc["rank"] > reach]
    if len(beyond):
        st.caption(f"{len(beyond)} relevant document(s) rank below {reach}: "
                   + ", ".join(f"{h.label(int(d))} (#{int(r):,})" for d, r in zip(beyond["doc"], beyond["rank"])))

# ----- paths to the root
st.markdown("**Paths to the root** (✓ retrieved within the top |S(q)|, ✗ missed"
            + (f"; *beyond the cap*: farther than the run's distance cap of {cap}, not relevant, not counted)"
               if cap is not None else ")"))
hit_of = {int(d): bool(hit) for d, hit in zip(anc["doc"], anc["hit"])}
paths = h.paths_to_root(node, limit=10)
for path in paths:
    st.markdown(path_to_root_text(path, hit_of, h.label))
if len(paths) == 10:
    st.caption("The first 10 paths; a DAG node can have many more.")

link = f"/{page('query').url}?{urlencode({'run': run_id, 'node': h.names[node]})}"
st.caption(f"Link to this query: `{link}`")
