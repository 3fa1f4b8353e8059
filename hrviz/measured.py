"""Measured runs that are too long for a first start, shipped with the package as data: Home
shows them beside the paper's rows.

``hrviz/measurements/wordnet_paper.jsonl``: full WordNet (82,115 nouns, distance <= 8, d=64)
in the paper regime, one JSON object a line, as ``bench/wordnet_paper.py`` writes them to
``bench/results/wordnet_paper.jsonl`` (copy the lines worth showing). A line needs
``recall_by_distance`` (distance -> recall in [0, 1]) and ``config`` (at least ``recipe``);
optional: ``setting`` (a short name), ``what`` (in words), ``seed``, ``overall``, ``min``,
``map``, ``train_seconds``, ``load_avg`` and ``command`` (what produced it; default
``python bench/wordnet_paper.py --only SETTING``). A new line shows up on Home without a code
change. The file is package data (pyproject.toml), so a pip-installed hrviz has it too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib.resources import files

import pandas as pd

#: the shipped file (a test may point this elsewhere)
WORDNET_PAPER = files("hrviz") / "measurements" / "wordnet_paper.jsonl"


@dataclass(frozen=True)
class MeasuredRun:
    """One measured run (a line of a measurements file)."""

    setting: str
    what: str
    recipe: str
    recall_by_distance: dict[int, float]
    overall: float | None = None
    min: float | None = None
    seed: int | None = None
    logq: float = 0.0
    command: str = ""
    seconds: float | None = None
    load_avg: float | None = None
    config: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def name(self) -> str:
        """A short name for a legend or a table row: ``hrviz SETTING`` (else ``hrviz RECIPE``)."""
        return f"hrviz {self.setting}" if self.setting else f"hrviz {self.recipe}" + (" + logQ" if self.logq else "")

    @property
    def label(self) -> str:
        """How a table or legend names it: ``hrviz SETTING: WHAT`` (else the recipe and steps)."""
        recipe = self.recipe + (f" + logQ {self.logq:g}" if self.logq else "")
        steps = self.config.get("steps")
        what = self.what or recipe + (f", {steps:,} steps" if isinstance(steps, int) else "")
        return f"hrviz {self.setting}: {what}" if self.setting else f"hrviz: {what}"


def parse_line(line: str, where: str = "") -> MeasuredRun:
    """One line of a measurements file; ValueError naming ``where`` when it is not one."""
    try:
        row = json.loads(line)
        cfg = row.get("config") or {}
        rbd = {int(d): float(r) for d, r in row["recall_by_distance"].items()}
        recipe = str(cfg.get("recipe") or row["recipe"])
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"{where}: not a measured run ({type(err).__name__}: {err})") from None
    setting = str(row.get("setting") or "")
    default_cmd = f"python bench/wordnet_paper.py --only {setting}" if setting else ""
    seconds = row.get("train_seconds", row.get("seconds"))
    return MeasuredRun(
        setting=setting, what=str(row.get("what") or ""), recipe=recipe, recall_by_distance=rbd,
        overall=None if row.get("overall") is None else float(row["overall"]),
        min=float(row["min"]) if row.get("min") is not None else (min(rbd.values()) if rbd else None),
        seed=None if row.get("seed") is None else int(row["seed"]),
        logq=float(cfg.get("logq") or row.get("logq") or 0.0),
        command=str(row.get("command") or default_cmd),
        seconds=None if seconds is None else float(seconds),
        load_avg=None if row.get("load_avg") is None else float(row["load_avg"]),
        config=dict(cfg))


def read(path=None) -> list[MeasuredRun]:
    """The runs of a measurements file (default :data:`WORDNET_PAPER`), in file order; blank
    lines skipped; [] when the file is missing. ValueError (with the line number) on a bad line."""
    path = WORDNET_PAPER if path is None else path
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    name = getattr(path, "name", str(path))
    return [parse_line(line, f"{name}, line {i}") for i, line in enumerate(text.splitlines(), start=1)
            if line.strip()]


def wordnet_paper() -> list[MeasuredRun]:
    """The measured full-WordNet paper-regime runs (:data:`WORDNET_PAPER`)."""
    return read(WORDNET_PAPER)


def table(runs: list[MeasuredRun], paper: dict[str, dict] | None = None, *, percent: bool = False) -> pd.DataFrame:
    """Rows for a table: the ``paper`` rows first (name -> a :data:`hrviz.paper.WORDNET`-style
    dict), then each run (its :attr:`MeasuredRun.name`). Columns: row, d0..dN, min, overall
    (recall; in % rounded to 0.1 with ``percent``), what (in words), seconds, command."""
    rows = []
    for label, ref in (paper or {}).items():
        rows.append({"row": label, **{f"d{d}": r for d, r in sorted(ref["recall_by_distance"].items())},
                     "min": ref.get("min"), "overall": ref.get("overall"), "what": "the paper's table",
                     "seconds": None, "command": ""})
    for run in runs:
        rows.append({"row": run.name, **{f"d{d}": r for d, r in sorted(run.recall_by_distance.items())},
                     "min": run.min, "overall": run.overall, "what": run.label.split(": ", 1)[-1],
                     "seconds": run.seconds, "command": run.command})
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    ds = sorted((c for c in out.columns if c.startswith("d") and c[1:].isdigit()), key=lambda c: int(c[1:]))
    out = out[["row", *ds, "min", "overall", "what", "seconds", "command"]]
    if percent:
        cols = [*ds, "min", "overall"]
        out[cols] = (out[cols].astype(float) * 100).round(1)
    return out


def frame(runs: list[MeasuredRun]) -> pd.DataFrame:
    """Long form for a recall-by-distance chart: distance, recall, run (the run's short name)."""
    rows = [{"distance": d, "recall": r, "run": run.name}
            for run in runs for d, r in sorted(run.recall_by_distance.items())]
    return pd.DataFrame(rows, columns=["distance", "recall", "run"])
