"""Model kinds side by side: the Euclidean dual encoder, the Poincaré ball and text encoders.

Pure functions (no Streamlit), data frames in, ``alt.Chart`` out; every name of a model comes
from its kind (:data:`hrviz.kinds.KINDS`: :meth:`~hrviz.kinds.base.ModelKind.run_title`):

- :func:`model_title` / :func:`model_prefix`: the display name of a run's model (e.g. ``text
  zero-shot`` beside ``text tower``), and the same as a label's prefix (none for the paper's dual
  encoder, the default kind);
- :func:`with_model_kind`: ``store.runs()`` plus a ``model`` column (display names);
- :func:`latest_per_model`: the newest finished run of each kind (optionally on one source):
  the pair a page compares by default;
- :func:`model_comparison_frame` / :func:`model_comparison_chart`: final recall by distance,
  one line per run, the model in the label and as the line's dash (Home, Results);
- :func:`poincare_disk_chart`: a d = 2 Poincaré model drawn as it is, in the unit disk.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from ..kinds import DEFAULT, KINDS, run_title
from ..store import RunParams
from .query import embedding_chart

__all__ = ["MODEL_TITLES", "model_title", "model_prefix", "with_model_kind", "latest_per_model",
           "model_comparison_frame", "model_comparison_chart", "poincare_disk_chart"]

#: every display name a run's model can have, in registry order (the comparison's dash styles)
MODEL_TITLES = tuple(title for kind in KINDS.values() for title in kind.run_titles)
#: the dash of each model's lines, by its place in MODEL_TITLES (solid, dashed, dotted, dash-dot...)
DASHES = ([1, 0], [6, 3], [2, 2], [8, 3, 2, 3], [1, 3], [4, 1, 1, 1], [10, 2])


def model_title(params) -> str:
    """The display name of a run's model from its params (:class:`~hrviz.store.RunParams`, a
    dict, JSON text or None; an unknown kind as its name)."""
    return run_title(params)


def model_prefix(params) -> str:
    """:func:`model_title` and a space, or nothing for the default kind (the paper's dual encoder):
    what a run's one-line label starts with (``#13 Poincaré ball standard d=2``)."""
    return "" if RunParams.parse(params).kind == DEFAULT.name else model_title(params) + " "


def with_model_kind(runs: pd.DataFrame) -> pd.DataFrame:
    """``runs`` (with a ``params`` column, as ``store.runs()``) plus ``model``: the display name of
    each run's model. Without ``params`` every run counts as the default kind."""
    params = runs["params"] if "params" in runs else pd.Series([None] * len(runs), index=runs.index)
    return runs.assign(model=[model_title(p) for p in params])


def latest_per_model(runs: pd.DataFrame, *, source: str | None = None) -> list[int]:
    """The newest finished run of each model kind (on ``source`` when given), newest first; the
    runs a comparison shows by default. ``runs`` as ``store.runs()`` (newest first)."""
    if runs.empty:
        return []
    done = runs[runs["status"] == "finished"]
    if source is not None:
        done = done[done["source"] == source]
    done = with_model_kind(done).sort_values("run_id", ascending=False)
    return [int(r) for r in done.drop_duplicates("model")["run_id"]]


def model_comparison_frame(recall: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """The final recall by distance of runs (``store.recall(ids)`` rows, ``store.runs()``), one
    row per run and distance: run_id, distance, recall, hits, pairs, model, recipe, dim, source
    and ``run`` = ``"#ID Poincaré ball standard d=2"``. Runs without a final evaluation are left out."""
    cols = ["run_id", "distance", "recall", "hits", "pairs", "model", "recipe", "dim", "source", "run"]
    final = recall[recall["stage"] == "final"] if not recall.empty else recall
    if final.empty:
        return pd.DataFrame(columns=cols)
    last = final.groupby("run_id")["step"].transform("max")
    final = final[final["step"] == last].drop_duplicates(["run_id", "distance"], keep="last")
    info = with_model_kind(runs[runs["run_id"].isin(final["run_id"])].drop_duplicates("run_id"))
    out = final.merge(info[["run_id", "model", "recipe", "dim", "source"]], on="run_id", how="left")
    out["run"] = [f"#{r} {m} {rec} d={d}" for r, m, rec, d in zip(out["run_id"], out["model"], out["recipe"], out["dim"])]
    return out[cols].sort_values(["run_id", "distance"]).reset_index(drop=True)


def model_comparison_chart(recall: pd.DataFrame, runs: pd.DataFrame, *, title: str = "",
                           height: int = 260) -> alt.Chart:
    """Final recall (y, 0..1) against distance (x) of the given runs, one line per run (colour),
    one dash per model (:data:`DASHES` in :data:`MODEL_TITLES`' order: solid for dual encoders,
    dashed for Poincaré models, dotted for text towers, ...); the tooltip has the hits. Input as
    :func:`model_comparison_frame`; an empty frame draws an empty chart."""
    df = model_comparison_frame(recall, runs)
    kinds = list(MODEL_TITLES)
    return alt.Chart(df).mark_line(point=True, strokeWidth=2.5).encode(
        x=alt.X("distance:O", title="distance (hops from query to ancestor)"),
        y=alt.Y("recall:Q", title="final recall@auto", scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format="%")),
        color=alt.Color("run:N", title="run", sort=list(pd.unique(df["run"]))),
        strokeDash=alt.StrokeDash("model:N", title="model", scale=alt.Scale(
            domain=kinds, range=[list(DASHES[i % len(DASHES)]) for i in range(len(kinds))])),
        tooltip=["run:N", "model:N", "distance:O", alt.Tooltip("recall:Q", format=".1%"),
                 alt.Tooltip("hits:Q", format=","), alt.Tooltip("pairs:Q", format=",")],
    ).properties(title=title, height=height)


def poincare_disk_chart(points: pd.DataFrame, *, color: str = "depth", title: str = "",
                        size: int = 520) -> alt.LayerChart:
    """The Poincaré disk: the points of a d = 2 model as they are (``x``, ``y`` in the unit disk,
    columns of :func:`hrviz.map_points.map_frame`), the boundary circle |x| = 1 drawn, equal
    axes from -1 to 1. Colours, tooltip and the click selection are those of
    :func:`hrviz.charts.query.embedding_chart`."""
    axis = dict(scale=alt.Scale(domain=[-1.02, 1.02], nice=False), title=None,
                axis=alt.Axis(labels=False, ticks=False, grid=False))
    dots = embedding_chart(points, color=color).encode(x=alt.X("x:Q", **axis), y=alt.Y("y:Q", **axis))
    t = np.linspace(0.0, 2.0 * np.pi, 181)
    ring = pd.DataFrame({"x": np.cos(t), "y": np.sin(t), "order": np.arange(len(t))})
    circle = alt.Chart(ring).mark_line(color="#616161", strokeWidth=1.5).encode(
        x=alt.X("x:Q", **axis), y=alt.Y("y:Q", **axis), order="order:Q")
    return alt.layer(circle, dots).properties(title=title, width=size, height=size)
