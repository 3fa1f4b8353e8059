"""The Hierarchy page's uploads in a real browser (issue 26): warnings with counts and examples,
the choice to keep repeated names apart by their parent, and a picture refused in words (not only
by the uploader's red chip). The server and its store come from conftest.py."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.helpers import IDLE, no_exception, open_page, settle

pytestmark = pytest.mark.browser


def upload(page, path) -> None:
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(path))
    settle(page, 800)


def test_uploads_warn_keep_names_apart_and_refuse_a_picture_in_words(page, streamlit_server, tmp_path):
    shop = tmp_path / "shop.csv"
    shop.write_text("child,parent\n" + "".join(f"Cat{i},Shop\nOther,Cat{i}\n" for i in range(18)) + "Loose\n")
    open_page(page, streamlit_server, "hierarchy")
    page.get_by_text("Upload a file", exact=True).click()
    settle(page)
    upload(page, shop)
    page.wait_for_selector('[data-testid="stAlertContentSuccess"]:has-text("shop.csv")', timeout=30_000)
    warnings = page.locator('[data-testid="stAlertContentWarning"]').all_inner_texts()
    assert any("1 name stands under 18 parents and was merged into one node: 'Other'" in w for w in warnings), warnings
    assert any("1 isolated node" in w and "'Loose'" in w for w in warnings), warnings
    page.get_by_text("keep them apart by parent: x (a), x (b)").click()
    settle(page, 800)
    expect(page.locator('[data-testid="stAlertContentWarning"]').first).to_contain_text(
        "kept apart, one node per parent (18 nodes)", timeout=20_000)
    nodes = page.locator('[data-testid="stMetric"]').filter(has_text="Nodes")
    assert nodes.locator('[data-testid="stMetricValue"]').inner_text().strip() == "38"
    no_exception(page, "kept apart")

    png = tmp_path / "photo.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    upload(page, png)
    error = page.wait_for_selector('[data-testid="stAlertContentError"]:has-text("photo.png")', timeout=30_000)
    assert "a .png file is not a hierarchy file (an image)" in error.inner_text()
    page.wait_for_selector(IDLE, timeout=30_000)
    no_exception(page, "a picture")
