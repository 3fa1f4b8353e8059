"""Hierarchy: pick a source, see its counts, depth and distance histograms, and a drawing of
the neighbourhood of one node."""

import streamlit as st

from hrviz import charts
from hrviz.errors import InputError
from hrviz.sources import parse_source
from hrviz_app.active import set_active_source
from hrviz_app.navigation import through_app
from hrviz_app.resources import DEFAULT_SOURCE, load_hierarchy
from hrviz_app.titles import source_title
from hrviz_app.uploads import DUPLICATE_CHOICES, hierarchy_upload, warnings_of


through_app(__file__)  # never the legacy pages-directory mode
st.title("Hierarchy")
st.caption("A query node must retrieve itself and all its ancestors. Pick the hierarchy the other "
           "pages use: a synthetic tree or DAG, WordNet's nouns, a WordNet subtree, or your own file.")

MODES = ["Synthetic tree", "Random DAG", "WordNet", "WordNet subtree", "Upload a file"]
current = st.session_state.get("source", DEFAULT_SOURCE)


def _defaults(source: str) -> dict:
    """Widget values that reproduce ``source`` (so the page opens showing what is active)."""
    out = {"h_mode": "Upload a file", "h_H": 4, "h_W": 5, "h_n": 500, "h_depth": 5,
           "h_parents": 2, "h_p": 0.3, "h_seed": 0, "h_wn_query": "mammal"}
    try:
        kind, args = parse_source(source)
    except InputError:
        return out
    if kind == "tree":
        out.update(h_mode="Synthetic tree", h_H=args["H"], h_W=args["W"])
    elif kind == "dag":
        out["h_mode"] = "Random DAG"
        for arg, key in [("nodes", "h_n"), ("depth", "h_depth"), ("parents", "h_parents"),
                         ("p_extra", "h_p"), ("seed", "h_seed")]:
            if arg in args:
                out[key] = args[arg]
    elif kind == "wordnet":
        out["h_wn_query"] = args.get("synset", out["h_wn_query"])
        out["h_mode"] = "WordNet subtree" if args else "WordNet"
    return out


for key, value in _defaults(current).items():
    st.session_state.setdefault(key, value)

mode = st.radio("Source", MODES, key="h_mode", horizontal=True)
spec = None
if mode == "Synthetic tree":
    c1, c2 = st.columns(2)
    H = c1.slider("Levels H (the paper's convention: root at depth 0, leaves at depth H-1)", 2, 8,
                  key="h_H")
    W = c2.slider("Width W (children per inner node)", 2, 10, key="h_W")
    n = sum(W**k for k in range(H))
    if n > 300_000:
        st.warning(f"tree:H={H},W={W} has {n:,} nodes: too many to explore here; "
                   "pick a smaller tree (or use the command line).")
    else:
        spec = f"tree:H={H},W={W}"
elif mode == "Random DAG":
    c1, c2, c3 = st.columns(3)
    nodes = c1.slider("Nodes", 20, 5000, key="h_n", step=10)
    depth = c2.slider("Depth (levels below the root)", 2, 12, key="h_depth")
    parents = c3.slider("Most parents per node", 1, 5, key="h_parents")
    c4, c5 = st.columns(2)
    p = c4.slider("Probability of each extra parent", 0.0, 1.0, key="h_p", step=0.05)
    seed = c5.number_input("Seed", 0, 2**31 - 1, key="h_seed", step=1)
    spec = f"dag:n={nodes},depth={depth},parents={parents},p={p:g},seed={int(seed)}"
elif mode == "WordNet":
    spec = "wordnet"
    st.caption("The 82,115 noun synsets of WordNet 3.0 (the paper's benchmark; pairs up to "
               "distance 8 in its tables).")
elif mode == "WordNet subtree":
    wn = load_hierarchy("wordnet")
    text = st.text_input("Search WordNet nouns", key="h_wn_query",
                         help="part of a synset name or lemma, e.g. mammal, tool, dog.n.01")
    matches = wn.search(text, limit=50)
    if not matches:
        st.info(f"No noun synset matches {text!r}.")
    else:
        def fmt(i: int) -> str:
            gloss = (wn.descriptions or [""] * wn.n)[i]
            kids = len(wn.descendants(i)) - 1 if i == matches[0] else None
            extra = f" ({kids:,} below)" if kids is not None else ""
            return f"{wn.names[i]}{extra}: {gloss[:70]}"

        pick = st.selectbox("Synset (it and everything below it)", matches, format_func=fmt,
                            key="h_wn_pick")
        spec = f"wordnet:{wn.names[pick]}"
