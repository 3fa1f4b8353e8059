"""Pages follow the active run and hierarchy in a real browser (issue 26): one session (one
tab, moving by the sidebar's links, never reloading), across page changes and hierarchy changes.
The server and its store come from conftest.py (the story's runs, then the demo's)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from hrviz import story
from tests.helpers import no_exception, open_page, settle

pytestmark = pytest.mark.browser


H1 = {"Home": "Hierarchical retrieval"}  # a page's heading, where it is not its title


def go(page, title: str) -> None:
    """Open a page by the sidebar's link, in the same session, and wait until it has run."""
    page.locator('[data-testid="stSidebar"] [data-testid="stPageLink-NavLink"]').filter(
        has_text=title).first.click()
    page.wait_for_selector(f'h1:has-text("{H1.get(title, title)}")', timeout=60_000)
    settle(page, 600)
    no_exception(page, title)


def run_box(page) -> str:
    """What the Run box shows."""
    return page.get_by_role("combobox", name="Run").input_value().strip()


def sidebar(page) -> str:
    return page.locator('[data-testid="stSidebar"]').inner_text()


def upload(page, path) -> None:
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(path))
    settle(page, 800)


def test_pages_show_the_run_the_sidebar_names_across_pages_and_hierarchies(page, streamlit_server, tmp_path):
    from hrviz.store import Store

    with Store(streamlit_server["db"], read_only=True) as store:
        chapters = story.story_runs(store)
    runs = [int(chapters[ch.key]["run_id"]) for ch in story.CHAPTERS[:2]]
    open_page(page, streamlit_server, "query")  # the session uses the Query inspector first
    demo = run_box(page)
    assert demo.startswith("#") and not any(demo.startswith(f"#{r} ") for r in runs), demo
    for nth, run in enumerate(runs):  # Home's "Inspect its queries" opens that chapter's run
        go(page, "Home")
        button = page.get_by_role("button", name="Inspect its queries").nth(nth)
        button.scroll_into_view_if_needed()
        button.click()
        page.wait_for_selector('h1:has-text("Query inspector")', timeout=60_000)
        settle(page, 600)
        no_exception(page, f"inspect run #{run}")
        assert run_box(page).startswith(f"#{run} "), run_box(page)
        assert f"#{run} " in sidebar(page) and story.SOURCE in sidebar(page)
    go(page, "Embeddings")
    assert run_box(page).startswith(f"#{runs[1]} ")

    # a new hierarchy: no run of it yet, said on every page; no other hierarchy's run shown
    fresh = tmp_path / "fresh.csv"
    fresh.write_text("child,parent\n" + "".join(f"leaf{i},mid{i % 2}\n" for i in range(6)) + "mid0,top\nmid1,top\n")
    go(page, "Hierarchy")
    page.get_by_text("Upload a file", exact=True).click()
    settle(page)
    upload(page, fresh)
    page.wait_for_selector('[data-testid="stAlertContentSuccess"]:has-text("fresh.csv")', timeout=30_000)
    assert "none: train one" in sidebar(page)
    for title in ("Query inspector", "Embeddings"):
        go(page, title)
        expect(page.locator("body")).to_contain_text(
            "The active hierarchy fresh.csv has no run with a saved model yet", timeout=20_000)
        assert page.locator('[data-testid="stVegaLiteChart"]').count() == 0
        assert page.locator('[data-testid="stDataFrame"]').count() == 0
    go(page, "Train")
    expect(page.locator("body")).to_contain_text("No run on fresh.csv yet", timeout=20_000)
    assert page.locator('[data-testid="stProgress"]').count() == 0  # no old run's live panel
    # back to the tree: its newest run is the active run again, on every page
    go(page, "Hierarchy")
    page.get_by_text("Synthetic tree", exact=True).click()
    settle(page, 800)
    go(page, "Query inspector")
    assert run_box(page) == demo
    go(page, "Train")
    number = demo.split()[0]  # "#12"
    expect(page.locator('[data-testid="stProgress"]').first).to_contain_text(f"Run {number}", timeout=20_000)
