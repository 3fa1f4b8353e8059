"""Recall and training curves from the store's rows: final recall by distance, recall and loss
over steps with stage boundaries, one panel per run (with the paper's numbers as ticks).

Frames follow the store's column names (``run_id``, ``stage``, ``step``, ``distance``,
``recall``, ``name``, ``value``), so a page passes ``store.recall(...)`` straight in.
Re-exported by :mod:`hrviz.charts`.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from .models import model_prefix

STAGE_ORDER = ("train", "pretrain", "finetune", "final")
STAGE_COLORS = {"train": "#1f77b4", "pretrain": "#9ecae1", "finetune": "#2ca02c", "final": "#d62728"}

# ----------------------------------------------------------------------------- recall


def final_recall_frame(recall: pd.DataFrame, runs: pd.DataFrame | None = None) -> pd.DataFrame:
    """The last evaluation of each run and stage, from ``store.recall(run_ids)`` rows.

    Keeps, per (run_id, stage, split), the rows of the largest step; where ``runs`` (from
    ``store.runs()``) is given, adds its recipe, dim, source and a ``run`` label
    ``"#ID recipe d=DIM"`` (``"#ID Poincaré ball recipe d=DIM"`` for a Poincaré run, when ``runs`` has
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
        if "params" in runs:  # the model where it is not the default kind: "#7 Poincaré ball standard d=2"
            prefix = {int(r): model_prefix(p) for r, p in zip(runs["run_id"], runs["params"])}
            out["run"] = [f"#{r} {prefix.get(int(r), '')}{rec} d={d}"
                          for r, rec, d in zip(out["run_id"], out["recipe"], out["dim"])]
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
