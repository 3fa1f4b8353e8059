"""Sweeps: a grid of sources x regimes x recipes x hyper-parameters x seeds, one run per cell.

A sweep spec is a TOML file (read with :mod:`tomllib`)::

    name = "mammal-regimes"          # tags every run of the sweep; resuming matches on it
    jobs = 2                         # optional: cells trained in parallel processes

    [fixed]                          # the same for every cell (any TrainConfig field)
    max_distance = 8
    dim = 64

    [grid]                           # the cartesian product of these lists
    source = ["wordnet:mammal.n.01"]
    regime = ["paper", "exact"]
    recipe = ["standard", "pretrain-finetune"]
    seed = [0, 1, 2]

Keys are ``source`` plus :class:`~hrviz.training.TrainConfig` fields. Each cell is a run in the
store whose params carry ``sweep = {"name": ..., "cell": KEY}``, KEY being the cell's own
settings as canonical JSON. Running a spec again skips every cell that already has a finished
run in the store (resume after a crash, a stop or a grown grid); failed, stopped and interrupted
cells are trained again.

Parallel cells: small hierarchies train on one thread each, so ``jobs`` processes use ``jobs``
cores for about ``jobs`` x the throughput; large ones already use every core, and ``jobs=1``
is the better choice there. Each process opens the store with short-lived connections, so the
app and other processes can read it while the sweep runs.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing as mp
import os
import tomllib
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from .errors import InputError
from .experiment import run_training
from .sources import load_source
from .store import Store

if TYPE_CHECKING:
    from .training import TrainConfig


def _fields() -> set[str]:
    """TrainConfig's field names (the training stack loads here, not when the Study page reads
    sweeps)."""
    from .training import TrainConfig

    return {f.name for f in fields(TrainConfig)}


@dataclass
class Cell:
    """One grid point: its hierarchy source and its configuration."""

    source: str
    config: TrainConfig
    settings: dict  # the cell's own keys and values (fixed and grid), source included

    @property
    def key(self) -> str:
        return json.dumps(self.settings, sort_keys=True)


@dataclass
class SweepSpec:
    name: str
    cells: list[Cell]
    jobs: int = 1
    where: str = "spec"


def _check_keys(table: dict, what: str, where: str) -> None:
    known = _fields()
    for key in table:
        if key != "source" and key not in known:
            raise InputError(f"unknown key {key!r} in [{what}]", where=where,
                             hint="use source or a TrainConfig field: " + ", ".join(sorted(known)))


def parse_spec(text: str, where: str = "spec") -> SweepSpec:
    """A :class:`SweepSpec` from TOML text; every mistake is an InputError naming the key."""
    from .training import TrainConfig

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"not valid TOML: {err}", where=where) from None
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InputError("the spec needs a name", where=where, hint='add a line name = "my-sweep"')
    fixed, grid = data.get("fixed", {}), data.get("grid", {})
    unknown = set(data) - {"name", "fixed", "grid", "jobs"}
    if unknown:
        raise InputError(f"unknown top-level key {sorted(unknown)[0]!r}", where=where,
                         hint="use name, jobs, [fixed] and [grid]")
    _check_keys(fixed, "fixed", where)
    _check_keys(grid, "grid", where)
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise InputError(f"grid.{key} must be a non-empty list", where=where,
                             hint=f"{key} = [{json.dumps(values)}]")
    both = set(fixed) & set(grid)
    if both:
        raise InputError(f"{sorted(both)[0]!r} is both fixed and in the grid", where=where)
    if "source" not in fixed and "source" not in grid:
        raise InputError("no source", where=where, hint='add source = "tree:H=4,W=5" to [fixed] or [grid]')
    jobs = data.get("jobs", 1)
    if not isinstance(jobs, int) or jobs < 1:
        raise InputError(f"jobs must be an integer >= 1, got {jobs!r}", where=where)
    cells = []
    keys = list(grid)
    for values in itertools.product(*(grid[k] for k in keys)):
        settings = {**fixed, **dict(zip(keys, values))}
        source = settings["source"]
        try:
            cfg = TrainConfig(**{k: v for k, v in settings.items() if k != "source"})
        except TypeError as err:
            raise InputError(f"bad cell {settings}: {err}", where=where) from None
        cells.append(Cell(source, cfg, settings))
    return SweepSpec(name.strip(), cells, jobs, where)


def load_spec(path: str | Path) -> SweepSpec:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as err:
        raise InputError(f"cannot read the sweep spec: {err.strerror}", where=str(p)) from None
    return parse_spec(text, where=str(p))


def finished_cells(store, name: str) -> dict[str, int]:
    """Cell key -> run id of the newest finished run of sweep ``name``."""
    df = store.query(
        "SELECT run_id, json_extract_string(params, '$.sweep.cell') AS cell FROM runs "
        "WHERE json_extract_string(params, '$.sweep.name') = ? AND status = 'finished' "
        "ORDER BY run_id", [name])
    return {str(c): int(r) for r, c in zip(df["run_id"], df["cell"])}


def sweep_runs(store, name: str):
    """Every run of sweep ``name`` with its cell settings as columns (a pandas DataFrame)."""
    df = store.query(
        "SELECT run_id, status, overall, \"min\", seconds, recall_by_distance, "
        "json_extract_string(params, '$.sweep.cell') AS cell FROM runs "
        "WHERE json_extract_string(params, '$.sweep.name') = ? ORDER BY run_id", [name])
    if not len(df):
        return df
    settings = pd.DataFrame([json.loads(c) for c in df["cell"]])
    return pd.concat([df.drop(columns=["cell"]).reset_index(drop=True), settings], axis=1)


def sweep_names(store) -> list[str]:
    """The names of the sweeps that have runs in the store, newest first."""
    df = store.query(
        "SELECT json_extract_string(params, '$.sweep.name') AS sweep, max(run_id) AS last FROM runs "
        "WHERE json_extract_string(params, '$.sweep.name') IS NOT NULL GROUP BY 1 ORDER BY 2 DESC")
    return [str(x) for x in df["sweep"]]


def cell_table(runs, *, max_distance: int = 15):
    """Finished runs of a sweep (:func:`sweep_runs`) with recall at distance t as column ``d{t}``."""
    df = runs[runs["status"] == "finished"].copy()
    rbd = df["recall_by_distance"].map(lambda s: {int(k): v for k, v in json.loads(s).items()} if s else {})
    for t in range(max_distance + 1):
        col = rbd.map(lambda r, t=t: r.get(t))
        if col.notna().any():
            df[f"d{t}"] = col.astype(float)
    return df.drop(columns=["recall_by_distance"])


def varying_keys(cells, ignore: tuple[str, ...] = ("seed",)) -> list[str]:
    """Setting columns of a cell table that take more than one value (the grid's axes)."""
    fixed_cols = {"run_id", "status", "overall", "min", "seconds", "sweep"}
    keys = [c for c in cells.columns
            if c not in fixed_cols and not (c.startswith("d") and c[1:].isdigit()) and c not in ignore]
    return [k for k in keys if cells[k].astype(str).nunique() > 1]


def _train_cell(db: str, name: str, cell: Cell) -> int:
    """Train one cell in this process (a worker of the pool, or the caller)."""
    from .training import apply_threads

    h = load_source(cell.source)
    resolved = cell.config.resolved(h)
    apply_threads(resolved)
    store = Store(db)
    try:
        return run_training(cell.source, resolved, store, hierarchy=h,
                            name=f"sweep {name}", tags={"sweep": {"name": name, "cell": cell.key}})
    finally:
        store.close()


def run_sweep(spec: SweepSpec, db: str, *, jobs: int | None = None, progress=None) -> dict:
    """Train every unfinished cell of ``spec`` into store ``db``.

    Returns ``{"trained": [run ids], "skipped": n, "failed": [(cell key, error)]}``. A failing
    cell is recorded (its run is marked failed in the store) and the others go on.
    ``progress(done, total)`` is called after each cell.
    """

    with Store(db) as store:
        done = finished_cells(store, spec.name)
    todo = [c for c in spec.cells if c.key not in done]
    jobs = max(1, min(jobs or spec.jobs, len(todo) or 1, os.cpu_count() or 1))
    out = {"trained": [], "skipped": len(spec.cells) - len(todo), "failed": []}
    finished = 0

    def record(cell, fut_or_call):
        nonlocal finished
        try:
            out["trained"].append(fut_or_call())
        except Exception as err:  # noqa: BLE001 - one bad cell must not end the sweep
            out["failed"].append((cell.key, str(err)))
        finished += 1
        if progress:
            progress(finished, len(todo))

    if jobs == 1:
        for cell in todo:
            record(cell, lambda cell=cell: _train_cell(db, spec.name, cell))
        return out
    with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn")) as pool:
        futures = {pool.submit(_train_cell, db, spec.name, c): c for c in todo}
        for fut in as_completed(futures):
            record(futures[fut], fut.result)
    return out
