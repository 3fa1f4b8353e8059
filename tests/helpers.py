"""Every plain helper the tests share (and bench/first_load.py uses): the repository's paths, small
training configs and a seeded store, AppTests of one page, a real ``streamlit run app.py`` server,
the browser steps, the command line in a subprocess.

Fixtures stay in conftest.py (pytest finds them there); everything here is a plain function or
constant, imported by name from the package ``tests`` (``from tests.helpers import seed_demo``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the repository root: every path below starts here
FIXTURES = ROOT / "tests" / "fixtures"
APP = str(ROOT / "app.py")  # for AppTest.from_file; switch_page paths ("pages/2_train.py") are relative to it


def page_path(name: str) -> str:
    """The file of one page, ``pages/NAME``, for AppTest.from_file (``standalone``)."""
    return str(ROOT / "pages" / name)


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float) -> None:
    """Poll ``url`` until it answers 200; raise if ``proc`` exits or ``timeout`` s pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)
    raise TimeoutError(f"{url} not healthy after {timeout:.0f} s")


@contextmanager
def start_streamlit(db: Path, log_path: Path, timeout: float = 60):
    """A new ``streamlit run app.py`` process on the store ``db``, started as ``make run`` does
    (cwd = the repository root, so ``.streamlit/config.toml`` applies); yields its base URL once
    ``/_stcore/health`` answers, and stops it on exit."""
    port = free_port()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
             "--server.headless", "true", "--server.address", "127.0.0.1", "--server.port", str(port),
             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
            cwd=ROOT, env={**os.environ, "HRVIZ_DB": str(db)}, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_healthy(f"http://127.0.0.1:{port}/_stcore/health", proc, timeout)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def open_page(page, server, url_path: str = "") -> None:
    """Open ``url_path`` of the ``streamlit_server`` fixture's server and wait until it has run."""
    page.goto(f"{server['url']}/{url_path}")
    page.wait_for_selector(IDLE, timeout=60_000)
    page.wait_for_selector("h1", timeout=30_000)


def settle(page, ms: int = 400) -> None:
    """Wait for the rerun an interaction started to finish."""
    page.wait_for_timeout(ms)
    page.wait_for_selector(IDLE, timeout=60_000)


def no_exception(page, where: str) -> None:
    errors = page.locator('[data-testid="stException"]')
    assert errors.count() == 0, f"{where}: {errors.first.inner_text()[:2000]}"


# Add with page.add_init_script before the first goto: from the first DOM node on, remembers
# whether Streamlit's own sidebar navigation (stSidebarNav: the pages-directory mode draws it)
# ever appeared, and the label of every navigation entry ever rendered (sidebar or top
# navigation, page links), in order of appearance. Read it with seen_navigation(page).
NAV_WATCH = r"""
window.__hrvizNav = {sidebarNav: false, entries: []};
const seen = new Set();
const label = (el) => {  // the link's text without its icon (material icons render as words)
  const c = el.cloneNode(true);
  c.querySelectorAll('[data-testid="stIconMaterial"], [data-testid="stIconEmoji"]').forEach(i => i.remove());
  return (c.textContent || '').replace(/\s+/g, ' ').trim();
};
const note = () => {
  const w = window.__hrvizNav;
  if (document.querySelector('[data-testid="stSidebarNav"]')) w.sidebarNav = true;
  for (const el of document.querySelectorAll('[data-testid="stSidebarNavLink"], ' +
      '[data-testid="stTopNavLink"], [data-testid="stPageLink-NavLink"]')) {
    const t = label(el);
    if (t && !seen.has(t)) { seen.add(t); w.entries.push(t); }
  }
};
new MutationObserver(note).observe(document, {subtree: true, childList: true, characterData: true});
"""


def seen_navigation(page) -> dict:
    """What NAV_WATCH saw on ``page``: {"sidebarNav": bool, "entries": [label, ...]}."""
    return page.evaluate("window.__hrvizNav")


