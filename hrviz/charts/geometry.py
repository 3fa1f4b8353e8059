"""Altair charts of the geometry page: pure functions, data frame in, ``alt.Chart`` out.

- :func:`score_histogram_chart`: scores of relevant and irrelevant pairs (each kind as a share
  of its own pairs, since irrelevant pairs outnumber relevant ones by orders of magnitude), the
  best single threshold as a vertical rule. Input: :func:`hrviz.geometry.histogram_frame`.
- :func:`min_dim_chart`: the smallest working d against H or W (mean over seed groups, with
  their range), beside the O(H^2 log W) shape scaled to the points by least squares. Input:
  rows of :func:`hrviz.geometry.study` (``bench/results/geometry.csv`` has the same columns).
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from ..geometry import theory_curve, theory_scale

__all__ = ["score_histogram_chart", "min_dim_points", "theory_frame", "min_dim_chart", "KIND_COLORS"]

KIND_COLORS = {"relevant": "#2ca02c", "irrelevant": "#7f7f7f"}
THEORY = "c·H²·ln W (scaled)"
LEGEND = {"orient": "bottom", "direction": "vertical", "labelLimit": 300, "title": None}


def score_histogram_chart(frame: pd.DataFrame, threshold: float | None = None, *,
                          title: str = "Scores of relevant and irrelevant pairs") -> alt.LayerChart:
    """Overlaid histograms (columns lo, hi, kind, count, share) and a rule at ``threshold``."""
    data = frame[frame["count"] > 0] if len(frame) else frame
    bars = alt.Chart(data).mark_rect(opacity=0.6).encode(
        x=alt.X("lo:Q", title="score <q, x>"),
        x2="hi:Q",
        y=alt.Y("share:Q", title="share of the pairs of its kind"),
        y2=alt.datum(0),
        color=alt.Color("kind:N", title="pair", scale=alt.Scale(domain=list(KIND_COLORS),
                                                                range=list(KIND_COLORS.values()))),
        tooltip=["kind:N", alt.Tooltip("lo:Q", format=".3f"), alt.Tooltip("hi:Q", format=".3f"),
                 alt.Tooltip("count:Q", format=","), alt.Tooltip("share:Q", format=".2%")],
    )
    layers = [bars]
    if threshold is not None and np.isfinite(threshold):
        rule = pd.DataFrame({"threshold": [float(threshold)], "label": [f"threshold {threshold:+.3f}"]})
        base = alt.Chart(rule)
        layers.append(base.mark_rule(color="#d62728", strokeDash=[6, 3], size=2).encode(
            x="threshold:Q", tooltip=[alt.Tooltip("threshold:Q", format="+.4f")]))
        layers.append(base.mark_text(color="#d62728", align="left", dx=4, dy=-4, baseline="bottom").encode(
            x="threshold:Q", y=alt.value(0), text="label:N"))
    return alt.layer(*layers).properties(title=title, height=260)


def min_dim_points(frame: pd.DataFrame, study: str) -> pd.DataFrame:
    """Study rows of one study ("H" or "W") -> x, method, min_dim (mean), lo, hi, groups."""
    x = "H" if study == "H" else "W"
    part = frame[(frame["study"] == study) & (frame["min_dim"] > 0)]  # -1: no d found
    if part.empty:
        return pd.DataFrame(columns=["x", "method", "min_dim", "lo", "hi", "groups"])
    agg = part.groupby([x, "method"], as_index=False)["min_dim"].agg(["mean", "min", "max", "count"])
    agg = agg.rename(columns={x: "x", "mean": "min_dim", "min": "lo", "max": "hi", "count": "groups"})
    return agg[["x", "method", "min_dim", "lo", "hi", "groups"]].sort_values(["method", "x"]).reset_index(drop=True)


def theory_frame(points: pd.DataFrame, study: str, fixed: int, *, method: str | None = None,
                 samples: int = 50) -> pd.DataFrame:
    """The curve c * H^2 * ln W over the x range of ``points`` (one ``method``'s, by default the
    first construction method), c fitted to those points by least squares."""
    if points.empty:
        return pd.DataFrame(columns=["x", "min_dim", "method"])
    methods = sorted(points["method"].unique(), key=lambda m: (not m.startswith("construction"), m))
    use = points[points["method"] == (method or methods[0])]
    xs = use["x"].to_numpy(dtype=float)
    hs = xs if study == "H" else np.full(len(xs), fixed, dtype=float)
    ws = xs if study == "W" else np.full(len(xs), fixed, dtype=float)
    c = theory_scale(hs, ws, use["min_dim"].to_numpy(dtype=float))
    grid = np.linspace(xs.min(), xs.max(), samples)
    gh = grid if study == "H" else np.full(samples, fixed, dtype=float)
    gw = grid if study == "W" else np.full(samples, fixed, dtype=float)
    return pd.DataFrame({"x": grid, "min_dim": theory_curve(gh, gw, c), "method": f"{THEORY}, c={c:.1f}"})


def min_dim_chart(frame: pd.DataFrame, study: str, *, fixed: int | None = None, log: bool = False) -> alt.LayerChart:
    """Smallest working d against H (``study="H"``) or W (``study="W"``) with the scaled theory curve.

    ``frame`` holds study rows (columns of :data:`hrviz.geometry.STUDY_COLUMNS`); ``fixed`` is
    the other parameter (W of the H study, H of the W study; read from the rows by default).
    ``log`` puts both axes on log scales (the H study's slope is a log-log slope).
    """
    x = "H" if study == "H" else "W"
    other = "W" if study == "H" else "H"
    part = frame[frame["study"] == study]
    if fixed is None and not part.empty:
        fixed = int(part[other].iloc[0])
    points = min_dim_points(frame, study)
    curve = theory_frame(points, study, fixed or 2)
    scale = alt.Scale(type="log") if log else alt.Scale(zero=False)
    domain = [float(points["x"].min()), float(points["x"].max())] if len(points) else None
    if log or study == "W":
        xscale = alt.Scale(type="log", nice=False, domain=domain) if domain else alt.Scale(type="log")
    else:
        xscale = alt.Scale(zero=False, nice=False, domain=domain) if domain else alt.Scale(zero=False)
    x_title = (f"levels H{', log scale' if log else ''} (W = {fixed})" if study == "H"
               else f"width W, log scale (H = {fixed})")
    ticks = sorted(points["x"].unique().tolist()) if len(points) else None
    enc_x = alt.X("x:Q", title=x_title, scale=xscale, axis=alt.Axis(values=ticks, format="d"))
    legend = alt.Legend(**LEGEND)
    line = alt.Chart(points).mark_line(point=True).encode(
        x=enc_x, y=alt.Y("min_dim:Q", title="smallest working d", scale=scale),
        color=alt.Color("method:N", legend=legend),
        tooltip=["method:N", alt.Tooltip("x:Q", title=x), alt.Tooltip("min_dim:Q", format=".1f"),
                 "lo:Q", "hi:Q", "groups:Q"],
    )
    band = alt.Chart(points).mark_errorbar().encode(
        x=enc_x, y=alt.Y("lo:Q", title="smallest working d", scale=scale), y2="hi:Q",
        color=alt.Color("method:N", legend=legend))
    theory = alt.Chart(curve).mark_line(strokeDash=[5, 4]).encode(
        x=enc_x, y=alt.Y("min_dim:Q", title="smallest working d", scale=scale),
        color=alt.Color("method:N", legend=legend),
        tooltip=["method:N"])
    return alt.layer(band, line, theory).properties(
        title=f"Smallest working d against {x}", height=280)
