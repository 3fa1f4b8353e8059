"""Shared fixtures: a results store for AppTests, and a real Streamlit server + Chromium for the
browser tests (``@pytest.mark.browser``).

Browser tests drive Debian's ``/usr/bin/chromium`` through Python Playwright; never
``playwright install``. Without the browser they skip with a reason, except under ``CI=true``,
where a missing browser fails them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from helpers import CHROMIUM, CHROMIUM_ARGS, free_port, start_streamlit, wait_healthy

# Old names, for test code written before tests/helpers.py (other branches in flight import them
# from conftest): new code imports free_port and wait_healthy from helpers.
_free_port, _wait_healthy = free_port, wait_healthy

ROOT = Path(__file__).resolve().parents[1]


def tiny_demo_config(recipe: str, seed: int = 0):
    """The demo experiment (tree H=4, W=5, d=3) with few steps: the same code path in seconds."""
    from hrviz.training import TrainConfig

    return TrainConfig(dim=3, recipe=recipe, seed=seed, steps=200, finetune_steps=100, eval_every=25)


def tiny_story_config(chapter, seed: int = 0):
    """A story chapter's run (hrviz.story.config) with few steps: the same code path, the same
    setting (WordNet mammals, d=64, distance <= 8), in a second or two."""
    from dataclasses import replace

    from hrviz.story import config  # the module's own, also while a test has patched it

    full = _FULL_STORY_CONFIG.setdefault("config", config)
    return replace(full(chapter, seed), steps=30, finetune_steps=30, batch_size=64, eval_every=15)


_FULL_STORY_CONFIG: dict = {}  # hrviz.story.config as first seen, before any monkeypatch


def tiny_poincare_config(seed: int = 0):
    """Home's Poincaré comparison (hrviz.story.poincare_config) with 3 epochs."""
    from dataclasses import replace

    from hrviz.models.poincare_fit import PoincareConfig
    from hrviz.story import DIM, MAX_DISTANCE

    return replace(PoincareConfig(dim=DIM, max_distance=MAX_DISTANCE, seed=seed, threads=1), epochs=3, burn_in=1)


def seed_demo(db: Path) -> list[int]:
    """Fill a store as a first start leaves it, small: the story's runs (named ``story``),
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


@pytest.fixture
def tiny_demo(monkeypatch):
    """Make the story's runs (first start, Home's re-run button) train the small config."""
    from hrviz import story

    _FULL_STORY_CONFIG.setdefault("config", story.config)
    monkeypatch.setattr(story, "config", tiny_story_config)
    monkeypatch.setattr(story, "poincare_config", tiny_poincare_config)


@pytest.fixture(scope="session")
def app_db(tmp_path_factory) -> Path:
    """One results store shared by the AppTests of this session, holding the demo runs."""
    db = tmp_path_factory.mktemp("app") / "hrviz.duckdb"
    seed_demo(db)
    return db


@pytest.fixture
def app_env(app_db, monkeypatch, tiny_demo) -> Path:
    """HRVIZ_DB -> the shared test store."""
    monkeypatch.setenv("HRVIZ_DB", str(app_db))
    return app_db


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{CHROMIUM} is missing: CI must install Debian's chromium (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); browser tests need it")
    return CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")


@pytest.fixture(scope="session")
def streamlit_server(tmp_path_factory, chromium_path):
    """``streamlit run app.py`` on a free port with a fresh store; yields the base URL."""
    folder = tmp_path_factory.mktemp("server")
    seeded = seed_demo(folder / "hrviz.duckdb")  # full-size runs would take minutes on a busy box
    with start_streamlit(folder / "hrviz.duckdb", folder / "streamlit.log") as url:
        yield {"url": url, "db": folder / "hrviz.duckdb", "log": folder / "streamlit.log",
               "demo_standard": seeded[len(seeded) - 2]}  # a run on tree:H=4,W=5


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    try:
        yield pg
    finally:
        context.close()


def standalone(path: str, **session):
    """An AppTest of one page file alone (without app.py), as if app.py had run before it,
    with ``session`` as its session state (not run yet)."""
    from streamlit.testing.v1 import AppTest

    from hrviz_app.navigation import APP_MARK

    at = AppTest.from_file(path, default_timeout=60)
    at.session_state[APP_MARK] = True
    for key, value in session.items():
        at.session_state[key] = value
    return at
