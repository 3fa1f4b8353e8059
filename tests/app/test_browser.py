"""The app in a real browser: ``streamlit run app.py`` driven by Debian's Chromium (Playwright).

One server for the module (fixtures in conftest.py; its store starts with the small demo runs).
Screenshots of Home, Hierarchy, Train (during a run) and Results go to tests/artifacts/; set
``HRVIZ_SCREENSHOTS=docs/screenshots`` to refresh the README's pictures.
"""

from __future__ import annotations

import os
import re
import time

import pytest
from playwright.sync_api import expect

from hrviz_app.navigation import PAGES
from tests.helpers import (FIXTURES, IDLE, NAV_WATCH, ROOT, no_exception, open_page, seen_navigation, settle,
                           start_streamlit)

pytestmark = pytest.mark.browser

# tests/artifacts/ (ignored by git) unless HRVIZ_SCREENSHOTS names another folder, e.g.
# `HRVIZ_SCREENSHOTS=docs/screenshots` to refresh the README's pictures on purpose
SHOTS = ROOT / os.environ.get("HRVIZ_SCREENSHOTS", "tests/artifacts")
TAXONOMY = FIXTURES / "taxonomy.csv"


def sidebar_links(page) -> list[str]:
    """The labels of the page links in the sidebar (the app's navigation), icons left out."""
    links = page.locator('[data-testid="stSidebar"] [data-testid="stPageLink-NavLink"]')
    return [t.strip().splitlines()[-1].strip() for t in links.all_inner_texts()]


def metric_values(page) -> dict[str, str]:
    out = {}
    for m in page.locator('[data-testid="stMetric"]').all():
        label = m.locator('[data-testid="stMetricLabel"]').inner_text().strip()
        out[label] = m.locator('[data-testid="stMetricValue"]').inner_text().strip()
    return out


SHOT_HEIGHT = {"home": 2300, "hierarchy": 1500, "train": 1600, "results": 1350}


