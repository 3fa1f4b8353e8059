"""Home speaks one language (issue 26, item 5): each heading names its hierarchy and size, the
paper's ticks say which data they are from, full WordNet is three rows and one sentence, every
term is explained, dimension and distance never share a letter, no sentence gives the paper's
finetune as the default, and the story can be told on the active hierarchy with one button."""

from __future__ import annotations

import json
import re

from hrviz import measured, story
from hrviz.paper import WORDNET
from tests.helpers import app_at


def texts(at) -> list[str]:
    """Every text of Home's main area a reader sees (not the sidebar)."""
    main = at.main
    return [e.value for kind in ("header", "markdown", "caption", "info", "warning", "error")
            for e in getattr(main, kind)]


def test_each_heading_names_its_hierarchy_and_size(app_env):
    at = app_at()
    headers = [h.value for h in at.header]
    mammals = [h for h in headers if "WordNet mammals (1,182 nodes)" in h]
    assert [h.split(" · ")[0] for h in mammals] == ["3", "4", "5", "6", "7", "9"]  # every mammal chapter
    assert "8 · Full WordNet (82,115 nodes), measured offline" in headers
    assert not [h for h in headers if "WordNet" in h and "nodes)" not in h]  # never "WordNet" alone
    assert any("`wordnet:mammal.n.01`: 1,182 nodes" in m and "not full WordNet (82,115 nodes" in m
               for m in texts(at))
    ticks = [c for c in texts(at) if "Black ticks:" in c and c.startswith("Run #")]
    assert len(ticks) == 2  # lost and repaired: the paper's rows, named as full WordNet at dimension 64
    assert all("the paper's row on full WordNet (82,115 nodes) at dimension 64" in c for c in ticks)


def test_full_wordnet_is_three_rows_one_conclusion_and_the_map_a_click_away(app_env):
    at = app_at()
    rows = at.main.dataframe[0].value
    assert list(rows["row"]) == ["standard", "pretrain-finetune", "logQ correction, one stage"]
    runs = measured.wordnet_paper()
    assert list(rows["hrviz: distance 8"]) == [round(100 * measured.by_setting(runs)[s].recall_by_distance[8], 1)
                                               for s in ("std-1000", "pf-dup", "std-logq")]
    paper = WORDNET[(64, "pretrain-finetune")]
    sentence = measured.conclusion(runs, paper)
    assert f"**{sentence}**" in [m.value for m in at.markdown]
    assert sentence.startswith("In the paper regime, pretrain-finetune does not repair full WordNet")
    assert "the logQ correction does" in sentence and "at a cost at distance 0" in sentence
    assert any("bench/results/wordnet_paper.md" in c for c in texts(at))
    full = [e for e in at.expander if e.label.startswith("The full map")]
    assert len(full) == 1 and len(full[0].dataframe[0].value) == len(runs) + 2  # + the paper's two rows


def test_the_glossary_explains_every_term(app_env):
    at = app_at()
    words = [e for e in at.expander if e.label == "Words on this page"]
    assert len(words) == 1
    text = words[0].markdown[0].value
    for term in ("in-batch negatives", "masking", "false negatives", "recall@auto", "|S(q)|", "distance",
                 "dimension", "logQ", "pretrain-finetune", "plateau"):
        assert f"- **{term}**: " in text, term


def test_no_text_gives_the_papers_finetune_as_the_default(app_env):
    at = app_at()
    every = texts(at) + [e.value for x in at.expander for e in x.markdown]
    assert not [t for t in every if "lr x 1/10" in t or "1/1000" in t]
    for t in every:  # the paper's finetune is named only where a measured run used it, as not the default
        if "temperature 500" in t:
            assert "not today's default" in t, t
    repaired = next(m for m in texts(at) if m.startswith("The same run, then hrviz's finetune"))
    assert "half of each batch distance-0 pairs" in repaired and "pretraining's learning rate and temperature" in repaired
    default = next(m for m in texts(at) if "hrviz's default" in m and "Not under-training" in m)
    assert "Train page and the command line alike (`--regime exact`, pretrain-finetune" in default
    tree = next(m for m in texts(at) if m.startswith("The paper's first table"))
    assert "default to the exact regime with pretrain-finetune" in tree and "preset" not in tree


def test_distance_and_dimension_never_share_a_letter(app_env):
    at = app_at()
    every = texts(at) + [e.value for x in at.expander for e in x.markdown]
    titles = []
    for chart in at.main.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        titles += [json.dumps(spec.get("title", "")), json.dumps(spec.get("datasets", {}))]
    d_dim, d_dist = re.compile(r"\bd\s?=\s?\d"), re.compile(r"\bd\d\b")
    assert not [t for t in every + titles if d_dim.search(t)]  # "dim 64", "dimension 64"
    assert not [t for t in every if d_dist.search(t)]  # "distance 8", never "d8"
    assert any("dimension 3" in t for t in every) and any("dim 64" in t for t in titles)


def test_your_hierarchy_tells_the_story_on_the_active_one(app_env):
    from hrviz import your_story
    from hrviz_app.resources import jobs

    at = app_at()
    assert "Your hierarchy" in [h.value for h in at.header]
    button = at.button(key="ys_start_home")
    assert button.label == "Tell the story on this hierarchy"
    assert any("the active hierarchy, **tree:H=4,W=5** (156 nodes)" in m for m in texts(at))
    at.session_state["source"] = "tree:H=3,W=2"  # as the Hierarchy page leaves it
    at.run()
    assert not at.exception
    assert any("the active hierarchy, **tree:H=3,W=2** (7 nodes)" in m for m in texts(at))
    at.button(key="ys_start_home").click().run()
    assert not at.exception
    job = jobs().get(your_story.JOB_KIND, your_story.job_key("tree:H=3,W=2", your_story.DEFAULT_MAX_DISTANCE))
    assert job is not None and job.info["source"] == "tree:H=3,W=2"  # the story trains on that hierarchy
    job.cancel()
    assert job.wait(120)
