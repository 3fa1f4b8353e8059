"""The dimension study: the smallest working d over grids of hierarchies, and its slopes.

The paper fits two slopes of the smallest working d of the
construction on perfect trees of H levels (the paper's convention: root at depth 0, leaves at
depth H-1, s = H relevant documents per leaf) and width W:

- study "H" (W fixed): the slope of log d against log H; theory 2 (d ~ H^2), measured 2.29;
- study "W" (H fixed = 4): the slope of d against ln W; theory H^2 = 16, measured 16.5.

:func:`study` searches each grid point in ``groups`` disjoint seed groups, so a slope can be
fitted per group; :func:`fit_study` reports the slope of the group means, the spread over
groups and a 95% bootstrap interval, and c of the least-squares d ~ c * H^2 * ln W.
"""

from __future__ import annotations

import math

import numpy as np

from ..hierarchy import Hierarchy
from ..sources import load_source, perfect_tree
from .search import min_dim

# The paper's empirical slopes of the smallest working d.
PAPER_SLOPE_H = 2.29  # log d against log H (W fixed); theory: 2
PAPER_SLOPE_LOGW = 16.5  # d against log W (H = 4); theory: H^2 = 16


def fit_line(x, y) -> tuple[float, float]:
    """Least-squares (slope, intercept) of y against x."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if len(x) < 2 or np.ptp(x) == 0:
        return math.nan, math.nan
    slope, intercept = np.polyfit(x, y, 1)
    return float(slope), float(intercept)


def slope_log_h(heights, dims) -> float:
    """Slope of log d against log H (theory 2, the paper measured 2.29)."""
    return fit_line(np.log(heights), np.log(dims))[0]


def slope_log_w(widths, dims) -> float:
    """Slope of d against ln W at fixed H (theory H^2, the paper measured 16.5 at H = 4)."""
    return fit_line(np.log(widths), dims)[0]


def theory_scale(heights, widths, dims) -> float:
    """c of the least-squares fit d ~ c * H^2 * ln W (the O(H^2 log W) shape, scaled)."""
    t = np.asarray(heights, dtype=float) ** 2 * np.log(np.asarray(widths, dtype=float))
    d = np.asarray(dims, dtype=float)
    return float((t * d).sum() / (t * t).sum())


def theory_curve(heights, widths, c: float) -> np.ndarray:
    """c * H^2 * ln W for each (H, W)."""
    return c * np.asarray(heights, dtype=float) ** 2 * np.log(np.asarray(widths, dtype=float))



STUDY_COLUMNS = ["study", "source", "H", "W", "nodes", "method", "group", "seed", "trials", "min_dim", "seconds"]


def study(
    *,
    heights=(3, 4, 5, 6),
    width_fixed: int = 2,
    widths=(2, 3, 4, 5),
    height_fixed: int = 4,
    dags: tuple[str, ...] = (),
    trials: int = 5,
    groups: int = 1,
    seed: int = 0,
    criteria: tuple[str, ...] = ("global",),
    on_row=None,
) -> list[dict]:
    """Smallest working d of the construction for a grid of hierarchies.

    Study "H": perfect trees with W = ``width_fixed`` and H in ``heights``; study "W": H =
    ``height_fixed`` and W in ``widths``; study "dag": the SOURCE strings in ``dags``. Each
    point is searched ``groups`` times with disjoint seeds (group g uses seed + 1000 g ..
    + trials - 1), so a slope can be fitted per group and its spread reported. One row per
    (hierarchy, criterion, group), columns :data:`STUDY_COLUMNS`; ``on_row(row)`` is called as
    each row is done.
    """
    plan: list[tuple[str, Hierarchy, int | None, int | None]] = []
    plan += [("H", perfect_tree(H, width_fixed), H, width_fixed) for H in heights]
    plan += [("W", perfect_tree(height_fixed, W), height_fixed, W) for W in widths]
    plan += [("dag", load_source(spec), None, None) for spec in dags]
    rows = []
    for kind, h, H, W in plan:
        for criterion in criteria:
            for g in range(groups):
                s = seed + 1000 * g
                res = min_dim(h, trials=trials, seed=s, criterion=criterion)
                row = {"study": kind, "source": h.source, "H": H, "W": W, "nodes": h.n,
                       "method": f"construction-{criterion}", "group": g, "seed": s, "trials": trials,
                       "min_dim": res.min_dim, "seconds": round(res.seconds, 3)}
                rows.append(row)
                if on_row is not None:
                    on_row(row)
    return rows


def fit_study(frame, *, boot: int = 1000, seed: int = 0) -> list[dict]:
    """The paper's two slopes from study rows (a pandas frame with :data:`STUDY_COLUMNS`).

    For each method: study "H" gives the slope of log d against log H, study "W" the slope of d
    against ln W. ``slope`` fits the mean over groups; ``group_mean``/``group_std``/``group_min``/
    ``group_max`` summarise one fit per seed group; ``ci_lo``/``ci_hi`` is a 95% bootstrap over
    groups (resampled with replacement, ``boot`` times, seeded). ``scale`` is c of the
    least-squares d ~ c * H^2 * ln W on the group means. Rows with min_dim <= 0 are ignored.
    """
    out = []
    frame = frame[frame["min_dim"] > 0]  # -1 marks a search that found no d
    for (kind, method), part in frame.groupby(["study", "method"], sort=True):
        if kind not in ("H", "W"):
            continue
        x = "H" if kind == "H" else "W"
        fit = slope_log_h if kind == "H" else slope_log_w
        wide = part.pivot_table(index="group", columns=x, values="min_dim", aggfunc="mean").dropna(axis=1)
        if wide.shape[1] < 2:
            continue
        xs = wide.columns.to_numpy(dtype=float)
        per_group = np.array([fit(xs, row) for row in wide.to_numpy(dtype=float)])
        mean_curve = wide.to_numpy(dtype=float).mean(axis=0)
        rng = np.random.default_rng(seed)
        picks = rng.integers(0, len(wide), size=(boot, len(wide)))
        boots = np.array([fit(xs, wide.to_numpy(dtype=float)[p].mean(axis=0)) for p in picks])
        fixed = part["W" if kind == "H" else "H"].iloc[0]
        hs = xs if kind == "H" else np.full(len(xs), fixed)
        ws = xs if kind == "W" else np.full(len(xs), fixed)
        out.append({
            "study": kind, "method": method, "fixed": int(fixed), "x": [int(v) for v in xs],
            "min_dim_mean": [float(v) for v in mean_curve],
            "slope": fit(xs, mean_curve),
            "groups": int(len(wide)),
            "group_mean": float(per_group.mean()), "group_std": float(per_group.std(ddof=1)) if len(wide) > 1 else math.nan,
            "group_min": float(per_group.min()), "group_max": float(per_group.max()),
            "ci_lo": float(np.percentile(boots, 2.5)), "ci_hi": float(np.percentile(boots, 97.5)),
            "scale": theory_scale(hs, ws, mean_curve),
            "paper": PAPER_SLOPE_H if kind == "H" else PAPER_SLOPE_LOGW,
            "theory": 2.0 if kind == "H" else float(fixed) ** 2,
        })
    return out
