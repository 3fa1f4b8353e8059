"""The app shell and the Home, Hierarchy, Train and Results pages, run headless with AppTest.

Every test starts from ``app.py`` (the navigation) and switches to a page, as a user would. The
store is a temporary DuckDB file (``HRVIZ_DB``) shared by this module, so the demo experiment
trains once.
"""

from __future__ import annotations

import gzip
import io
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from hrviz.errors import InputError
from hrviz.store import Store
from tests.helpers import APP, FIXTURES, ROOT, app_at, new_active_run
TAXONOMY = (FIXTURES / "taxonomy.csv").read_bytes()


app = app_at  # the app run once, then switched to a page


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def charts(at: AppTest) -> list:
    return list(at.get("vega_lite_chart"))


def wait_for(predicate, timeout: float = 60.0, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("condition not met in time")


@pytest.fixture
def store(app_env):
    from hrviz_app.resources import get_store

    return get_store()


# ----------------------------------------------------------------------------- shell and Home


def test_the_explicit_page_list_matches_the_page_files():
    from hrviz_app.navigation import PAGES, page

    assert sorted(p.path for p in PAGES) == sorted(f"pages/{f.name}" for f in (ROOT / "pages").glob("*.py"))
    assert [p.path for p in PAGES] == sorted((p.path for p in PAGES), key=lambda s: int(s[6:].split("_")[0]))
    assert page("train")[1:] == ("Train", ":material/model_training:", "train")
    assert len({p.url for p in PAGES}) == len(PAGES)


def test_first_start_trains_the_story_and_home_says_so(tmp_path, monkeypatch, tiny_demo):
    from hrviz_app.story import story_job

    db = tmp_path / "fresh.duckdb"
    monkeypatch.setenv("HRVIZ_DB", str(db))
    at = app()  # the story trains in the background (tests/app/test_story_background.py): wait for it
    assert story_job().wait(120) and story_job().status == "done", story_job().error
    at.run()
    note = [i.value for i in at.info if "First start" in i.value]
    assert len(note) == 1 and "wordnet:mammal.n.01" in note[0] and "7 (lost, repaired, cause-removed, corrected, tree-" in note[0]
    from hrviz_app.resources import get_store  # the app's own Store on that file

    runs = get_store().runs()
    tree = runs[runs["source"] == "tree:H=4,W=5"]
    assert len(tree) == 3  # the paper's tree (tests/test_story_chapters.py)
    runs = runs[runs["source"] != "tree:H=4,W=5"]
    assert sorted(runs["recipe"]) == ["pretrain-finetune", "standard", "standard", "standard"]  # + logQ
    assert set(runs["name"]) == {"story"} and set(runs["status"]) == {"finished"}
    assert set(runs["source"]) == {"wordnet:mammal.n.01"} and set(runs["dim"]) == {64}
    assert at.session_state["source"] == "tree:H=4,W=5"  # the session still starts on the small tree
    assert at.session_state["run_id"] == max(tree["run_id"])  # and its active run is one of that tree's
    # a second session of the same process does not train again
    again = app()
    assert not again.exception
    assert len(get_store().runs()) == 7
    # beside the story: a Poincaré ball on the same hierarchy, one click away
    assert any("No Poincaré run" in i.value for i in again.info)
    again.button(key="home_poincare").click().run()
    assert not again.exception
    hyp = get_store().runs()[lambda r: ~r["run_id"].isin(runs["run_id"]) & (r["source"] != "tree:H=4,W=5")]
    assert len(hyp) == 1 and hyp["status"].iloc[0] == "finished" and hyp["dim"].iloc[0] == 64
    assert hyp["params"].iloc[0]["model"] == "poincare"  # store.runs() parses params, as store.run() does
    assert metrics(again)["Overall (Poincaré)"] == f"{hyp['overall'].iloc[0]:.1%}"
    assert len(charts(again)) == 9  # the task, the tree, four chapters, together, measured, Poincaré


def test_a_store_held_by_another_process_is_reported_in_words(tmp_path, monkeypatch):
    db = tmp_path / "busy.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "print('ready', flush=True); time.sleep(120)", str(db)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        monkeypatch.setenv("HRVIZ_DB", str(db))
        at = AppTest.from_file(APP, default_timeout=60).run()
        assert not at.exception
        errors = [e.value for e in at.error]
        assert len(errors) == 1 and "busy" in errors[0] and str(db) in errors[0]
    finally:
        holder.kill()
        holder.wait()


def test_home_tells_the_story_from_the_stores_runs(app_env):
    from hrviz import story
    from hrviz_app.resources import get_store

    at = app()
    assert at.title[0].value.startswith("Hierarchical retrieval")
    headers = [h.value for h in at.header]
    mammals = "on WordNet mammals (1,182 nodes)"  # each heading names its hierarchy and size
    assert headers[:11] == ["1 · The task, on a small tree (40 nodes)",
                            "2 · The paper's synthetic tree, on `tree:H=4,W=5` (156 nodes)",
                            f"3 · Standard training: lost in the long distance, {mammals}",
                            f"4 · Pretrain-finetune: the far ancestors come back, {mammals}",
                            f"5 · Exact training: the cause removed, {mammals}",
                            f"6 · The cause, corrected: logQ, {mammals}",
                            f"7 · The four together, {mammals}", "8 · Full WordNet (82,115 nodes), measured offline",
                            "9 · Why not hyperbolic embeddings? On WordNet mammals (1,182 nodes)",
                            "Your hierarchy", "Try it"]
    assert not at.warning, [w.value for w in at.warning]
    assert not [i for i in at.info if "First start" in i.value]  # the store had the runs already
    assert len(charts(at)) == 8  # the task tree, the paper's tree, four chapters, together, measured
    # each chapter's numbers are its run's, read from the store
    runs = story.story_runs(get_store())
    assert sorted(runs) == ["cause-removed", "corrected", "lost", "repaired"]
    m = metrics(at)
    for key, run in runs.items():
        short = story.CHAPTERS_BY_KEY[key].short
        assert m[f"Worst distance ({short})"] == f"{run['min']:.1%}"
        assert m[f"Overall ({short})"] == f"{run['overall']:.1%}"
    lost = runs["lost"]
    fin = get_store().final_recall(int(lost["run_id"]), split="all")
    words = f"Run #{lost['run_id']}, recall by distance: " + ", ".join(
        f"{int(d)} at {r:.0%}" for d, r in zip(fin["distance"], fin["recall"]))
    caption = next(c.value for c in at.caption if c.value.startswith(f"Run #{lost['run_id']},"))
    assert caption.startswith(words + ". Weakest: distance ")
    worst = fin.loc[fin["recall"].idxmin()]
    assert f"Weakest: distance {int(worst['distance'])} ({worst['recall']:.0%})" in caption
    # the ticks say which data they are from: the paper's full WordNet at dimension 64, not this subtree
    assert caption.endswith("Black ticks: the paper's row on full WordNet (82,115 nodes) at dimension 64, "
                            "for its shape: not numbers for this subtree.")
    # sidebar: the active hierarchy and run; the session starts on the small tree
    side = " ".join(c.value for c in at.sidebar.caption)
    assert "156 nodes" in side and "finished" in side
    assert at.session_state["source"] == "tree:H=4,W=5"
    # picking another query redraws the tree with it
    at.selectbox(key="home_query").set_value(at.selectbox(key="home_query").options[0]).run()
    assert not at.exception


def test_home_inspect_opens_the_chapters_run_in_the_query_inspector(app_env):
    from hrviz import story
    from hrviz_app.resources import get_store

    at = app()
    repaired = story.story_runs(get_store())["repaired"]
    at.button(key="home_inspect_repaired").click().run()
    assert not at.exception
    assert at.session_state["run_id"] == int(repaired["run_id"])
    assert at.session_state["source"] == story.SOURCE and at.session_state["max_distance"] == 8


def test_home_rerun_button_trains_the_three_story_runs_again(app_env, store):
    at = app()
    before = set(store.runs()["run_id"])
    at.button(key="home_rerun").click().run()
    assert not at.exception
    from hrviz_app.story import story_job  # the runs train in the background, one job per store

    job = story_job()
    assert job.info["force"]  # a re-run: all three chapters, a new seed
    assert job.wait(120) and job.status == "done", job.error
    at.run()
    assert not at.exception
    new = set(store.runs()["run_id"]) - before
    assert len(new) == 7  # the WordNet story's four, the paper tree's three
    rows = store.runs()[lambda r: r["run_id"].isin(new) & (r["source"] != "tree:H=4,W=5")]
    assert sorted(rows["recipe"]) == ["pretrain-finetune", "standard", "standard", "standard"]
    assert set(rows["status"]) == {"finished"} and set(rows["name"]) == {"story"}
    assert len(set(rows["seed"])) == 1 and 0 not in set(rows["seed"])  # one new seed
    assert sorted(at.session_state["home_runs"]) == sorted(new)
    assert any(f"#{max(new)}" in c.value for c in at.caption)  # the page shows the new runs


# ----------------------------------------------------------------------------- Hierarchy


def test_hierarchy_synthetic_sliders_change_the_active_source(app_env):
    at = app("pages/1_hierarchy.py")
    assert metrics(at)["Nodes"] == "156"
    at.slider(key="h_H").set_value(3).run()
    at.slider(key="h_W").set_value(3).run()
    assert at.session_state["source"] == "tree:H=3,W=3"
    m = metrics(at)
    assert (m["Nodes"], m["Edges"], m["Leaves"], m["Max depth"]) == ("13", "12", "9", "2")
    assert m["Ancestor pairs"] == "21"  # 12 at distance 1, 9 at distance 2
    assert len(charts(at)) == 3  # depth, distance, neighbourhood

    at.radio(key="h_mode").set_value("Random DAG").run()
    at.slider(key="h_n").set_value(200).run()
    assert at.session_state["source"].startswith("dag:n=200,depth=5")
    assert metrics(at)["Nodes"] == "200"
    assert any("A DAG" in c.value for c in at.caption)


def test_hierarchy_upload_csv_then_broken_file_keeps_the_previous(app_env):
    at = app("pages/1_hierarchy.py")
    at.radio(key="h_mode").set_value("Upload a file").run()
    at.file_uploader(key="h_upload").set_value(("taxonomy.csv", TAXONOMY, "text/csv")).run()
    assert not at.exception
    source = at.session_state["source"]
    path = Path(source)
    assert path.parent == app_env.parent / "uploads" and path.suffix == ".csv" and path.exists()
    assert path.read_bytes() == TAXONOMY
    from hrviz.sources import load_source

    h = load_source(source)
    m = metrics(at)
    assert m["Nodes"] == f"{h.n:,}" and m["Edges"] == f"{h.n_edges:,}"
    assert path.stem == h.hash
    assert any("taxonomy.csv" in s.value for s in at.success)

    bad = b"child,parent\nShoes,Footwear\nFootwear,Shoes\n"
    at.file_uploader(key="h_upload").set_value(("loop.csv", bad, "text/csv")).run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "loop.csv" in errors[0] and "cycle" in errors[0]
    assert at.session_state["source"] == source  # the previous hierarchy stays
    assert metrics(at)["Nodes"] == f"{h.n:,}"


def test_hierarchy_wordnet_subtree_search(app_env):
    at = app("pages/1_hierarchy.py")
    at.radio(key="h_mode").set_value("WordNet subtree").run()
    at.text_input(key="h_wn_query").set_value("mammal").run()
    pick = at.selectbox(key="h_wn_pick")
    assert pick.options[0].startswith("mammal.n.01 (1,181 below)")  # exact name first
    assert at.session_state["source"] == "wordnet:mammal.n.01"
    assert metrics(at)["Nodes"] == "1,182"
    from hrviz.sources import wordnet

    wn = wordnet()
    at.text_input(key="h_wn_query").set_value("placental").run()
    at.selectbox(key="h_wn_pick").set_value(wn.id_of("placental.n.01")).run()
    assert at.session_state["source"] == "wordnet:placental.n.01"
    assert metrics(at)["Nodes"] == f"{len(wn.descendants(wn.id_of('placental.n.01'))):,}"
    at.text_input(key="h_wn_query").set_value("qqqzzz").run()
    assert any("No noun synset" in i.value for i in at.info)
    assert at.session_state["source"] == "wordnet:placental.n.01"


def test_save_upload_names_files_by_hash_and_refuses_junk(tmp_path):
    from hrviz_app.uploads import save_upload, upload_ext

    assert upload_ext("A.CSV") == "csv" and upload_ext("x.tsv.gz") == "tsv.gz"
    assert upload_ext("weird name") == "txt"
    h, path = save_upload(gzip.compress(TAXONOMY), "taxonomy.csv.gz", tmp_path)
    assert path == tmp_path / f"{h.hash}.csv.gz"
    assert gzip.decompress(path.read_bytes()) == TAXONOMY
    h2, path2 = save_upload(TAXONOMY, "taxonomy.csv", tmp_path)
    assert h2.hash == h.hash and path2.suffix == ".csv"
    with pytest.raises(InputError, match="cycle"):
        save_upload(b"a,b\nb,a\n", "bad.csv", tmp_path / "other")
    assert not (tmp_path / "other").exists() or not any((tmp_path / "other").iterdir())


# ----------------------------------------------------------------------------- Train


def _small_run(at: AppTest, steps: int = 60, ft_steps: int = 40) -> None:
    at.number_input(key="t_steps").set_value(steps).run()
    if at.session_state["t_pf"]:
        at.number_input(key="t_ft_steps").set_value(ft_steps).run()
    at.number_input(key="t_eval").set_value(10).run()


def test_train_recipe_select_and_toggle_stay_in_sync(app_env):
    at = app("pages/2_train.py")
    assert at.selectbox(key="t_recipe").value == "pretrain-finetune" and at.toggle(key="t_pf").value
    labels = {w.label for w in at.number_input} | {w.label for w in at.select_slider} | {
        w.label for w in at.slider}
    assert {"Finetune learning-rate ratio", "Finetune temperature", "Long-distance threshold"} <= labels
    at.toggle(key="t_pf").set_value(False).run()
    assert at.selectbox(key="t_recipe").value == "standard"
    assert "Finetune temperature" not in {w.label for w in at.number_input}
    at.selectbox(key="t_recipe").set_value("rebalanced").run()
    assert not at.toggle(key="t_pf").value
    assert "Share of distance-0 pairs p" in {w.label for w in at.slider}
    at.selectbox(key="t_recipe").set_value("pretrain-finetune").run()
    assert at.toggle(key="t_pf").value


def test_train_start_writes_a_run_to_the_store_and_shows_it_live(app_env, store):
    from hrviz_app.training import training_job

    at = app("pages/2_train.py")
    _small_run(at)
    at.select_slider(key="t_ratio").set_value(0.01).run()
    at.button(key="t_start").click().run()
    assert not at.exception
    run_id = at.session_state["run_id"]
    row = store.run(run_id)
    from hrviz.rule import measure, recommended_dim
    from hrviz.sources import load_source

    want = recommended_dim(measure(load_source(at.session_state["source"])))  # d left at "auto": the rule's
    assert row["recipe"] == "pretrain-finetune" and row["dim"] == want
    assert row["params"]["finetune_lr_ratio"] == 0.01 and row["params"]["steps"] == 60
    training = training_job(run_id)
    training.wait(120)
    assert not training.alive
    assert store.run(run_id)["status"] == "finished"
    rec = store.recall([run_id])
    assert {"pretrain", "finetune", "final"} <= set(rec["stage"])
    assert (store.metrics([run_id])["name"] == "loss").any()
    at.run()  # the live view now shows the finished run: both curves and the final recall
    assert not at.exception
    assert "Overall recall" in metrics(at)
    assert len(charts(at)) >= 3
    assert not at.button(key="t_start").disabled and at.button(key="t_stop").disabled


def test_train_in_batch_unmasked_negatives_reach_the_run_params(app_env, store):
    from hrviz_app.training import training_job

    at = app("pages/2_train.py")
    _small_run(at)
    at.selectbox(key="t_negatives").set_value("in-batch").run()
    at.selectbox(key="t_masking").set_value("none").run()
    assert any("in-batch softmax, masking none" in c.value and "false negatives NOT masked" in c.value
               for c in at.caption)
    at.button(key="t_start").click().run()
    run_id = at.session_state["run_id"]
    params = store.run(run_id)["params"]
    assert params["negatives"] == "in-batch" and params["masking"] == "none"
    training_job(run_id).wait(120)
    assert store.run(run_id)["status"] == "finished"


def test_train_stop_ends_the_run_as_stopped(app_env, store):
    from hrviz_app.training import training_job

    at = app("pages/2_train.py")
    at.toggle(key="t_pf").set_value(False).run()
    at.number_input(key="t_steps").set_value(100_000).run()
    at.button(key="t_start").click().run()
    run_id = at.session_state["run_id"]
    training = training_job(run_id)
    assert training.alive
    assert at.button(key="t_start").disabled and not at.button(key="t_stop").disabled
    wait_for(lambda: not store.metrics([run_id]).empty)
    at.button(key="t_stop").click().run()
    training.wait(60)
    assert not training.alive
    assert training.kind == "training" and training.status == "stopped"  # the job registry's view
    row = store.run(run_id)
    assert row["status"] == "stopped"
    assert not store.metrics([run_id]).empty  # what was logged before the stop is kept


def test_train_load_model_refuses_another_hierarchy_and_accepts_its_own(app_env, store):
    runs = store.runs(status="finished")
    with_model = runs[runs["model_path"].notna() & (runs["source"] == "tree:H=4,W=5")]
    assert len(with_model), "the demo runs save their models"
    data = Path(with_model["model_path"].iloc[0]).read_bytes()

    at = app("pages/1_hierarchy.py")
    at.slider(key="h_H").set_value(3).run()  # another hierarchy: tree:H=3,W=5
    at.switch_page("pages/2_train.py").run()
    at.file_uploader(key="t_model").set_value(("demo.safetensors", data, "application/octet-stream")).run()
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "another hierarchy" in errors[0] and "demo.safetensors" in errors[0]

    at.switch_page("pages/1_hierarchy.py").run()
    at.slider(key="h_H").set_value(4).run()
    at.switch_page("pages/2_train.py").run()
    before = set(store.runs()["run_id"])
    at.file_uploader(key="t_model").set_value(("demo2.safetensors", data, "application/octet-stream")).run()
    row = new_active_run(at, store, before)
    run_id = int(row["run_id"])
    assert 0 <= row["overall"] <= 1
    assert not store.final_recall(run_id).empty

    junk = app("pages/2_train.py")
    junk.file_uploader(key="t_model").set_value(("x.safetensors", b"junk", "application/octet-stream")).run()
    assert any("x.safetensors" in e.value for e in junk.error)


def test_train_pick_an_earlier_run_on_another_hierarchy(app_env, store):
    at = app("pages/1_hierarchy.py")
    at.slider(key="h_W").set_value(3).run()
    assert at.session_state["source"] == "tree:H=4,W=3"
    at.switch_page("pages/2_train.py").run()
    runs = store.runs()
    assert len(at.selectbox(key="t_pick").options) == len(runs)
    oldest = int(runs[runs["name"] == "demo"]["run_id"].iloc[-1])  # the oldest run on the small tree
    at.selectbox(key="t_pick").set_value(oldest).run()
    at.button(key="t_use").click().run()
    assert not at.exception
    assert at.session_state["run_id"] == oldest
    # the run's hierarchy comes with it
    assert at.session_state["source"] == store.run(oldest)["source"] == "tree:H=4,W=5"


# ----------------------------------------------------------------------------- Results


def test_results_filters_compare_and_make_active(app_env, store):
    at = app("pages/3_results.py")
    runs = store.runs()
    table = at.dataframe[0].value
    assert len(table) == len(runs)
    at.multiselect(key="r_recipes").set_value(["standard"]).run()
    assert set(at.dataframe[0].value["recipe"]) == {"standard"}
    compare = at.multiselect(key="r_compare").value
    assert compare and set(compare) <= set(runs.loc[runs["recipe"] == "standard", "run_id"])
    assert len(charts(at)) == 1
    spec = charts(at)[0].spec
    assert '"facet"' in spec and "paper" in spec  # the demo setting has published numbers
    oldest = int(runs.loc[runs["recipe"] == "standard", "run_id"].iloc[-1])
    at.selectbox(key="r_pick").set_value(oldest).run()
    if at.session_state["run_id"] != oldest:
        at.button(key="r_use").click().run()
    assert at.session_state["run_id"] == oldest
    assert at.button(key="r_use").disabled  # already the active run
    downloads = at.get("download_button")
    assert len(downloads) == 3  # CSV, Parquet, projector TSV (the demo runs saved models)


def test_export_run_zips_every_table(app_env, store):
    from hrviz_app.exports import export_run

    run_id = int(store.runs(status="finished")["run_id"].iloc[0])
    for fmt in ("csv", "parquet"):
        with zipfile.ZipFile(io.BytesIO(export_run(run_id, fmt))) as zf:
            names = sorted(zf.namelist())
        assert names == sorted(f"run{run_id}_{t}.{fmt}" for t in ("runs", "metrics", "recall", "retrievals"))


def test_projector_export_has_query_and_document_vectors(app_env, store):
    from hrviz_app.exports import projector_export

    finished = store.runs(status="finished")
    run_id = int(finished[finished["name"] == "demo"]["run_id"].iloc[-1])  # a run on the small tree
    with zipfile.ZipFile(io.BytesIO(projector_export(run_id))) as zf:
        assert sorted(zf.namelist()) == [f"run{run_id}_metadata.tsv", f"run{run_id}_vectors.tsv"]
        vectors = zf.read(f"run{run_id}_vectors.tsv").decode().splitlines()
        meta = zf.read(f"run{run_id}_metadata.tsv").decode().splitlines()
    assert len(vectors) == 2 * 156 and len(vectors[0].split("\t")) == 3  # d=3, queries + docs
    assert meta[0] == "name\tlabel\tside\tdepth" and len(meta) == 2 * 156 + 1
