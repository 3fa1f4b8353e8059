"""Shared pieces of the Streamlit app: the store, cached loaders, the training registry, the
sidebar, and the page list. Every page imports this (``from hrviz_app.common import ...``; the app's
folder is on ``sys.path`` while Streamlit runs a page).

Session state keys other pages read:

- ``source``: the active hierarchy's SOURCE string (default ``tree:H=4,W=5``);
- ``run_id``: the active run (int) or None;
- ``max_distance``: the distance cap chosen on the Hierarchy page (None = no cap).

Heavy modules (torch through hrviz.train/experiment/model) are imported inside the functions
that need them, so importing this module stays cheap.
"""

from __future__ import annotations

import gzip
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import streamlit as st

from hrviz.errors import InputError
from hrviz.hierarchy import Hierarchy

DEFAULT_SOURCE = "tree:H=4,W=5"
DEFAULT_DB = "results/hrviz.duckdb"
DEMO_SOURCE = "tree:H=4,W=5"
DEMO_DIM = 3
APP_DIR = Path(__file__).resolve().parents[1]
PAGES_DIR = APP_DIR / "pages"

#: how each known page file is shown: stem -> (title, icon, url path)
PAGE_INFO = {
    "home": ("Home", ":material/home:", "home"),
    "hierarchy": ("Hierarchy", ":material/account_tree:", "hierarchy"),
    "train": ("Train", ":material/model_training:", "train"),
    "results": ("Results", ":material/table_chart:", "results"),
    "query": ("Query inspector", ":material/search:", "query"),
    "embeddings": ("Embeddings", ":material/scatter_plot:", "embeddings"),
    "geometry": ("Geometry", ":material/change_history:", "geometry"),
}
_PAGE_FILE = re.compile(r"^(\d+)_([A-Za-z0-9_]+)\.py$")


def _leave_pages_directory_mode() -> None:
    """Make sure app.py's navigation runs, even when a page was the first thing opened.

    Streamlit sees the ``pages/`` folder and, until some run calls ``st.navigation``, treats
    the app as an old-style multipage app: a deep link such as ``/train`` as the first request
    of the server runs ``pages/2_train.py`` alone, without app.py (no sidebar, no session
    defaults, a navigation that lists ``common``). Every page imports this module, so the
    first such run lands here: switch the old mode off and rerun, which goes through app.py.
    """
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    if PagesManager.uses_pages_directory and get_script_run_ctx() is not None:
        PagesManager.uses_pages_directory = False
        st.rerun()


_leave_pages_directory_mode()


# ----------------------------------------------------------------------------- pages


def page_files(pages_dir: Path = PAGES_DIR) -> list[tuple[int, str, Path]]:
    """``(number, stem, path)`` of every ``N_name.py`` in ``pages_dir``, in numeric order."""
    out = []
    for path in pages_dir.glob("*.py"):
        m = _PAGE_FILE.match(path.name)
        if m:
            out.append((int(m.group(1)), m.group(2), path))
    return sorted(out)


def page_info(stem: str) -> tuple[str, str, str]:
    """(title, icon, url path) of a page file stem; unknown pages get a title from the name."""
    if stem in PAGE_INFO:
        return PAGE_INFO[stem]
    return stem.replace("_", " ").capitalize(), ":material/article:", stem.replace("_", "-")


# ----------------------------------------------------------------------------- store


def db_path() -> Path:
    """The results store: ``$HRVIZ_DB`` or ``results/hrviz.duckdb``."""
    return Path(os.environ.get("HRVIZ_DB") or DEFAULT_DB)


def uploads_dir() -> Path:
    """Where uploaded hierarchy files are kept: ``uploads/`` next to the store."""
    return db_path().parent / "uploads"


def models_dir() -> Path:
    """Where uploaded model files are kept: ``models/`` next to the store."""
    return db_path().parent / "models"


@st.cache_resource(show_spinner=False)
def _store(path: str):
    from hrviz.store import Store

    store = Store(path)
    store.fail_stale_runs()  # runs left "running" by a process that died
    return store


def get_store():
    """The process-wide Store for :func:`db_path` (one connection, a cursor per thread)."""
    return _store(str(db_path().resolve()))


@dataclass
class Demo:
    """What :func:`ensure_demo_runs` did at start-up."""

    trained: bool  # the store had no demo runs and they were trained now
    run_ids: list[int] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None


