"""Altair charts of the Query inspector and Embeddings pages: pure functions, data frame in,
``alt.Chart`` out (tests read ``chart.to_dict()``).

- :func:`score_by_rank_chart`: the scores of the top-ranked documents of one query, relevant
  ones (the query itself and its ancestors) highlighted, a rule at k = |S(q)| (recall@auto).
  Input: the ``top`` frame of :func:`hrviz.evaluate.query_report` plus a ``label`` column.
- :func:`path_to_root_text`: one path to the root as a line of text, each ancestor marked
  retrieved, missed, or beyond the run's distance cap (not relevant, so neither).
- :func:`embedding_chart`: a 2-d map (PCA or UMAP) coloured by depth, subtree or recall, the
  node in the tooltip, and a point selection named :data:`SELECTION` (a page passes
  ``on_select="rerun"`` to learn which node was clicked). Input: :func:`hrviz.map_points.map_frame`.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

__all__ = ["RELEVANCE_COLORS", "SELECTION", "COLOR_BY", "score_by_rank_chart", "path_to_root_text",
           "embedding_chart", "BEYOND_CAP"]

RELEVANCE_COLORS = {"relevant": "#ff7f0e", "other": "#9e9e9e"}
#: name of the point selection of :func:`embedding_chart`
SELECTION = "pick"
#: what a map can be coloured by -> (column, legend title)
COLOR_BY = {
    "depth": ("depth", "depth"),
    "subtree": ("subtree", "subtree"),
    "recall@auto": ("recall", "recall@auto of the query"),
}


def score_by_rank_chart(top: pd.DataFrame, *, k_auto: int | None = None, k: int | None = None,
                        title: str = "score by rank") -> alt.LayerChart:
    """Dots of score against rank (columns rank, score, relevant, distance, label), relevant
    documents orange; a dashed rule at ``k_auto`` (= |S(q)|: recall@auto needs every relevant
    document at or above it) and a dotted one at the chosen ``k``."""
    data = top.assign(kind=top["relevant"].map({True: "relevant", False: "other"}))
    if "label" not in data:
        data = data.assign(label=data["doc"].astype(str))
    base = alt.Chart(data)
    line = base.mark_line(color="#bdbdbd", strokeWidth=1).encode(x="rank:Q", y="score:Q")
    dots = base.mark_circle(size=60, opacity=0.9).encode(
        x=alt.X("rank:Q", title="rank", scale=alt.Scale(domainMin=1)),
        y=alt.Y("score:Q", title="score <q, d>", scale=alt.Scale(zero=False)),
        color=alt.Color("kind:N", title="document", scale=alt.Scale(
            domain=list(RELEVANCE_COLORS), range=list(RELEVANCE_COLORS.values()))),
        tooltip=["rank:Q", "label:N", alt.Tooltip("score:Q", format=".4f"), "kind:N",
                 alt.Tooltip("distance:Q", title="distance")],
    )
    layers = [line, dots]
    rules = []
    if k_auto:
        rules.append({"rank": k_auto + 0.5, "what": f"|S(q)| = {k_auto}", "dash": "auto"})
    if k and k != k_auto:
        rules.append({"rank": k + 0.5, "what": f"k = {k}", "dash": "k"})
    if rules:
        layers.append(alt.Chart(pd.DataFrame(rules)).mark_rule(color="black").encode(
            x="rank:Q",
            strokeDash=alt.StrokeDash("dash:N", legend=None, scale=alt.Scale(
                domain=["auto", "k"], range=[[6, 3], [2, 2]])),
            tooltip=["what:N"]))
    return alt.layer(*layers).properties(title=title, height=260)


#: how a path names the ancestors past the run's distance cap
BEYOND_CAP = "beyond the cap:"


def path_to_root_text(path, hit_of: dict, label) -> str:
    """A path (node first, root last) as ``✓ a → ✗ b → beyond the cap: c → d``.

    ``hit_of`` maps each *relevant* document of the query (itself and its ancestors within the
    run's distance cap) to whether it was retrieved within the top |S(q)|. An ancestor not in it
    lies beyond the cap: it is not relevant, so it is neither a hit nor a miss, and marking it ✗
    would count a miss the evaluation never counted. Consecutive such ancestors are grouped
    after one ``beyond the cap:``. ``label`` maps a node id to its text."""
    parts, beyond = [], False
    for i in path:
        i = int(i)
        if i in hit_of:
            parts.append(f"{'✓' if hit_of[i] else '✗'} {label(i)}")
            beyond = False
        else:
            parts.append(f"{'' if beyond else f'*{BEYOND_CAP}* '}{label(i)}")
            beyond = True
    return " → ".join(parts)


def embedding_chart(points: pd.DataFrame, *, color: str = "depth", title: str = "",
                    height: int = 520) -> alt.Chart:
    """Scatter of x, y (columns of :func:`hrviz.map_points.map_frame`).

    ``color`` is a key of :data:`COLOR_BY`: depth (sequential), subtree (categories) or
    recall@auto (red to green, 0..1). With both sides on the map, queries are circles and
    documents squares. Hovering shows the node; clicking selects it (selection ``pick``, field
    ``name``), shift-click adds more.
    """
    if color not in COLOR_BY:
        raise ValueError(f"unknown colour {color!r}: use one of {', '.join(COLOR_BY)}")
    column, legend = COLOR_BY[color]
    if color == "depth":
        enc = alt.Color(f"{column}:Q", title=legend, scale=alt.Scale(scheme="viridis"))
    elif color == "subtree":
        order = points.groupby(column).size().sort_values(ascending=False).index.tolist()
        if "other" in order:  # the rest goes last
            order = [o for o in order if o != "other"] + ["other"]
        enc = alt.Color(f"{column}:N", title=legend, sort=order,
                        scale=alt.Scale(scheme="tableau10"))
    else:
        enc = alt.Color(f"{column}:Q", title=legend,
                        scale=alt.Scale(scheme="redyellowgreen", domain=[0, 1]))
    pick = alt.selection_point(name=SELECTION, fields=["name"], on="click", clear="dblclick")
    tooltip = [alt.Tooltip("label:N", title="node"), alt.Tooltip("name:N", title="name"),
               "side:N", "depth:Q", "subtree:N"]
    if points["recall"].notna().any():
        tooltip.append(alt.Tooltip("recall:Q", title="recall@auto", format=".0%"))
    shapes = sorted(points["side"].unique())
    chart = alt.Chart(points).mark_point(filled=True, size=28).encode(
        x=alt.X("x:Q", title=None, axis=alt.Axis(labels=False, ticks=False)),
        y=alt.Y("y:Q", title=None, axis=alt.Axis(labels=False, ticks=False)),
        color=enc,
        shape=alt.Shape("side:N", title="vector", scale=alt.Scale(
            domain=["query", "doc"], range=["circle", "square"]),
            legend=alt.Legend() if len(shapes) > 1 else None),
        opacity=alt.condition(pick, alt.value(0.85), alt.value(0.15)),
        size=alt.condition(pick, alt.value(40), alt.value(20)),
        tooltip=tooltip,
    ).add_params(pick)
    return chart.properties(title=title, height=height)
