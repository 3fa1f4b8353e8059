"""Measured runs that are too long for a first start, shipped with the package as data: Home
shows them beside the paper's rows.

``hrviz/measurements/wordnet_paper.jsonl``: full WordNet (82,115 nouns, distance <= 8,
dimension 64) in the paper regime, one JSON object a line, as ``bench/wordnet_paper.py`` writes
them to ``bench/results/wordnet_paper.jsonl`` (copy the lines worth showing). A line needs
``recall_by_distance`` (distance -> recall in [0, 1]) and ``config`` (at least ``recipe``);
optional: ``setting`` (a short name), ``what`` (in words), ``seed``, ``overall``, ``min``,
``map``, ``train_seconds``, ``load_avg`` and ``command`` (what produced it; default
``python bench/wordnet_paper.py --only SETTING``). The file is package data (pyproject.toml), so
a pip-installed hrviz has it too.

Home tells it in three rows (:data:`HOME_ROWS`, :func:`home_rows`): standard, pretrain-finetune
and the logQ correction, the paper's numbers beside hrviz's run in the paper regime, with one
sentence of conclusion (:func:`conclusion`) and a note on what those runs were (:func:`note`);
every line of the file (a new one too, without a code change) is in the full map behind them
(:func:`table`, the same rows as ``bench/results/wordnet_paper.md``).
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


#: Home's three rows of full WordNet: (row, the paper's recipe or None, hrviz's measured setting
#: in the paper regime: in-batch negatives, nothing but duplicates masked)
HOME_ROWS = (
    ("standard", "standard", "std-1000"),
    ("pretrain-finetune", "pretrain-finetune", "pf-dup"),
    ("logQ correction, one stage", None, "std-logq"),
)
HOME_DISTANCES = (0, 1, 8)
#: hrviz's best measured setting overall (outside the paper regime: uniform negatives added)
BEST = "pf-s1024"


def by_setting(runs: list[MeasuredRun]) -> dict[str, MeasuredRun]:
    """setting -> run (the last line of a setting wins)."""
    return {r.setting: r for r in runs if r.setting}


def home_rows(runs: list[MeasuredRun], paper: dict[str, dict]) -> pd.DataFrame:
    """:data:`HOME_ROWS` as a frame: per row the paper's recall at :data:`HOME_DISTANCES` and
    overall (``paper`` maps a recipe to a :data:`hrviz.paper.WORDNET`-style dict; None where the
    paper has no such row), then hrviz's measured run's, in % rounded to 0.1 (None where the file
    has no such setting). Columns: ``row``, ``paper: distance T``..., ``paper: overall``,
    ``hrviz: distance T``..., ``hrviz: overall``, ``hrviz setting``."""
    found = by_setting(runs)

    def cells(side: str, rbd: dict | None, overall) -> dict:
        out = {f"{side}: distance {t}": None if rbd is None or t not in rbd else round(100 * float(rbd[t]), 1)
               for t in HOME_DISTANCES}
        out[f"{side}: overall"] = None if overall is None else round(100 * float(overall), 1)
        return out

    rows = []
    for row, recipe, setting in HOME_ROWS:
        ref = paper.get(recipe) if recipe else None
        run = found.get(setting)
        rows.append({"row": row,
                     **cells("paper", ref and ref["recall_by_distance"], ref and ref.get("overall")),
                     **cells("hrviz", run and run.recall_by_distance, run and run.overall),
                     "hrviz setting": setting if run else f"{setting} (not measured)"})
    return pd.DataFrame(rows)


def _pct(x: float) -> str:
    return f"{100 * float(x):.1f}%"


def conclusion(runs: list[MeasuredRun], paper_repaired: dict) -> str | None:
    """Home's one sentence on full WordNet, from the numbers of :data:`HOME_ROWS`' runs (None
    when one of them is missing): in the paper regime pretrain-finetune does not repair it, the
    logQ correction does, at a cost at distance 0."""
    found = by_setting(runs)
    std, pf, lq = (found.get(setting) for _, _, setting in HOME_ROWS)
    if std is None or pf is None or lq is None:
        return None
    far = max(pf.recall_by_distance)
    return (f"In the paper regime, pretrain-finetune does not repair full WordNet (distance {far} at "
            f"{_pct(pf.recall_by_distance[far])} after the finetune, where the paper reports "
            f"{_pct(paper_repaired['recall_by_distance'][far])}); the logQ "
            f"correction does, in one stage (distance {far} at {_pct(lq.recall_by_distance[far])}), at a "
            f"cost at distance 0 ({_pct(lq.recall_by_distance[0])}, against "
            f"{_pct(std.recall_by_distance[0])} without it).")


def note(runs: list[MeasuredRun]) -> str:
    """What hrviz's pretrain-finetune rows ran (the finetune of their config, not today's
    default) and hrviz's best setting overall (:data:`BEST`), in words."""
    found = by_setting(runs)
    pf = found.get(HOME_ROWS[1][2])
    out = []
    if pf is not None:
        c = pf.config
        out.append(f"hrviz's pretrain-finetune runs were measured before today's default finetune "
                   f"(chapter 4) with a finetune like the paper's: learning rate x "
                   f"{c.get('finetune_lr_ratio', 0.1):g}, temperature {c.get('finetune_temperature', 500):g}, "
                   "no distance-0 anchor (not today's default, which is not measured on full WordNet yet).")
    best = found.get(BEST)
    if best is not None and best.overall is not None:
        far = max(best.recall_by_distance)
        out.append(f"hrviz's best setting overall, {best.setting} ({best.what}), leaves the paper regime: "
                   f"{_pct(best.overall)} overall, distance {far} at {_pct(best.recall_by_distance[far])}, "
                   f"distance 0 at {_pct(best.recall_by_distance[0])}.")
    return " ".join(out)


def home_frame(runs: list[MeasuredRun]) -> pd.DataFrame:
    """:data:`HOME_ROWS`' measured runs in long form for a chart: distance, recall, run
    (``hrviz: ROW``); rows whose setting the file lacks are left out."""
    found = by_setting(runs)
    rows = [{"distance": d, "recall": r, "run": f"hrviz: {row}"}
            for row, _, setting in HOME_ROWS if setting in found
            for d, r in sorted(found[setting].recall_by_distance.items())]
    return pd.DataFrame(rows, columns=["distance", "recall", "run"])
