"""Altair chart builders: pure functions, data in, ``alt.Chart`` out.

Pages call these and hand the result to ``st.altair_chart``; tests inspect ``chart.to_dict()``.
Nothing here touches Streamlit or the store: the caller fetches the data frames (from
:class:`hrviz.store.Store` or a :class:`hrviz.hierarchy.Hierarchy`) and passes them in.

Two kinds of builders:

- graph drawings (:func:`query_tree_chart`, :func:`neighbourhood_chart`): a layered drawing of
  part of a hierarchy, roots at the top. The layout is computed by :func:`layered_layout` from a
  networkx graph (layers by depth, nodes ordered within a layer by the mean position of their
  parents, so children sit under their parent) and returned as plain data frames, so it can be
  tested without drawing anything;
- recall and training curves (:func:`recall_by_distance_chart`, :func:`recall_over_steps_chart`,
  :func:`loss_chart`, :func:`runs_recall_chart`) and histograms of a hierarchy
  (:func:`depth_histogram`, :func:`distance_histogram`).

Data frames follow the store's column names (``run_id``, ``stage``, ``step``, ``distance``,
``recall``, ``name``, ``value``) so a page passes ``store.recall(...)`` straight in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

import altair as alt
import networkx as nx
import numpy as np
import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from ..hierarchy import Hierarchy

__all__ = [
    "layered_layout", "query_tree", "query_tree_chart", "neighbourhood", "neighbourhood_chart",
    "graph_chart", "depth_frame", "distance_frame", "depth_histogram", "distance_histogram",
    "final_recall_frame", "reference_frame", "recall_by_distance_chart", "with_global_step",
    "stage_boundaries", "recall_over_steps_chart", "loss_chart", "runs_recall_chart",
]

#: colours of node roles in graph drawings (the query/focus node stands out, ancestors are
#: what must be retrieved, everything else is context)
ROLE_COLORS = {
    "query": "#d62728",
    "ancestor": "#ff7f0e",
    "child": "#1f77b4",
    "other": "#c7c7c7",
}
STAGE_ORDER = ("train", "pretrain", "finetune", "final")
STAGE_COLORS = {"train": "#1f77b4", "pretrain": "#9ecae1", "finetune": "#2ca02c", "final": "#d62728"}

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


# ----------------------------------------------------------------------------- recall


def final_recall_frame(recall: pd.DataFrame, runs: pd.DataFrame | None = None) -> pd.DataFrame:
    """The last evaluation of each run and stage, from ``store.recall(run_ids)`` rows.

    Keeps, per (run_id, stage, split), the rows of the largest step; where ``runs`` (from
    ``store.runs()``) is given, adds its recipe, dim, source and a ``run`` label
    ``"#ID recipe d=DIM"`` (``"#ID Poincaré recipe d=DIM"`` for a Poincaré run, when ``runs`` has
    ``params``). Columns: run_id, stage, step, split, distance, recall, hits, pairs
    (+ recipe, dim, source, run).
    """
    if recall.empty:
        out = recall.copy()
    else:
        last = recall.groupby(["run_id", "stage", "split"])["step"].transform("max")
        out = recall[recall["step"] == last]
        out = out.drop_duplicates(["run_id", "stage", "split", "distance"], keep="last")
    out = out.reset_index(drop=True)
    if runs is not None and not out.empty:
        info = runs[["run_id", "recipe", "dim", "source"]].drop_duplicates("run_id")
        out = out.merge(info, on="run_id", how="left")
        out["run"] = [f"#{r} {rec} d={d}" for r, rec, d in zip(out["run_id"], out["recipe"], out["dim"])]
        if "params" in runs:  # the model kind where it is not the dual encoder: "#7 Poincaré standard d=2"
            from .models import model_kind, model_title

            kinds = {int(r): model_kind(p) for r, p in zip(runs["run_id"], runs["params"])}
            out["run"] = [lab if kinds.get(int(r), "dual-encoder") == "dual-encoder"
                          else lab.replace(" ", f" {model_title(kinds[int(r)])} ", 1)
                          for r, lab in zip(out["run_id"], out["run"])]
    return out


def reference_frame(reference: dict | None, **columns) -> pd.DataFrame:
    """The per-distance numbers of a :func:`hrviz.paper.reference` dict as a frame with columns
    distance, recall (plus ``columns`` as constants, e.g. ``recipe="standard"``). Empty when
    there is no reference or it has no per-distance numbers."""
    rbd = (reference or {}).get("recall_by_distance") or {}
    out = pd.DataFrame({"distance": [int(d) for d in rbd], "recall": [float(v) for v in rbd.values()]})
    for key, value in columns.items():
        out[key] = pd.Series([value] * len(out), dtype=object)
    return out.sort_values("distance").reset_index(drop=True)


def recall_by_distance_chart(df: pd.DataFrame, *, color: str = "recipe",
                             reference: pd.DataFrame | None = None, title: str = "",
                             height: int = 260) -> alt.LayerChart:
    """Recall (y, 0..1) against distance (x), one line per value of ``color``.

    ``df`` has distance, recall and the ``color`` column. ``reference`` (optional) has
    distance, recall and the same ``color`` column: the paper's published numbers, drawn as
    black tick marks.
    """
    x = alt.X("distance:O", title="distance (hops from query to ancestor)")
    y = alt.Y("recall:Q", title="recall", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%"))
    base = alt.Chart(df).encode(
        x=x, y=y, color=alt.Color(f"{color}:N", title=color),
        tooltip=[alt.Tooltip(f"{color}:N"), "distance:O", alt.Tooltip("recall:Q", format=".1%")],
    )
    layers = [base.mark_line(point=True, strokeWidth=2.5)]
    if reference is not None and not reference.empty:
        layers.append(alt.Chart(reference).mark_tick(color="black", thickness=2, size=18).encode(
            x=x, y=y, detail=f"{color}:N",
            tooltip=[alt.Tooltip(f"{color}:N"), "distance:O",
                     alt.Tooltip("recall:Q", format=".1%", title="paper")]))
    return alt.layer(*layers).properties(title=title, height=height)


def with_global_step(df: pd.DataFrame) -> pd.DataFrame:
    """Add ``global_step``: steps that keep counting across stages.

    Stages are taken in the order they first appear (the store returns rows in logging order).
    Where a later stage restarts its step count (finetune step 0 after pretrain step 500), it is
    shifted to start one after the previous stage's last step (501); a stage whose steps already
    continue is left as it is. Per run.
    """
    if df.empty:
        return df.assign(global_step=pd.Series(dtype="int64"))
    parts = []
    for _, run in df.groupby("run_id", sort=False) if "run_id" in df else [(None, df)]:
        offset, last = 0, None
        for stage in pd.unique(run["stage"]):
            part = run[run["stage"] == stage]
            first = int(part["step"].min())
            if last is not None and first + offset <= last:
                offset = last - first + 1
            part = part.assign(global_step=part["step"].astype("int64") + offset)
            last = int(part["global_step"].max())
            parts.append(part)
    return pd.concat(parts).sort_index()


def stage_boundaries(df: pd.DataFrame) -> pd.DataFrame:
    """Where each stage after the first begins: columns stage, global_step (per run when the
    frame has run_id). Input must have stage and global_step (see :func:`with_global_step`)."""
    if df.empty:
        return pd.DataFrame({"stage": pd.Series(dtype=str), "global_step": pd.Series(dtype="int64")})
    keys = ["run_id", "stage"] if "run_id" in df else ["stage"]
    first = df.groupby(keys, sort=False)["global_step"].min().reset_index()
    rows = []
    for _, grp in first.groupby("run_id", sort=False) if "run_id" in first else [(None, first)]:
        rows.append(grp.sort_values("global_step").iloc[1:])
    out = pd.concat(rows) if rows else first.iloc[0:0]
    return out.reset_index(drop=True)


def _boundary_layer(bounds: pd.DataFrame) -> alt.LayerChart:
    rule = alt.Chart(bounds).mark_rule(strokeDash=[6, 4], color="gray").encode(
        x="global_step:Q", tooltip=[alt.Tooltip("stage:N", title="stage starts")])
    text = alt.Chart(bounds).mark_text(align="left", dx=4, dy=-4, baseline="top", color="gray").encode(
        x="global_step:Q", y=alt.value(0), text="stage:N")
    return alt.layer(rule, text)


def recall_over_steps_chart(recall: pd.DataFrame, *, title: str = "recall by distance while training",
                            height: int = 300) -> alt.LayerChart:
    """One line per distance: recall over training steps (all stages but ``final``), with a
    dashed rule where a new stage starts (e.g. pretrain -> finetune). ``recall`` has stage,
    step, distance, recall (one run)."""
    df = recall[recall["stage"] != "final"] if "stage" in recall else recall
    df = with_global_step(df)
    lines = alt.Chart(df).mark_line(point=alt.OverlayMarkDef(size=20)).encode(
        x=alt.X("global_step:Q", title="step"),
        y=alt.Y("recall:Q", title="recall", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
        color=alt.Color("distance:O", title="distance", scale=alt.Scale(scheme="viridis")),
        tooltip=["stage:N", alt.Tooltip("step:Q"), "distance:O", alt.Tooltip("recall:Q", format=".1%")],
    )
    bounds = stage_boundaries(df)
    layers = [lines]
    if not bounds.empty:
        layers.append(_boundary_layer(bounds))
    return alt.layer(*layers).properties(title=title, height=height)


def loss_chart(metrics: pd.DataFrame, *, name: str = "loss", title: str = "training loss",
               height: int = 220) -> alt.LayerChart:
    """The ``name`` metric over steps, coloured by stage, with stage boundaries. ``metrics``
    has stage, step, name, value (``store.metrics(run_id)``)."""
    df = metrics[metrics["name"] == name] if "name" in metrics else metrics
    df = with_global_step(df)
    line = alt.Chart(df).mark_line().encode(
        x=alt.X("global_step:Q", title="step"),
        y=alt.Y("value:Q", title=name, scale=alt.Scale(zero=False)),
        color=alt.Color("stage:N", title="stage"),
        tooltip=["stage:N", "step:Q", alt.Tooltip("value:Q", format=".4f", title=name)],
    )
    bounds = stage_boundaries(df)
    layers = [line]
    if not bounds.empty:
        layers.append(_boundary_layer(bounds))
    return alt.layer(*layers).properties(title=title, height=height)


def runs_recall_chart(df: pd.DataFrame, *, reference: pd.DataFrame | None = None,
                      columns: int = 3, width: int = 220, height: int = 200) -> alt.FacetChart:
    """Recall by distance, one panel per run, one line per stage (the last evaluation of each;
    see :func:`final_recall_frame`). ``df`` has run, stage, distance, recall. ``reference``
    (optional) has run, distance, recall: the paper's numbers for that run's setting, drawn as
    black ticks in the run's panel."""
    data = df[["run", "stage", "distance", "recall"]].assign(kind="hrviz")
    if reference is not None and not reference.empty:
        ref = reference[["run", "distance", "recall"]].assign(stage="paper", kind="paper")
        data = pd.concat([data, ref], ignore_index=True)
    stages = [s for s in STAGE_ORDER if s in set(data["stage"])]
    stages += sorted(set(data["stage"]) - set(stages) - {"paper"})
    x = alt.X("distance:O", title="distance")
    y = alt.Y("recall:Q", title="recall", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%"))
    tooltip = ["run:N", "stage:N", "distance:O", alt.Tooltip("recall:Q", format=".1%")]
    lines = alt.Chart().mark_line(point=True).encode(
        x=x, y=y, tooltip=tooltip,
        color=alt.Color("stage:N", title="stage", scale=alt.Scale(
            domain=stages, range=[STAGE_COLORS.get(s, "#7f7f7f") for s in stages])),
    ).transform_filter("datum.kind == 'hrviz'")
    ticks = alt.Chart().mark_tick(color="black", thickness=2, size=16).encode(
        x=x, y=y, tooltip=tooltip,
    ).transform_filter("datum.kind == 'paper'")
    return alt.layer(lines, ticks, data=data).properties(width=width, height=height).facet(
        facet=alt.Facet("run:N", title=None, sort=list(pd.unique(data["run"]))), columns=columns,
    )
