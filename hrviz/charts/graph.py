"""Drawings of a hierarchy: layered graph layouts, the graph charts built on them, histograms.

:func:`layered_layout` places a networkx DAG in layers by depth (nodes ordered within a layer
by the mean position of their parents, so children sit under their parent); :func:`query_tree`
and :func:`neighbourhood` return the layout as plain data frames (testable without drawing),
which :func:`graph_chart` draws. :func:`depth_histogram` and :func:`distance_histogram` show
a hierarchy's nodes by depth and relevant pairs by distance. Re-exported by :mod:`hrviz.charts`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

import altair as alt
import networkx as nx
import numpy as np
import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from ..hierarchy import Hierarchy

#: colours of node roles in graph drawings (the query/focus node stands out, ancestors are
#: what must be retrieved, everything else is context)
ROLE_COLORS = {
    "query": "#d62728",
    "ancestor": "#ff7f0e",
    "child": "#1f77b4",
    "other": "#c7c7c7",
}

# ----------------------------------------------------------------------------- graph layout


def _graph(h: "Hierarchy", nodes: Iterable[int]) -> nx.DiGraph:
    """The induced subgraph on ``nodes``, edges parent -> child, each node with its depth."""
    keep = sorted({int(i) for i in nodes})
    inside = set(keep)
    g = nx.DiGraph()
    for i in keep:
        g.add_node(i, depth=int(h.depth[i]))
    for i in keep:
        for p in h.parents(i).tolist():
            if p in inside:
                g.add_edge(int(p), i)
    return g


def layered_layout(g: nx.DiGraph, layer: str = "depth") -> dict[int, tuple[float, float]]:
    """Positions ``{node: (x, y)}`` for a layered drawing of a DAG, parents above children.

    ``y`` is the node's ``layer`` attribute (0 at the top). Within a layer the nodes are sorted
    by the mean x of their parents already placed (barycentre ordering, one top-down sweep; the
    node id breaks ties) and spread evenly over [0, 1]: a perfect tree comes out with every
    parent exactly centred over its children.
    """
    layers: dict[int, list[int]] = {}
    for v, lv in g.nodes(data=layer):
        layers.setdefault(int(lv), []).append(v)
    pos: dict[int, tuple[float, float]] = {}
    for lv in sorted(layers):
        def key(v: int) -> tuple[float, int]:
            xs = [pos[p][0] for p in g.predecessors(v) if p in pos]
            return (float(np.mean(xs)) if xs else -1.0, v)

        members = sorted(layers[lv], key=key)
        m = len(members)
        for j, v in enumerate(members):
            pos[v] = ((j + 0.5) / m, float(lv))
    return pos


def _frames(h: "Hierarchy", g: nx.DiGraph, role: dict[int, str],
            distance: dict[int, int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    pos = layered_layout(g)
    ids = list(g.nodes)
    nodes = pd.DataFrame({
        "id": ids,
        "name": [h.names[i] for i in ids],
        "label": [h.label(i) for i in ids],
        "depth": [int(h.depth[i]) for i in ids],
        "x": [pos[i][0] for i in ids],
        "y": [pos[i][1] for i in ids],
        "role": [role.get(i, "other") for i in ids],
        "distance": pd.array([distance.get(i) for i in ids], dtype="Int64"),
    })
    edges = pd.DataFrame(
        [(u, v, pos[u][0], pos[u][1], pos[v][0], pos[v][1],
          role.get(u, "other") != "other" and role.get(v, "other") != "other")
         for u, v in g.edges],
        columns=["parent", "child", "x", "y", "x2", "y2", "highlight"],
    )
    return nodes, edges


def query_tree(h: "Hierarchy", query: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every node of a (small) hierarchy, with ``query`` and its ancestors marked.

    Returns ``(nodes, edges)``: nodes has id, name, label, depth, x, y, role (``query``,
    ``ancestor`` or ``other``) and distance (hops from the query, null for non-ancestors);
    edges has parent, child, x, y, x2, y2 and highlight (both ends relevant).
    """
    anc = h.ancestors(int(query))
    role = {a: "ancestor" for a in anc}
    role[int(query)] = "query"
    return _frames(h, _graph(h, range(h.n)), role, anc)


