"""Shared fixtures: a results store for AppTests, and a real Streamlit server + Chromium for the
browser tests (``@pytest.mark.browser``). Only fixtures live here; every plain helper (paths,
small configs, ``seed_demo``, ``standalone``, the server and browser steps) is in
``tests/helpers.py``.

Layout and imports: ``tests/`` mirrors the packages (``tests/training/`` for ``hrviz/training/``,
``tests/app/`` for every AppTest and browser test, top-level modules at ``tests/test_<module>.py``)
and every folder is a package (``__init__.py``). Pytest's default import mode (``prepend``) then
puts the first folder above the packages, the repository root, on ``sys.path``, and names each
test module by its package path (``tests.training.test_loop``), so equal file names in two folders
do not clash and every test imports its helpers as ``from tests.helpers import ...``. We keep that
default rather than ``--import-mode=importlib``, under which tests could not import a shared
module without a ``sys.path`` edit. Subprocesses that need the helpers start with
``cwd=ROOT`` and ``sys.path`` holding the root.

Browser tests drive Debian's ``/usr/bin/chromium`` through Python Playwright; never
``playwright install``. Without the browser they skip with a reason, except under ``CI=true``,
where a missing browser fails them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.helpers import (CHROMIUM, CHROMIUM_ARGS, full_story_config, seed_demo, start_streamlit,
                           tiny_poincare_config, tiny_story_config)


@pytest.fixture
def tiny_demo(monkeypatch):
    """Make the story's runs (first start, Home's re-run button) train the small config."""
    from hrviz import story

    full_story_config()  # remember the real one before it is patched
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

