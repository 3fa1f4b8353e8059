"""Model kinds side by side: the Euclidean dual encoder, the Poincaré ball and text encoders.

Pure functions (no Streamlit), data frames in, ``alt.Chart`` out:

- :func:`model_kind` / :func:`model_title`: the kind a run recorded (:attr:`hrviz.store.RunParams.kind`,
  with ``"text-zero-shot"`` for a frozen text encoder beside ``"text"``, a trained tower) and its display name;
- :func:`with_model_kind`: ``store.runs()`` plus a ``model`` column (display names);
- :func:`latest_per_model`: the newest finished run of each kind (optionally on one source):
  the pair a page compares by default;
- :func:`model_comparison_frame` / :func:`model_comparison_chart`: final recall by distance,
  one line per run, the model kind in the label and as the line's dash (Home, Results);
- :func:`poincare_disk_chart`: a d = 2 Poincaré model drawn as it is, in the unit disk.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from ..kinds import KINDS
from ..store import DEFAULT_KIND, RunParams
from .query import embedding_chart

__all__ = ["MODEL_TITLES", "model_kind", "model_title", "with_model_kind", "latest_per_model",
           "model_comparison_frame", "model_comparison_chart", "poincare_disk_chart"]

#: model kind -> display name: every registered kind's title, and zero-shot text encoders apart
MODEL_TITLES = {**{name: kind.title for name, kind in KINDS.items()}, "text-zero-shot": "text zero-shot"}


def model_kind(params) -> str:
    """The model kind a chart shows for a run's params (:class:`~hrviz.store.RunParams`, a dict,
    or None): the stored kind (:attr:`RunParams.kind`: ``"dual-encoder"``, ``"poincare"``,
    ``"text"`` for a text tower), with ``"text-zero-shot"`` for a frozen text encoder (recipe
    ``zero-shot``)."""
    params = RunParams.parse(params)
    return "text-zero-shot" if params.kind == "text" and params.get("recipe") == "zero-shot" else params.kind


def model_title(kind: str) -> str:
    """Display name of a model kind (unknown kinds as they are)."""
    return MODEL_TITLES.get(kind, kind)


def with_model_kind(runs: pd.DataFrame) -> pd.DataFrame:
    """``runs`` (with a ``params`` column, as ``store.runs()``) plus ``model``: the display name of
    each run's kind. Without ``params`` every run counts as a dual encoder."""
    params = runs["params"] if "params" in runs else pd.Series([None] * len(runs), index=runs.index)
    return runs.assign(model=[model_title(model_kind(p)) for p in params])


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


def _label(run_id, kind: str, recipe, dim) -> str:
    return f"#{run_id} {model_title(kind)} {recipe} d={dim}"


def model_comparison_frame(recall: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """The final recall by distance of runs (``store.recall(ids)`` rows, ``store.runs()``), one
    row per run and distance: run_id, distance, recall, hits, pairs, model, recipe, dim, source
    and ``run`` = ``"#ID Poincaré standard d=2"``. Runs without a final evaluation are left out."""
    cols = ["run_id", "distance", "recall", "hits", "pairs", "model", "recipe", "dim", "source", "run"]
    final = recall[recall["stage"] == "final"] if not recall.empty else recall
    if final.empty:
        return pd.DataFrame(columns=cols)
    last = final.groupby("run_id")["step"].transform("max")
    final = final[final["step"] == last].drop_duplicates(["run_id", "distance"], keep="last")
    info = with_model_kind(runs[runs["run_id"].isin(final["run_id"])].drop_duplicates("run_id"))
    info = info.assign(kind=[model_kind(p) for p in info["params"]] if "params" in info else DEFAULT_KIND)
    out = final.merge(info[["run_id", "model", "kind", "recipe", "dim", "source"]], on="run_id", how="left")
    out["run"] = [_label(r, k, rec, d) for r, k, rec, d in zip(out["run_id"], out["kind"], out["recipe"], out["dim"])]
    return out[cols].sort_values(["run_id", "distance"]).reset_index(drop=True)


def model_comparison_chart(recall: pd.DataFrame, runs: pd.DataFrame, *, title: str = "",
                           height: int = 260) -> alt.Chart:
    """Final recall (y, 0..1) against distance (x) of the given runs, one line per run (colour),
    solid for dual encoders, dashed for Poincaré models, dotted for text towers and dash-dotted
    for zero-shot text encoders; the tooltip has the hits. Input as
    :func:`model_comparison_frame`; an empty frame draws an empty chart."""
    df = model_comparison_frame(recall, runs)
    kinds = list(MODEL_TITLES.values())
    return alt.Chart(df).mark_line(point=True, strokeWidth=2.5).encode(
        x=alt.X("distance:O", title="distance (hops from query to ancestor)"),
        y=alt.Y("recall:Q", title="final recall@auto", scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format="%")),
        color=alt.Color("run:N", title="run", sort=list(pd.unique(df["run"]))),
        strokeDash=alt.StrokeDash("model:N", title="model", scale=alt.Scale(
            domain=kinds, range=[[1, 0], [6, 3], [2, 2], [8, 3, 2, 3], [1, 3]])),
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