else:  # upload
    st.caption("An edge list (.csv/.tsv/.txt with child,parent rows; a header may name label and "
               "description columns), a JSON tree or edge list, or an OBO ontology; gzip'd is fine.")
    # no type filter: a file of another type is explained below in words, not by a red chip
    up = st.file_uploader("Hierarchy file", key="h_upload")
    dups = st.radio("A name under several parents", list(DUPLICATE_CHOICES), key="h_dups",
                    format_func=DUPLICATE_CHOICES.get, horizontal=True,
                    help="One thing with several parents (an edge list's x,a and x,b; a JSON tree "
                         "that repeats a node), or different things that share a name (an 'Other' "
                         "under every category): kept apart, each is named after its parent.")
    if up is not None:
        error, path, _ = hierarchy_upload(up, dups)
        if error:
            st.error(f"Could not read **{up.name}**: {error}. "
                     f"The hierarchy in use is still `{source_title(current)}`.")
        else:
            spec = path
            st.success(f"Loaded **{up.name}** (kept as `{path}`, so runs can reload it).")

if spec is not None and spec != current:
    try:
        load_hierarchy(spec)
        set_active_source(spec)  # the active run follows: one of this hierarchy, or none
        current = spec
    except InputError as err:
        st.error(f"{err}. The hierarchy in use is still `{source_title(current)}`.")

h = load_hierarchy(current)
st.subheader(f"`{source_title(current)}`")
for warning in warnings_of(current, h):  # isolated nodes, several roots, merged or kept-apart names
    st.warning(str(warning), icon=":material/warning:")

# ----- counts
cap_default = 8 if h.max_depth > 8 else h.max_depth
md = st.session_state.get("max_distance")
if h.max_depth > 1:
    cap = st.slider("Max distance of a relevant pair", 1, h.max_depth,
                    value=min(md, h.max_depth) if md else max(1, cap_default), key=f"h_cap_{h.hash}",
                    help="Pairs (query, ancestor) further apart than this are left out, "
                         "as in the paper's WordNet tables (distance <= 8).")
else:  # one level below the root: the only distances are 0 and 1 (a slider needs two values)
    cap = max(1, h.max_depth)
    st.caption("Max distance of a relevant pair: 1 (the hierarchy is one level deep).")
st.session_state["max_distance"] = None if cap >= h.max_depth else cap
info = h.info(cap)
cols = st.columns(6)
cols[0].metric("Nodes", f"{info['nodes']:,}")
cols[1].metric("Edges", f"{info['edges']:,}")
cols[2].metric("Roots", f"{info['roots']:,}")
cols[3].metric("Leaves", f"{info['leaves']:,}")
cols[4].metric("Max depth", info["max_depth"])
cols[5].metric("Ancestor pairs", f"{info['closure_pairs']:,}",
               help=f"(query, ancestor) pairs with distance 1..{cap}; every node is also "
                    "relevant to itself (distance 0).")
if not h.is_tree:
    st.caption("A DAG: some nodes have several parents. The distance of a pair is the shortest "
               "path up; the depth of a node is its longest path to a root.")

c1, c2 = st.columns(2)
c1.altair_chart(charts.depth_histogram(charts.depth_frame(h)), width="stretch")
c2.altair_chart(charts.distance_histogram(charts.distance_frame(h.closure(cap).count_by_distance())),
                width="stretch")

# ----- neighbourhood of one node
st.subheader("Around one node")
deep = [int(i) for i in h.leaves[h.depth[h.leaves] == h.depth[h.leaves].max()][:1]]
text = st.text_input("Find a node", key=f"h_find_{h.hash}", placeholder="part of a name or label")
options = h.search(text, limit=50) if text.strip() else deep + [int(r) for r in h.roots[:5]]
if not options:
    st.info(f"No node matches {text!r}.")
else:
    node = st.selectbox("Node", options, key=f"h_node_{h.hash}",
                        format_func=lambda i: h.names[i] if h.label(i) == h.names[i]
                        else f"{h.names[i]} ({h.label(i)})")
    kids = st.slider("Children shown", 0, 40, 12, key="h_kids")
    st.altair_chart(charts.neighbourhood_chart(h, node, max_children=kids, height=380),
                    width="stretch")
    if h.descriptions and h.descriptions[node]:
        st.caption(f"**{h.label(node)}**: {h.descriptions[node]}")
    paths = h.paths_to_root(node, limit=3)
    st.caption("Path to the root: " + "  |  ".join(" → ".join(h.label(i) for i in p) for p in paths))
