"""The Hierarchy page's uploads (hrviz_app/uploads.py), headless with AppTest: warnings with counts
and examples (isolated nodes, several roots, merged names), the choice to keep repeated names
apart by their parent, prose refused, and a refused file type said in words. The browser version
is in tests/app/test_browser_uploads.py."""

from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest

from tests.helpers import app_at, texts
from tests.helpers import upload_hierarchy as upload


def test_upload_warnings_and_the_choice_for_repeated_names(app_env):
    shop = ("child,parent\n" + "".join(f"Cat{i},Shop\nOther,Cat{i}\n" for i in range(18)) + "Loose\n").encode()
    at = upload(app_at(), "shop.csv", shop)
    warnings = texts(at, "warning")
    assert any("1 name stands under 18 parents and was merged into one node: 'Other'" in w for w in warnings), warnings
    assert any("1 isolated node (no parent, no child): 'Loose'" in w for w in warnings), warnings
    assert any("2 roots" in w for w in warnings), warnings
    assert {m.label: m.value for m in at.metric}["Nodes"] == "21"
    merged = at.session_state["source"]
    # the other reading: 18 nodes named after their parent, and the path reloads what was read
    at.radio(key="h_dups").set_value("by-parent").run()
    assert not at.exception, at.exception
    assert {m.label: m.value for m in at.metric}["Nodes"] == "38"
    warnings = texts(at, "warning")
    assert any("kept apart, one node per parent (18 nodes)" in w and "'Other (Cat0)'" in w for w in warnings), warnings
    source = at.session_state["source"]
    assert source != merged and source.endswith(".json")
    from hrviz.sources import load_source

    assert load_source(source).n == 38 and "Other (Cat5)" in load_source(source).index
    assert any("shop.csv" in s.value for s in at.success)


def test_prose_and_a_picture_are_refused_in_words(app_env):
    at = upload(app_at(), "minutes.txt", b"Meeting notes 12 March: discussed the roadmap with Anna and Tom.\n"
                b"Action items: Tom to send the budget; Anna reviews the draft by Friday.\n"
                b"Next meeting on Tuesday, room 4.\n")
    errors = texts(at, "error")
    assert len(errors) == 1 and "minutes.txt" in errors[0] and "reads as prose" in errors[0], errors
    before = at.session_state["source"]
    assert not before.endswith(".txt")
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    at.file_uploader(key="h_upload").set_value(("photo.png", png, "image/png")).run()
    assert not at.exception, at.exception
    errors = texts(at, "error")
    assert len(errors) == 1 and "photo.png" in errors[0], errors
    assert "a .png file is not a hierarchy file (an image)" in errors[0] and ".csv" in errors[0]
    assert at.session_state["source"] == before


def test_refused_type_in_words():
    from hrviz_app.uploads import refused_type

    assert refused_type("tax.csv") is None and refused_type("tax.TSV.gz") is None and refused_type("x.obo") is None
    assert "(a spreadsheet: export the sheet as CSV)" in refused_type("shop.xlsx")
    assert refused_type("notes").startswith("a file without an extension is not a hierarchy file")
    assert json.dumps(refused_type("a.png"))  # plain text