@st.cache_resource(show_spinner=False)
def _demo(path: str) -> Demo:
    from hrviz.experiment import ensure_demo

    store = _store(path)
    before = set(store.runs()["run_id"])
    t0 = time.perf_counter()
    try:
        ids = [int(r) for r in ensure_demo(store)]
    except Exception as err:  # shown on Home; the rest of the app must still start
        return Demo(False, [], time.perf_counter() - t0, f"{type(err).__name__}: {err}")
    return Demo(bool(set(ids) - before), ids, time.perf_counter() - t0)


def ensure_demo_runs() -> Demo:
    """Train the small synthetic experiment when the store has no demo runs (a first start);
    once per process and store."""
    return _demo(str(db_path().resolve()))


# ----------------------------------------------------------------------------- hierarchies


@st.cache_resource(show_spinner="Loading the hierarchy...", max_entries=8)
def load_hierarchy(source: str) -> Hierarchy:
    """The Hierarchy for a SOURCE string, cached (closures are cached inside it)."""
    from hrviz.sources import load_source

    return load_source(source)


def source_title(source: str) -> str:
    """A short display name: an upload's original file name (when this session uploaded it),
    else the file name of a path, else the SOURCE string itself."""
    names = st.session_state.get("upload_names") or {}
    if source in names:
        return names[source]
    p = Path(source)
    if p.suffix or os.sep in source:
        return p.name
    return source


_UPLOAD_EXT = re.compile(r"^[a-z0-9]{1,8}$")


def upload_ext(filename: str) -> str:
    """``taxonomy.CSV`` -> ``csv``; ``x.tsv.gz`` -> ``tsv.gz``; unusable -> ``txt``."""
    suffixes = [s.lstrip(".").lower() for s in Path(filename).suffixes]
    if suffixes and suffixes[-1] == "gz" and len(suffixes) > 1 and _UPLOAD_EXT.match(suffixes[-2]):
        return f"{suffixes[-2]}.gz"
    if suffixes and _UPLOAD_EXT.match(suffixes[-1]):
        return suffixes[-1]
    return "txt"


def save_upload(data: bytes, filename: str, folder: Path | None = None) -> tuple[Hierarchy, Path]:
    """Parse an uploaded file and keep it as ``folder/<hierarchy hash>.<ext>``.

    The saved path is a SOURCE string that later pages, runs and the CLI can reload. Raises
    :class:`InputError` (with what was wrong and where) for a file that is not a hierarchy;
    nothing is written then.
    """
    from hrviz.sources import parse_upload

    h = parse_upload(data, filename)
    folder = Path(folder) if folder is not None else uploads_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{h.hash}.{upload_ext(filename)}"
    if path.suffix == ".gz" and data[:2] != b"\x1f\x8b":  # named .gz but sent plain
        data = gzip.compress(data, mtime=0)
    if not path.exists() or path.read_bytes() != data:
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(data)
        tmp.replace(path)
    return h, path


# ----------------------------------------------------------------------------- training


@dataclass
class Training:
    """A run training in a background thread of this process."""

    run_id: int
    thread: threading.Thread
    stop: threading.Event
    source: str
    started: float = field(default_factory=time.time)

    @property
    def alive(self) -> bool:
        return self.thread.is_alive()


@st.cache_resource(show_spinner=False)
def _registry(path: str) -> dict[int, Training]:
    return {}


def training_registry() -> dict[int, Training]:
    """Runs started by this process (any session/tab), by run id: threads and stop events."""
    return _registry(str(db_path().resolve()))


def active_trainings() -> dict[int, Training]:
    return {rid: t for rid, t in training_registry().items() if t.alive}


_START_LOCK = threading.Lock()


def start_training(source: str, cfg, hierarchy: Hierarchy) -> int:
    """Launch a run in a background thread, register it and make it the session's run."""
    from hrviz.experiment import launch

    with _START_LOCK:  # two tabs pressing Start at once: only one run trains at a time
        if active_trainings():
            raise InputError("a run is already training in this app",
                             hint="stop it on the Train page, or wait for it to finish")
        stop = threading.Event()
        run_id, thread = launch(source, cfg, get_store(), hierarchy=hierarchy, stop=stop)
        training_registry()[int(run_id)] = Training(int(run_id), thread, stop, source)
    st.session_state["run_id"] = int(run_id)
    return int(run_id)


