"""Free text on the Query inspector in a real browser: the session's ``streamlit run app.py``
server (conftest.py) and Debian's Chromium, with the helpers of tests/helpers.py. A text
tower (hashing encoder, 13-node tree) is added to the server's store; typing a text into the
free-text box shows what it retrieves, and the hits where the text names a node."""

from __future__ import annotations

import pytest

from tests.helpers import IDLE, no_exception, open_page, settle

pytestmark = pytest.mark.browser

SOURCE = "tree:H=3,W=3"


@pytest.fixture(scope="module")
def text_run(streamlit_server) -> int:
    """A small text tower in the running server's store (the store takes writes from any process)."""
    from hrviz.experiment import run_training
    from hrviz.kinds.text import TextRunConfig
    from hrviz.models.text_fit import TowerConfig
    from hrviz.store import Store
    from hrviz.training import TrainConfig

    cfg = TextRunConfig(encoder="hashing", train=TrainConfig(dim=8, recipe="standard", steps=40, eval_every=20),
                        tower=TowerConfig(head="linear"), cache_dir=None)
    with Store(streamlit_server["db"]) as store:
        return run_training(SOURCE, cfg, store)


def type_text(page, text: str) -> None:
    box = page.get_by_role("textbox", name="Type any text: a new item, a term, a query")
    box.fill(text)
    box.press("Enter")
    settle(page, 600)


def test_free_text_on_the_query_page_shows_retrieved_documents_and_hits(page, streamlit_server, text_run):
    open_page(page, streamlit_server, f"query?run={text_run}")
    page.get_by_text("Free text").first.wait_for(timeout=30_000)
    box = page.get_by_role("textbox", name="Type any text: a new item, a term, a query")
    assert box.get_attribute("placeholder") == "e.g. golden retriever puppy"
    no_exception(page, "query page of a text run")

    type_text(page, "golden retriever puppy")  # names no node: only what it retrieves
    page.get_by_text("Top 13 retrieved for").first.wait_for(timeout=30_000)
    body = page.locator("body").inner_text()
    assert "golden retriever puppy" in body and "names no node" in body
    frames = page.locator('[data-testid="stDataFrame"]')
    assert frames.count() >= 3  # the free-text table above the node inspector's two
    no_exception(page, "free text")

    type_text(page, "r.2.1")  # names a node: its relevant documents are marked
    page.get_by_text("The text names").first.wait_for(timeout=30_000)
    assert "of its 3 relevant documents" in page.locator("body").inner_text()
    no_exception(page, "free text naming a node")

    type_text(page, "dog" + "\u0007" + "cat")  # a control character: a clear message, no exception
    page.get_by_text("control character").first.wait_for(timeout=30_000)
    assert page.locator('[data-testid="stAlert"]').filter(has_text="Cannot query this text").count() == 1
    no_exception(page, "bad free text")
    page.wait_for_selector(IDLE, timeout=60_000)
