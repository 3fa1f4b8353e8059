"""Phase diagrams of a sweep: one recall metric over two settings, averaged over seeds.

- :func:`phase_frame`: from a cell table (:func:`hrviz.sweep.cell_table`: one row per
  finished run, a column per setting, ``min``, ``overall`` and ``d0``..``dN``), the mean,
  standard deviation and seed count of ``metric`` for every (row setting, column setting),
  after keeping only the rows that match ``where`` (the other settings' chosen values);
- :func:`phase_chart`: that frame as an Altair heatmap with the value written in each cell and
  a point selection named :data:`SELECTION` carrying the cell's run ids (a page passes
  ``on_select="rerun"`` to open the clicked cell's runs).
"""

from __future__ import annotations

import altair as alt
import pandas as pd

__all__ = ["SELECTION", "METRICS", "phase_frame", "phase_chart"]

SELECTION = "cell"
#: metrics a phase diagram can show -> label
METRICS = {"min": "min over distances", "overall": "overall (pooled)"}


def phase_frame(cells: pd.DataFrame, rows: str, cols: str, metric: str = "min",
                where: dict | None = None) -> pd.DataFrame:
    """Mean, std and count of ``metric`` per (rows, cols) cell; columns ``row``, ``col``,
    ``mean``, ``std``, ``seeds``, ``run_ids`` (a list), ``label`` (the value in %)."""
    if rows == cols:
        raise ValueError("rows and cols must be different settings")
    for name in (rows, cols, metric):
        if name not in cells.columns:
            raise KeyError(f"no column {name!r} in the cell table")
    df = cells
    for key, value in (where or {}).items():
        df = df[df[key].astype(str) == str(value)]
    df = df[df[metric].notna()]
    if not len(df):
        return pd.DataFrame(columns=["row", "col", "mean", "std", "seeds", "run_ids", "label"])
    g = df.groupby([df[rows].astype(str), df[cols].astype(str)])
    out = pd.DataFrame({
        "mean": g[metric].mean(), "std": g[metric].std().fillna(0.0), "seeds": g.size(),
        "run_ids": g["run_id"].agg(lambda s: [int(x) for x in s]),
    }).reset_index()
    out.columns = ["row", "col", "mean", "std", "seeds", "run_ids"]
    out["label"] = (out["mean"] * 100).round(0).astype(int).astype(str)
    return out


def _order(values: pd.Series) -> list[str]:
    """Numeric settings in numeric order, others as they come."""
    uniq = list(dict.fromkeys(values))
    try:
        return sorted(uniq, key=float)
    except ValueError:
        return uniq


def phase_chart(frame: pd.DataFrame, *, rows: str, cols: str, metric: str = "min",
                title: str = "") -> alt.LayerChart:
    """A heatmap of :func:`phase_frame`'s ``mean`` (0..1 as %), clickable per cell."""
    pick = alt.selection_point(name=SELECTION, fields=["row", "col"])
    base = alt.Chart(frame).encode(
        x=alt.X("col:N", title=cols, sort=_order(frame["col"])),
        y=alt.Y("row:N", title=rows, sort=_order(frame["row"])),
    )
    tooltip = [alt.Tooltip("row:N", title=rows), alt.Tooltip("col:N", title=cols),
               alt.Tooltip("mean:Q", title=f"{metric} (mean)", format=".1%"),
               alt.Tooltip("std:Q", title="std over seeds", format=".1%"),
               alt.Tooltip("seeds:Q", title="seeds")]
    heat = base.mark_rect(stroke="white").encode(
        color=alt.Color("mean:Q", title=f"{metric} recall", scale=alt.Scale(domain=[0, 1], scheme="viridis"),
                        legend=alt.Legend(format=".0%")),
        opacity=alt.condition(pick, alt.value(1.0), alt.value(0.5)),
        tooltip=tooltip,
    ).add_params(pick)
    text = base.mark_text(fontSize=12).encode(
        text="label:N",
        color=alt.condition(alt.datum.mean < 0.6, alt.value("white"), alt.value("black")),
    )
    return (heat + text).properties(title=title or f"{METRICS.get(metric, metric)} recall", height=260)