def stop_training(run_id: int) -> bool:
    """Ask a run of this process to stop; False when it is not running here."""
    t = training_registry().get(int(run_id))
    if t is None or not t.alive:
        return False
    t.stop.set()
    return True


# ----------------------------------------------------------------------------- session


def init_session() -> None:
    """Session defaults: the demo hierarchy, and the newest finished run as the active run."""
    st.session_state.setdefault("source", DEFAULT_SOURCE)
    st.session_state.setdefault("max_distance", None)
    if "run_id" not in st.session_state:
        runs = get_store().runs(status="finished")
        st.session_state["run_id"] = int(runs["run_id"].iloc[0]) if len(runs) else None


def run_label(row) -> str:
    """``#12 pretrain-finetune d=3 · tree:H=4,W=5 · finished``: one line per run in selects."""
    return (f"#{row['run_id']} {row['recipe']} d={row['dim']} · {source_title(row['source'])}"
            f" · {row['status']}")


def run_row(run_id: int | None) -> dict | None:
    if run_id is None:
        return None
    try:
        return get_store().run(int(run_id))
    except InputError:
        return None


def sidebar() -> None:
    """The active hierarchy and run, under the navigation."""
    with st.sidebar:
        src = st.session_state.get("source", DEFAULT_SOURCE)
        st.markdown("**Active hierarchy**")
        try:
            h = load_hierarchy(src)
            st.caption(f"`{source_title(src)}` · {h.n:,} nodes · {h.n_edges:,} edges · "
                       f"depth {h.max_depth}")
        except InputError as err:
            st.caption(f"`{source_title(src)}`: {err}")
        st.markdown("**Active run**")
        row = run_row(st.session_state.get("run_id"))
        if row is None:
            st.caption("none: train one, or pick one on Results")
        else:
            overall = "" if row.get("overall") is None else f" · overall {row['overall']:.1%}"
            st.caption(f"#{row['run_id']} {row['recipe']} d={row['dim']} on "
                       f"`{source_title(row['source'])}` · {row['status']}{overall}")
        live = active_trainings()
        if live:
            st.caption(f"training now: " + ", ".join(f"#{r}" for r in sorted(live)))
        st.caption(f"store: `{db_path()}`")


# ----------------------------------------------------------------------------- demo and models


def demo_runs(store, prefer: list[int] | None = None) -> dict[str, dict]:
    """recipe -> run (dict) for Home: the newest finished standard and pretrain-finetune runs of
    the demo setting (``DEMO_SOURCE``, d = ``DEMO_DIM``, named ``demo`` where there are such
    runs); runs in ``prefer`` come first."""
    runs = store.runs(source=DEMO_SOURCE, status="finished")
    runs = runs[runs["dim"] == DEMO_DIM]
    if (runs["name"] == "demo").any():  # the demo's own settings, not a user's d=3 run
        runs = runs[runs["name"] == "demo"]
    if prefer:
        first = runs["run_id"].isin([int(r) for r in prefer])
        runs = pd.concat([runs[first], runs[~first]])
    out = {}
    for recipe in ("standard", "pretrain-finetune"):
        rows = runs[runs["recipe"] == recipe]
        if len(rows):
            out[recipe] = rows.iloc[0].to_dict()
    return out


def rerun_demo(store, seed: int) -> list[int]:
    """Train the demo experiment again (both recipes, ``seed``) in this thread; the run ids."""
    from hrviz.experiment import ensure_demo

    return [int(r) for r in ensure_demo(store, force=True, seed=int(seed))]