def shot(page, name: str) -> None:
    """A screenshot for the README, tall enough to show the page's charts."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": SHOT_HEIGHT.get(name, size["height"])})
    page.wait_for_timeout(700)  # charts re-layout to the new size
    page.screenshot(path=str(SHOTS / f"{name}.png"))
    page.set_viewport_size(size)


def test_every_page_renders_without_an_exception(page, streamlit_server):
    seen = []
    for number, spec in enumerate(PAGES):
        title, stem = spec.title, spec.url
        open_page(page, streamlit_server, "" if number == 0 else spec.url)
        page.wait_for_timeout(800)  # charts render after the script ends
        no_exception(page, title)
        assert page.locator("h1").first.inner_text().strip(), title
        seen.append(title)
        if stem in ("home", "hierarchy", "results"):
            if stem == "home":  # the three steps have their charts
                page.wait_for_selector('[data-testid="stVegaLiteChart"]', timeout=30_000)
                assert page.locator('[data-testid="stVegaLiteChart"]').count() >= 3
            shot(page, stem)
    assert {"Home", "Hierarchy", "Train", "Results"} <= set(seen)
    # the sidebar lists every page (the app's own links; Streamlit's navigation stays hidden)
    assert sidebar_links(page) == [p.title for p in PAGES]
    assert page.locator('[data-testid="stSidebarNav"]').count() == 0
    assert "156 nodes" in page.locator('[data-testid="stSidebar"]').inner_text()


def _progress_text(page) -> str:
    return page.locator('[data-testid="stProgress"]').first.inner_text()


def test_train_pretrain_finetune_and_watch_the_recall_chart_update(page, streamlit_server):
    open_page(page, streamlit_server, "train")
    assert sidebar_links(page) == [p.title for p in PAGES]  # app.py's navigation
    assert page.get_by_role("switch", name="Pretrain-finetune").is_checked()
    for label, value in [("Steps (pretrain / main stage)", "1500"), ("Finetune steps", "500"),
                         ("Evaluate every (steps)", "25"), ("Stop after validations without gain", "0")]:
        if label == "Evaluate every (steps)":
            page.get_by_text("More hyper-parameters").click()
        box = page.get_by_role("spinbutton", name=label, exact=True)
        box.fill(value)
        box.press("Enter")
        settle(page)
    assert "at most 2,000 steps (1,500 + 500 finetune" in page.locator("body").inner_text()
    page.get_by_role("button", name="Start training").click()
    page.wait_for_selector('[data-testid="stProgress"]:has-text("running")', timeout=30_000)
    run = re.search(r"Run #(\d+)", _progress_text(page)).group(1)

    def percent() -> int:
        m = re.search(r"(\d+)%", _progress_text(page))
        return int(m.group(1)) if m else -1

    # the fragment redraws from the store while the run trains: progress and the curves move
    page.wait_for_selector('[data-testid="stVegaLiteChart"]', timeout=60_000)
    first = percent()
    deadline = time.monotonic() + 60
    while percent() <= first and time.monotonic() < deadline:
        page.wait_for_timeout(300)
    assert percent() > first, "the live view did not update"
    # the loss curve comes first (every few steps), the recall chart at the first evaluation
    charts = page.locator('[data-testid="stVegaLiteChart"]')
    deadline = time.monotonic() + 60
    while charts.count() < 2 and time.monotonic() < deadline:
        page.wait_for_timeout(300)
    assert charts.count() >= 2, "recall and loss charts did not both appear"
    no_exception(page, "Train during a run")
    page.wait_for_timeout(1500)
    shot(page, "train")
    # every other page still responds while it trains
    other = page.context.new_page()
    open_page(other, streamlit_server, "results")
    # the table lists the new run (running or just finished): run ids count up from 1 in this store
    expect(other.locator("body")).to_contain_text(f"{run} of {run} runs", timeout=20_000)
    no_exception(other, "Results during a run")
    other.close()
    # the run ends, and the page shows its final numbers
    page.wait_for_selector(f'[data-testid="stProgress"]:has-text("Run #{run}"):has-text("finished")',
                           timeout=300_000)  # generous: a busy 2-core box trains slowly
    page.wait_for_selector('[data-testid="stMetricLabel"]:has-text("Overall recall")', timeout=30_000)
    # one full rerun after the end stops the timer and enables Start again
    expect(page.get_by_role("button", name="Start training")).to_be_enabled(timeout=10_000)
    no_exception(page, "Train after the run")
    # Results lists it, finished, with its stages side by side
    open_page(page, streamlit_server, "results")
    page.wait_for_selector('[data-testid="stVegaLiteChart"]', timeout=30_000)
    page.wait_for_timeout(800)
    no_exception(page, "Results")
    shot(page, "results")


def test_upload_a_csv_then_a_broken_file(page, streamlit_server, tmp_path):
    from hrviz.sources import load_file

    expected = load_file(TAXONOMY)
    open_page(page, streamlit_server, "hierarchy")
    page.get_by_text("Upload a file", exact=True).click()
    settle(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(TAXONOMY))
    page.wait_for_selector('[data-testid="stAlertContentSuccess"]:has-text("taxonomy.csv")',
                           timeout=30_000)
    settle(page)
    m = metric_values(page)
    assert m["Nodes"] == f"{expected.n:,}" and m["Edges"] == f"{expected.n_edges:,}"
    assert "taxonomy.csv" in page.locator('[data-testid="stSidebar"]').inner_text()
    no_exception(page, "upload")

    broken = tmp_path / "broken.csv"
    broken.write_text("child,parent\nShoes,Footwear\nFootwear,Shoes\n")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(broken))
    error = page.wait_for_selector('[data-testid="stAlertContentError"]:has-text("broken.csv")',
                                   timeout=30_000)
    assert "cycle" in error.inner_text()
    settle(page)
    assert metric_values(page)["Nodes"] == f"{expected.n:,}"  # the previous hierarchy stays
    no_exception(page, "broken upload")


FIRST_REQUESTS = {"root": ("", "Hierarchical retrieval"), "train": ("train", "Train"),
                  "deep link": ("query?run={run}&node=r.0", "Query inspector")}  # (URL, h1 starts)


@pytest.mark.parametrize("first", list(FIRST_REQUESTS))
def test_first_request_of_a_fresh_server_shows_only_the_apps_pages(browser, streamlit_server, tmp_path, first):
    """Streamlit's legacy pages-directory navigation never shows: from the first DOM node of a
    fresh server's very first request (the root or a deep link) on, the only navigation entries
    the browser ever renders are the app's page titles, Streamlit's sidebar navigation never
    appears, the page runs under app.py (its sidebar), and a deep link keeps its parameters."""
    url, h1 = FIRST_REQUESTS[first]
    url = url.format(run=streamlit_server["demo_standard"])
    with start_streamlit(streamlit_server["db"], tmp_path / "streamlit.log") as base:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        try:
            pg = context.new_page()
            pg.add_init_script(NAV_WATCH)
            pg.goto(f"{base}/{url}")
            pg.wait_for_selector(f'h1:has-text("{h1}")', timeout=90_000)
            pg.wait_for_selector(IDLE, timeout=60_000)
            pg.wait_for_timeout(1000)  # a late navigation message, if any
            no_exception(pg, f"first request /{url}")
            seen = seen_navigation(pg)
            assert not seen["sidebarNav"], "Streamlit's sidebar navigation showed"
            assert seen["entries"] == [p.title for p in PAGES], seen["entries"]  # no "app", no file names
            assert sidebar_links(pg) == [p.title for p in PAGES]
            assert "Active hierarchy" in pg.locator('[data-testid="stSidebar"]').inner_text()  # app.py ran
            assert pg.url == f"{base}/{url}"  # the path and the query parameters survived
            if first == "deep link":  # and the page applied them
                assert pg.get_by_role("textbox", name="Search a node by name or label").input_value() == "r.0"
                assert pg.locator('[data-testid="stAlertContentWarning"]').count() == 0
        finally:
            context.close()
