"""The Train page's "Load vectors": a bad upload shows an error box and keeps the active run; a
good one (a projector pair of two files) becomes the active run, which every page shows."""

from __future__ import annotations

import io

import numpy as np
from streamlit.testing.v1 import AppTest

from tests.helpers import APP, new_active_run, upload_projector_vectors


def app(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, at.exception
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def _npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def test_load_vectors_bad_then_good_then_every_page(app_env):
    from hrviz.sources import load_source
    from hrviz_app.resources import DEFAULT_SOURCE, get_store

    store = get_store()
    h = load_source(DEFAULT_SOURCE)
    at = app("pages/2_train.py")
    active = at.session_state["run_id"] if "run_id" in at.session_state else None
    before = set(store.runs()["run_id"])

    bad = _npz(names=np.array(list(h.names[:-2]) + ["ghost.a", "ghost.b"]), vectors=np.ones((h.n, 3)))
    at.file_uploader(key="t_vectors").set_value(("mine.npz", bad, "application/octet-stream")).run()
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "mine.npz" in errors[0] and "2 node name(s) the hierarchy lacks" in errors[0]
    assert "'ghost.a'" in errors[0]
    assert set(store.runs()["run_id"]) == before  # nothing written
    assert (at.session_state["run_id"] if "run_id" in at.session_state else None) == active

    rng = np.random.default_rng(0)
    q, d = rng.normal(size=(h.n, 4)), rng.normal(size=(h.n, 4))
    upload_projector_vectors(at, h.names, q, d)
    assert not at.exception, at.exception
    row = new_active_run(at, store, before)
    run_id = int(row["run_id"])
    assert row["params"]["model"] == "loaded" and row["dim"] == 4
    assert any(f"run #{run_id}" in s.value for s in at.success)

    for page in ("pages/3_results.py", "pages/4_query.py", "pages/5_embeddings.py"):
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        assert not at.error, (page, [e.value for e in at.error])


# ----- hostile uploads, the hierarchy's cap, and the inspector beyond the cap ----------------------

def _npy_header_only(shape) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": shape})
    return buf.getvalue()


def _hostile_uploads(h) -> list[tuple[str, bytes, str]]:
    """(file name, bytes, words the error box must hold) of uploads a hostile user could send."""
    import gzip
    import zipfile

    import pandas as pd

    names = np.array(list(h.names))
    huge = io.BytesIO()
    with zipfile.ZipFile(huge, "w") as z:
        z.writestr("names.npy", _npy_bytes(names))
        z.writestr("query.npy", _npy_header_only((1_000_000, 21_000_000)))
        z.writestr("doc.npy", _npy_header_only((1_000_000, 21_000_000)))
    table = pd.DataFrame({"node": names, "v0": 1e20, "v1": 1e20})
    parquet = io.BytesIO()
    pd.DataFrame({"node": names, "v0": 1.0}).to_parquet(parquet)
    return [
        ("huge.npz", huge.getvalue(), "claims 21,000,000,000,000 values"),
        ("big.csv", table.to_csv(index=False).encode(), "overflow float32"),
        ("tiny.csv", table.assign(v0=1e-30, v1=1e-30).to_csv(index=False).encode(), "too small for float32"),
        ("cut.parquet", parquet.getvalue()[:-30], "not a readable parquet file"),
        ("packed.csv", gzip.compress(table.to_csv(index=False).encode()), "gzip-compressed"),
        ("ints.npz", _npz(names=np.arange(h.n), vectors=np.ones((h.n, 2))), "'names' must be a 1-d array of text"),
        ("notes.txt", b"Meeting notes\nwe agreed; more later\n", "needs its metadata"),
    ]


def _npy_bytes(a) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return buf.getvalue()


def test_hostile_uploads_show_one_line_each_and_write_nothing(app_env):
    from hrviz.sources import load_source
    from hrviz_app.resources import DEFAULT_SOURCE, get_store

    store = get_store()
    h = load_source(DEFAULT_SOURCE)
    at = app("pages/2_train.py")
    before = set(store.runs()["run_id"])
    for name, data, words in _hostile_uploads(h):
        at.file_uploader(key="t_vectors").set_value((name, data, "application/octet-stream")).run()
        assert not at.exception, (name, at.exception)
        errors = [e.value for e in at.error]
        assert len(errors) == 1 and errors[0].startswith(f"Cannot load **{name}**: "), (name, errors)
        message = errors[0].split(": ", 1)[1]
        assert words in message and "\n" not in message and len(message) < 200, (name, message)
        assert "Traceback" not in message and "np.str_" not in message
    assert set(store.runs()["run_id"]) == before  # nothing written


def test_load_vectors_uses_the_hierarchy_cap_and_the_inspector_marks_beyond_it(app_env):
    """The Hierarchy page's cap (session ``max_distance``) is the loaded run's cap; the Query
    inspector shows the ancestors past it as "beyond the cap", not as misses."""
    from hrviz.evaluate import evaluate
    from hrviz.sources import load_source
    from hrviz_app.resources import DEFAULT_SOURCE, get_store

    store = get_store()
    h = load_source(DEFAULT_SOURCE)
    assert h.max_depth >= 3
    at = app("pages/2_train.py")
    at.session_state["max_distance"] = 2  # (a cap of 1 trips the Train page's threshold slider: min = max = 1)
    before = set(store.runs()["run_id"])
    rng = np.random.default_rng(5)
    q, d = rng.normal(size=(h.n, 4)).astype(np.float32), rng.normal(size=(h.n, 4)).astype(np.float32)
    at.file_uploader(key="t_vectors").set_value(("capped.npz", _npz(names=np.array(list(h.names)), query=q, doc=d),
                                                 "application/octet-stream")).run()
    assert not at.exception, at.exception
    row = new_active_run(at, store, before)
    assert row["params"]["max_distance"] == 2
    want = evaluate(q, d, h.closure(2))
    assert row["overall"] == want.overall
    assert sorted(store.final_recall(row["run_id"])["distance"].astype(int).unique()) == [0, 1, 2]

    at.switch_page("pages/4_query.py").run()
    assert not at.exception, at.exception
    texts = [m.value for m in at.markdown]
    assert any("*beyond the cap*" in t and "distance cap of 2" in t for t in texts), texts
    paths = [t for t in texts if "*beyond the cap:*" in t]
    assert paths, texts
    marks = paths[0].split("*beyond the cap:*")[0]
    assert marks.count("✓") + marks.count("✗") == 3  # itself, its parent, its grandparent: within the cap
    assert "✗" not in paths[0].split("*beyond the cap:*")[1]


def test_path_to_root_text_marks_hits_misses_and_beyond_the_cap():
    from hrviz.charts.query import path_to_root_text

    label = {0: "dog", 1: "canine", 2: "carnivore", 3: "mammal"}.get
    assert path_to_root_text([0, 1, 2, 3], {0: True, 1: False}, label) == \
        "✓ dog → ✗ canine → *beyond the cap:* carnivore → mammal"
    assert path_to_root_text([0, 1], {0: True, 1: True}, label) == "✓ dog → ✓ canine"