def neighbourhood(h: "Hierarchy", node: int, max_children: int = 12,
                  max_distance: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``node``, its ancestors (up to ``max_distance`` hops) and up to ``max_children`` of its
    children, laid out in layers by depth. Same columns as :func:`query_tree`, roles
    ``query`` (the node), ``ancestor`` and ``child``.
    """
    node = int(node)
    anc = h.ancestors(node, max_distance)
    kids = h.children(node)[:max_children].tolist()
    role = {a: "ancestor" for a in anc}
    role.update({k: "child" for k in kids})
    role[node] = "query"
    return _frames(h, _graph(h, list(anc) + kids), role, anc)


def graph_chart(nodes: pd.DataFrame, edges: pd.DataFrame, *, title: str = "",
                labels: str = "relevant", height: int = 320) -> alt.LayerChart:
    """Draw a layout from :func:`query_tree` / :func:`neighbourhood`: edges as rules, nodes as
    circles coloured by role, text labels (``labels``: ``"all"``, ``"relevant"`` = every node
    whose role is not ``other``, or ``"none"``). Hover shows name, label, depth and distance."""
    x = alt.X("x:Q", axis=None, scale=alt.Scale(domain=[0, 1], nice=False, padding=20))
    y = alt.Y("y:Q", axis=None, scale=alt.Scale(reverse=True, nice=False, padding=20))
    roles = [r for r in ROLE_COLORS if r in set(nodes["role"])]
    color = alt.Color("role:N", title="role",
                      scale=alt.Scale(domain=roles, range=[ROLE_COLORS[r] for r in roles]))
    edge_layer = alt.Chart(edges).mark_rule().encode(
        x=x, y=y, x2="x2:Q", y2="y2:Q",
        color=alt.condition("datum.highlight", alt.value("#ff7f0e"), alt.value("#d0d0d0")),
        strokeWidth=alt.condition("datum.highlight", alt.value(2.5), alt.value(1)),
    )
    node_layer = alt.Chart(nodes).mark_circle(stroke="white", strokeWidth=1, opacity=1).encode(
        x=x, y=y, color=color,
        size=alt.condition("datum.role == 'other'", alt.value(60), alt.value(180)),
        tooltip=[alt.Tooltip("name:N"), alt.Tooltip("label:N"), alt.Tooltip("depth:Q"),
                 alt.Tooltip("distance:Q", title="distance from query"), alt.Tooltip("role:N")],
    )
    layers = [edge_layer, node_layer]
    if labels != "none":
        shown = nodes if labels == "all" else nodes[nodes["role"] != "other"]
        text = shown.assign(text=[
            f"{lab} (d={d})" if r == "ancestor" and pd.notna(d) else str(lab)
            for lab, r, d in zip(shown["label"], shown["role"], shown["distance"])
        ])
        layers.append(alt.Chart(text).mark_text(align="left", dx=9, fontSize=11).encode(
            x=x, y=y, text="text:N"))
    return alt.layer(*layers).properties(title=title, height=height)


def query_tree_chart(h: "Hierarchy", query: int, **kwargs) -> alt.LayerChart:
    """The task, drawn: a small hierarchy with one query and the ancestors it must retrieve."""
    nodes, edges = query_tree(h, query)
    kwargs.setdefault("title", f"query {h.label(query)!r} must retrieve itself and "
                               f"{int((nodes['role'] == 'ancestor').sum())} ancestors")
    return graph_chart(nodes, edges, **kwargs)


def neighbourhood_chart(h: "Hierarchy", node: int, max_children: int = 12,
                        max_distance: int | None = None, **kwargs) -> alt.LayerChart:
    """A node with its ancestors above and (some of) its children below."""
    nodes, edges = neighbourhood(h, node, max_children, max_distance)
    n_kids = len(h.children(node))
    shown = int((nodes["role"] == "child").sum())
    more = f", {n_kids - shown} more children not shown" if n_kids > shown else ""
    kwargs.setdefault("title", f"{h.label(node)}: {int((nodes['role'] == 'ancestor').sum())} "
                               f"ancestors, {n_kids} children{more}")
    kwargs.setdefault("labels", "all")
    return graph_chart(nodes, edges, **kwargs)


# ----------------------------------------------------------------------------- histograms


def depth_frame(h: "Hierarchy") -> pd.DataFrame:
    """Nodes per depth: columns depth, nodes."""
    counts = np.bincount(h.depth)
    return pd.DataFrame({"depth": np.arange(len(counts)), "nodes": counts})


def distance_frame(count_by_distance: dict[int, int]) -> pd.DataFrame:
    """Relevant pairs per distance (from ``Closure.count_by_distance()``): distance, pairs."""
    items = sorted(count_by_distance.items())
    return pd.DataFrame({"distance": [d for d, _ in items], "pairs": [c for _, c in items]})


def depth_histogram(df: pd.DataFrame, title: str = "nodes by depth") -> alt.Chart:
    """Bar chart of a :func:`depth_frame`."""
    return alt.Chart(df).mark_bar().encode(
        x=alt.X("depth:O", title="depth (longest path to a root)"),
        y=alt.Y("nodes:Q", title="nodes"),
        tooltip=["depth:O", alt.Tooltip("nodes:Q", format=",")],
    ).properties(title=title, height=240)


def distance_histogram(df: pd.DataFrame, title: str = "relevant pairs by distance") -> alt.Chart:
    """Bar chart of a :func:`distance_frame` (distance 0 = the query itself)."""
    return alt.Chart(df).mark_bar(color="#ff7f0e").encode(
        x=alt.X("distance:O", title="distance (shortest hops up to the ancestor)"),
        y=alt.Y("pairs:Q", title="relevant pairs"),
        tooltip=["distance:O", alt.Tooltip("pairs:Q", format=",")],
    ).properties(title=title, height=240)