def import_model(data: bytes, filename: str, h: Hierarchy, source: str) -> int:
    """Register an uploaded model file as a finished run on hierarchy ``h`` and evaluate it.

    The file is kept under ``models/`` next to the store. A file that is not an hrviz model, or
    one trained on another hierarchy (its hierarchy hash differs from ``h.hash``), raises
    :class:`InputError` saying so, and nothing is kept.
    """
    import hashlib

    from hrviz.experiment import evaluate_run
    from hrviz.model import DualEncoder

    folder = models_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"uploaded-{hashlib.sha256(data).hexdigest()[:16]}.safetensors"
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    try:
        model = DualEncoder.load(tmp)
        model.check_hierarchy(h.hash, where=filename)
        if model.n != h.n:
            raise InputError(f"the model has {model.n:,} nodes, the hierarchy {h.n:,}", where=filename)
    except InputError as err:
        tmp.unlink(missing_ok=True)
        if err.where == str(tmp):  # name the file as the user knows it
            err = InputError(err.message, where=filename, hint=err.hint)
        raise err from None
    tmp.replace(path)
    params = dict(model.meta.get("params") or {})
    store = get_store()
    run_id = store.create_run(
        source=source, hierarchy_hash=h.hash, recipe=str(params.get("recipe", "uploaded")),
        dim=int(model.dim), seed=int(params.get("seed", 0) or 0),
        params={**params, "uploaded_from": filename}, name=f"uploaded {filename}")
    try:
        store.set_model_path(run_id, str(path))
        ev, _ = evaluate_run(store, run_id, hierarchy=h)
        store.log_recall(run_id, "final", 0, "all", "auto", ev.hits, ev.pairs)
        store.finish_run(run_id, status="finished", summary={
            "metric": "recall@auto", "overall": ev.overall, "min": ev.min, "mean_rank": ev.mean_rank,
            "map": ev.map, "recall_by_distance": ev.recall_by_distance})
    except Exception as err:
        store.finish_run(run_id, status="failed", error=f"evaluation failed: {err}")
        raise
    return run_id


def export_run(run_id: int, fmt: str) -> bytes:
    """One run's tables (runs, metrics, recall, retrievals) as a zip of ``fmt`` files."""
    import io
    import tempfile
    import zipfile

    buf = io.BytesIO()
    with tempfile.TemporaryDirectory() as folder:
        paths = get_store().export(int(run_id), folder, fmt)
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in paths:
                zf.write(path, arcname=path.name)
    return buf.getvalue()


def projector_export(run_id: int) -> bytes:
    """The run's embeddings as TensorBoard projector files (vectors.tsv, metadata.tsv), zipped."""
    import io
    import tempfile
    import zipfile

    from hrviz.experiment import export_projector

    row = get_store().run(int(run_id))
    buf = io.BytesIO()
    with tempfile.TemporaryDirectory() as folder:
        paths = export_projector(get_store(), int(run_id), folder, hierarchy=load_hierarchy(row["source"]))
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in paths:
                zf.write(path, arcname=path.name)
    return buf.getvalue()


# ----------------------------------------------------------------------------- inspecting a run
# (used by the Query inspector and Embeddings pages)


def inspectable_runs() -> pd.DataFrame:
    """Runs that saved a model (finished or stopped), newest first: what those pages can show."""
    runs = get_store().runs()
    return runs[runs["model_path"].notna() & runs["status"].isin(["finished", "stopped"])]


def default_inspect_run(runs: pd.DataFrame, wanted=None) -> int | None:
    """``wanted`` (e.g. the URL's ``run``) when it is in ``runs``, else the active run, else the
    newest finished run on the active hierarchy, else the newest run; None when there are none."""
    ids = [int(r) for r in runs["run_id"]]
    for candidate in (wanted, st.session_state.get("run_id")):
        try:
            if candidate is not None and int(candidate) in ids:
                return int(candidate)
        except (TypeError, ValueError):
            pass
    here = runs[(runs["source"] == st.session_state.get("source", DEFAULT_SOURCE))
                & (runs["status"] == "finished")]
    return int(here["run_id"].iloc[0]) if len(here) else (ids[0] if ids else None)


@st.cache_resource(show_spinner="Loading the model...", max_entries=4)
def _run_vectors(db: str, run_id: int, model_path: str):
    from hrviz.experiment import load_run_model

    model, run = load_run_model(_store(db), run_id)
    h = load_hierarchy(run["source"])
    model.check_hierarchy(h.hash, where=f"run {run_id}")
    return h, model.query_vectors(), model.doc_vectors(), run


def run_vectors(run_id: int):
    """``(hierarchy, query vectors, doc vectors, run row)`` of a stored run, cached. Raises
    :class:`InputError` when the model file is missing or was trained on another hierarchy."""
    row = get_store().run(int(run_id))
    return _run_vectors(str(db_path().resolve()), int(run_id), str(row.get("model_path")))
