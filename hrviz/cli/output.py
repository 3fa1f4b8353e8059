"""What the run commands print: one JSON object (``--json``) or a few lines of text."""

from __future__ import annotations

import resource


def result_json(run: dict, ev_summary: dict, seconds: float | None) -> dict:
    """The ``--json`` object of ``train`` and ``eval``: the run's id, recipe and dim with the figures."""
    return {
        "run_id": int(run["run_id"]),
        "recipe": run["recipe"],
        "dim": int(run["dim"]),
        "metric": ev_summary["metric"],
        "recall_by_distance": {str(k): v for k, v in ev_summary["recall_by_distance"].items()},
        "overall": ev_summary["overall"],
        "min": ev_summary["min"],
        "mean_rank": ev_summary.get("mean_rank"),
        "map": ev_summary.get("map"),
        "seconds": seconds,
        "status": run.get("status"),
    }


def print_recall(res: dict) -> None:
    """:func:`result_json`'s object as text: recall by distance, overall, min, MAP, mean rank."""
    rbd = res["recall_by_distance"]
    print(f"run {res['run_id']}  {res['recipe']}  d={res['dim']}  {res['metric']}  ({res.get('status')})")
    print("  distance " + " ".join(f"{k:>6}" for k in rbd))
    print("  recall   " + " ".join(f"{v:6.3f}" for v in rbd.values()))
    extra = ""
    if res.get("map") is not None:
        extra = f"  MAP {res['map']:.3f}  mean rank {res['mean_rank']:.2f}"
    secs = f"  {res['seconds']:.1f} s" if res.get("seconds") is not None else ""
    print(f"  overall {res['overall']:.3f}  min {res['min']:.3f}{extra}{secs}")
    for f in res.get("verdict") or []:
        print(("  ok: " if f["level"] == "ok" else "  warning: ") + f["text"])


def peak_rss_mb() -> float:
    """This process's peak resident memory in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes
