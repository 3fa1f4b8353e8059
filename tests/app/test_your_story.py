"""The story on the active hierarchy from the Train page: one button trains the four chapters in
the background (hrviz.your_story), then the page draws them with one sentence each."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from hrviz import your_story
from tests.helpers import APP

SOURCE = "tree:H=3,W=3"


def test_the_button_tells_the_story_on_the_active_hierarchy(app_env):
    from hrviz_app.resources import get_store, jobs

    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["source"] = SOURCE
    at.session_state["max_distance"] = 2
    at.run()
    at.switch_page("pages/2_train.py").run()
    assert not at.exception, at.exception
    button = at.button(key="ys_start_train")
    assert button.label == "Tell the story on this hierarchy"
    button.click().run()
    job = jobs().get(your_story.JOB_KIND, your_story.job_key(SOURCE, 2))
    assert job is not None and job.wait(300) and job.status == "done", job.error
    found = your_story.runs(get_store(), SOURCE, 2)
    assert sorted(found) == sorted(ch.key for ch in your_story.CHAPTERS)
    at.run()
    assert not at.exception, at.exception
    text = " ".join(m.value for m in at.markdown)
    for ch in your_story.CHAPTERS:
        assert f"**{ch.short}** (run #{found[ch.key]['run_id']})" in text, ch.key
    assert at.button(key="ys_start_train").label == "Tell it again (new seed)"


def test_the_caption_gives_the_hierarchys_own_largest_distance(app_env):
    """Without a cap the story runs at the paper's 8; on a tree of depth 2 the caption says what
    the runs can reach: distances 0-2, not 0-8."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["source"] = SOURCE
    at.session_state["max_distance"] = None
    at.run()
    at.switch_page("pages/2_train.py").run()
    assert not at.exception, at.exception
    text = " ".join(c.value for c in at.caption)
    assert "distances 0-2)" in text and "distances 0-8" not in text, text