# ----- the command line in a subprocess ----------------------------------------------------------
def hrviz_cli(*args: str, **kw) -> subprocess.CompletedProcess:
    """``python -m hrviz ARGS`` from the repository root, run to its end."""
    return subprocess.run([sys.executable, "-m", "hrviz", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, **kw)


def start_cli_training(db: Path, steps: int) -> subprocess.Popen:
    """A terminal's training on ``db`` (tree:H=4,W=4, d=8, ``steps`` steps), started, not awaited."""
    return subprocess.Popen([sys.executable, "-m", "hrviz", "train", "tree:H=4,W=4", "--dim", "8",
                             "--steps", str(steps), "--db", str(db)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


# ----- small runs and a seeded store ------------------------------------------------------------
def tiny_demo_config(recipe: str, seed: int = 0):
    """The demo experiment (tree H=4, W=5, d=3) with few steps: the same code path in seconds."""
    from hrviz.training import TrainConfig

    return TrainConfig(dim=3, recipe=recipe, seed=seed, steps=200, finetune_steps=100, eval_every=25)


_FULL_STORY_CONFIG: dict = {}  # hrviz.story.config as first seen, before any monkeypatch


def full_story_config():
    """``hrviz.story.config`` as this process first saw it: call it before patching
    ``story.config`` (the ``tiny_demo`` fixture does), and ``tiny_story_config`` keeps using the
    real one while ``story.config`` is itself."""
    from hrviz import story

    return _FULL_STORY_CONFIG.setdefault("config", story.config)


def tiny_story_config(chapter, seed: int = 0):
    """A story chapter's run (hrviz.story.config) with few steps: the same code path, the same
    setting (WordNet mammals, d=64, distance <= 8), in a second or two."""
    from dataclasses import replace

    full = full_story_config()
    return replace(full(chapter, seed), steps=30, finetune_steps=30, batch_size=64, eval_every=15)


def tiny_poincare_config(seed: int = 0):
    """Home's Poincaré comparison (hrviz.story.poincare_config) with 3 epochs."""
    from dataclasses import replace

    from hrviz.models.poincare_fit import PoincareConfig
    from hrviz.story import DIM, MAX_DISTANCE

    return replace(PoincareConfig(dim=DIM, max_distance=MAX_DISTANCE, seed=seed, threads=1), epochs=3, burn_in=1)


def seed_demo(db: Path) -> list[int]:
    """Fill a store as a first start leaves it, small: the story's runs (named ``story``, every
    chapter on its own hierarchy),
    then two runs on the session's default tree (named ``demo``), the newest, so they are the
    active run of a new session."""
    from hrviz import story
    from hrviz.experiment import DEMO_RECIPES, DEMO_SOURCE, run_training
    from hrviz.sources import load_source
    from hrviz.store import Store

    with Store(db) as store:
        ids = [run_training(ch.source, tiny_story_config(ch), store, hierarchy=load_source(ch.source),
                            name=story.NAME) for ch in story.ALL_CHAPTERS]
        return ids + [run_training(DEMO_SOURCE, tiny_demo_config(r), store, name="demo") for r in DEMO_RECIPES]


def app_at(page: str | None = None):
    """An AppTest of ``app.py`` run once (the Home page), then switched to ``page`` if given;
    fails on any exception."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, at.exception
    if page:
        at.switch_page(page).run()
        assert not at.exception, at.exception
    return at


def new_active_run(at, store, before: set[int]) -> dict:
    """The one run an upload just stored (run ids not in ``before``), checked to be the
    session's active run and finished; its row."""
    assert not at.error, [e.value for e in at.error]
    new = set(store.runs()["run_id"]) - before
    assert len(new) == 1, new
    run_id = new.pop()
    assert at.session_state["run_id"] == run_id
    row = store.run(run_id)
    assert row["status"] == "finished"
    return row


def standalone(path: str, **session):
    """An AppTest of one page file alone (without app.py), as if app.py had run before it,
    with ``session`` as its session state (not run yet). ``path``: ``page_path("4_query.py")``."""
    from streamlit.testing.v1 import AppTest

    from hrviz_app.navigation import APP_MARK

    at = AppTest.from_file(path, default_timeout=60)
    at.session_state[APP_MARK] = True
    for key, value in session.items():
        at.session_state[key] = value
    return at


def texts(at, kind: str) -> list[str]:
    """The values of an AppTest's elements of one kind (``"warning"``, ``"caption"``, ...)."""
    return [e.value for e in getattr(at, kind)]


def upload_hierarchy(at, name: str, data: bytes):
    """Upload ``data`` as file ``name`` on the Hierarchy page of ``at``; the AppTest, run."""
    at.switch_page("pages/1_hierarchy.py").run()
    at.radio(key="h_mode").set_value("Upload a file").run()
    at.file_uploader(key="h_upload").set_value((name, data, "application/octet-stream")).run()
    assert not at.exception, at.exception
    return at


def upload_projector_vectors(at, names: list[str], q, d):
    """Upload query vectors ``q`` and document vectors ``d`` (one row per name) as a projector
    pair on the Train page's Load vectors of ``at``; the AppTest, run."""
    import numpy as np

    vec = "".join("\t".join(f"{v:.9g}" for v in row) + "\n" for row in np.vstack([q, d])).encode()
    meta = ("name\tside\n" + "".join(f"{n}\tquery\n" for n in names)
            + "".join(f"{n}\tdoc\n" for n in names)).encode()
    at.file_uploader(key="t_vectors").set_value([("vectors.tsv", vec, "text/tab-separated-values"),
                                                 ("metadata.tsv", meta, "text/tab-separated-values")]).run()
    return at
