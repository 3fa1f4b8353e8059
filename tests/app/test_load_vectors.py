"""The Train page's "Load vectors": a bad upload shows an error box and keeps the active run; a
good one (a projector pair of two files) becomes the active run, which every page shows."""

from __future__ import annotations

import io

import numpy as np
from streamlit.testing.v1 import AppTest

from tests.helpers import APP, new_active_run


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
    vec = "".join("\t".join(f"{v:.9g}" for v in row) + "\n" for row in np.vstack([q, d])).encode()
    meta = ("name\tside\n" + "".join(f"{n}\tquery\n" for n in h.names)
            + "".join(f"{n}\tdoc\n" for n in h.names)).encode()
    at.file_uploader(key="t_vectors").set_value([("vectors.tsv", vec, "text/tab-separated-values"),
                                                 ("metadata.tsv", meta, "text/tab-separated-values")]).run()
    assert not at.exception, at.exception
    row = new_active_run(at, store, before)
    run_id = int(row["run_id"])
    assert row["params"]["model"] == "loaded" and row["dim"] == 4
    assert any(f"run #{run_id}" in s.value for s in at.success)

    for page in ("pages/3_results.py", "pages/4_query.py", "pages/5_embeddings.py"):
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        assert not at.error, (page, [e.value for e in at.error])
