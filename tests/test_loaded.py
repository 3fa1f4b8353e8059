"""``hrviz load``: user vectors as a run. The round trip through the projector export, every
accepted layout, and every bad input (one line, exit 2, nothing written to the store)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hrviz.cli import main
from hrviz.errors import InputError
from hrviz.evaluate import evaluate
from hrviz.sources import load_source
from hrviz.store import Store

SOURCE = "tree:H=3,W=3"
KEYS = ("recall_by_distance", "overall", "min", "map", "mean_rank")


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def h():
    return load_source(SOURCE)


@pytest.fixture
def vecs(h):
    rng = np.random.default_rng(0)
    return rng.normal(size=(h.n, 5)).astype(np.float32), rng.normal(size=(h.n, 5)).astype(np.float32)


def expected(q, d, h) -> dict:
    ev = evaluate(q, d, h.closure())
    return {"overall": ev.overall, "min": ev.min, "map": ev.map,
            "recall_by_distance": {str(k): v for k, v in ev.recall_by_distance.items()}}


def assert_same(res: dict, want: dict) -> None:
    for key, value in want.items():
        assert res[key] == pytest.approx(value), key


def digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def test_round_trip_through_the_projector_export(tmp_path, capsys):
    db = tmp_path / "s.duckdb"
    code, out, _ = run_cli(capsys, "train", "tree:H=3,W=3", "--dim", "4", "--recipe", "standard",
                           "--steps", "60", "--json", "--db", db)
    assert code == 0
    trained = json.loads(out.splitlines()[-1])
    code, out, _ = run_cli(capsys, "export", trained["run_id"], "--format", "projector", "--out",
                           tmp_path / "out", "--db", db)
    assert code == 0
    vec, meta = out.split()
    code, out, err = run_cli(capsys, "load", "tree:H=3,W=3", vec, meta, "--json", "--db", db)
    assert code == 0, err
    loaded = json.loads(out.splitlines()[-1])
    assert loaded["model"] == "loaded" and loaded["format"] == "projector" and loaded["dim"] == 4
    for key in KEYS:
        assert loaded[key] == pytest.approx(trained[key]), key
    with Store(db, read_only=True) as store:
        run = store.run(loaded["run_id"])
        assert run["status"] == "finished" and run["params"]["model"] == "loaded"
        assert Path(run["model_path"]).exists()
        assert len(store.retrievals(loaded["run_id"])) > 0  # the top-10 lists the pages read
        assert not store.final_recall(loaded["run_id"]).empty
    # hrviz eval re-reads the stored model: the same numbers
    code, out, _ = run_cli(capsys, "eval", loaded["run_id"], "--json", "--db", db)
    assert code == 0 and json.loads(out.splitlines()[-1])["overall"] == pytest.approx(trained["overall"])


def test_an_exported_run_loaded_back_with_its_cap_reads_the_same_numbers(tmp_path, capsys):
    """Train with a distance cap, export as projector files, load with the same cap: the eval
    JSON and the printed lines agree to the last digit. Without the cap the numbers differ
    (every ancestor becomes relevant): that is why the cap must travel."""
    db, source = tmp_path / "s.duckdb", "tree:H=4,W=3"
    code, out, err = run_cli(capsys, "train", source, "--dim", "4", "--recipe", "standard", "--steps", "150",
                             "--max-distance", "2", "--json", "--db", db)
    assert code == 0, err
    trained = json.loads(out.splitlines()[-1])
    code, out, _ = run_cli(capsys, "export", trained["run_id"], "--format", "projector", "--out", tmp_path / "out",
                           "--db", db)
    assert code == 0
    files = out.split()
    code, out, err = run_cli(capsys, "load", source, *files, "--max-distance", "2", "--json", "--db", db)
    assert code == 0, err
    loaded = json.loads(out.splitlines()[-1])
    assert loaded["max_distance"] == 2 and list(loaded["recall_by_distance"]) == ["0", "1", "2"]
    evals = {}
    for run_id in (trained["run_id"], loaded["run_id"]):
        code, out, _ = run_cli(capsys, "eval", run_id, "--json", "--db", db)
        evals[run_id] = {k: v for k, v in json.loads(out).items() if k not in ("run_id", "recipe", "seconds")}
        code, text, _ = run_cli(capsys, "eval", run_id, "--db", db)
        evals[run_id]["printed"] = [line.split(" s")[0].rsplit("  ", 1)[0] if "overall" in line else line
                                    for line in text.splitlines()[1:]]  # the lines after the run's title
    assert evals[trained["run_id"]] == evals[loaded["run_id"]]
    code, out, _ = run_cli(capsys, "load", source, *files, "--json", "--db", db)
    uncapped = json.loads(out.splitlines()[-1])
    assert code == 0 and uncapped["max_distance"] is None and "3" in uncapped["recall_by_distance"]
    assert uncapped["overall"] != loaded["overall"]


def _write(tmp_path: Path, kind: str, h, q, d) -> list[Path]:
    names = list(h.names)
    order = np.random.default_rng(1).permutation(h.n)  # any row order
    if kind == "npz":
        p = tmp_path / "v.npz"
        np.savez(p, names=np.array(names, dtype=str)[order], query=q[order], doc=d[order])
    elif kind == "npz-symmetric":
        p = tmp_path / "v.npz"
        np.savez(p, names=np.array(names, dtype=str), vectors=q)
    elif kind in ("csv", "tsv"):
        p = tmp_path / f"v.{kind}"
        df = pd.DataFrame({"node": names, **{f"q{i}": q[:, i] for i in range(q.shape[1])},
                           **{f"d{i}": d[:, i] for i in range(d.shape[1])}, "label": "x"})
        df.iloc[order].to_csv(p, index=False, sep="," if kind == "csv" else "\t", float_format="%.9g")
    elif kind == "csv-symmetric":
        p = tmp_path / "v.csv"
        pd.DataFrame({"node": names, **{f"v{i}": q[:, i] for i in range(q.shape[1])}}).to_csv(
            p, index=False, float_format="%.9g")
    elif kind == "parquet-lists":
        p = tmp_path / "v.parquet"
        pd.DataFrame({"node": names, "query": list(q), "doc": list(d)}).to_parquet(p)
    elif kind == "parquet-flat":
        p = tmp_path / "v.parquet"
        pd.DataFrame({"node": names, **{f"q{i}": q[:, i] for i in range(q.shape[1])},
                      **{f"d{i}": d[:, i] for i in range(d.shape[1])}}).to_parquet(p)
    elif kind == "parquet-symmetric":
        p = tmp_path / "v.parquet"
        pd.DataFrame({"node": names, "vector": list(q)}).to_parquet(p)
    elif kind == "projector-symmetric":  # no side column: one vector per node
        p, m = tmp_path / "vectors.tsv", tmp_path / "metadata.tsv"
        np.savetxt(p, q, delimiter="\t", fmt="%.9g")
        m.write_text("name\tlabel\n" + "".join(f"{n}\t{n}\n" for n in names))
        return [p, m]
    elif kind == "projector-one-column":  # TensorBoard's own form: names, no header
        p, m = tmp_path / "vectors.tsv", tmp_path / "metadata.tsv"
        np.savetxt(p, q, delimiter="\t", fmt="%.9g")
        m.write_text("".join(f"{n}\n" for n in names))
        return [m, p]  # either order
    return [p]


@pytest.mark.parametrize("kind", ["npz", "npz-symmetric", "csv", "tsv", "csv-symmetric", "parquet-lists",
                                  "parquet-flat", "parquet-symmetric", "projector-symmetric",
                                  "projector-one-column"])
def test_every_layout_loads_with_exact_numbers(tmp_path, capsys, h, vecs, kind):
    q, d = vecs
    if "symmetric" in kind or "one-column" in kind:
        d = q
    files = _write(tmp_path, kind, h, q, d)
    code, out, err = run_cli(capsys, "load", SOURCE, *files, "--json", "--db", tmp_path / "s.duckdb",
                             "--name", "mine")
    assert code == 0, err
    res = json.loads(out.splitlines()[-1])
    assert res["symmetric"] == ("symmetric" in kind or "one-column" in kind)
    assert_same(res, expected(q, d, h))
    with Store(tmp_path / "s.duckdb", read_only=True) as store:
        assert store.run(res["run_id"])["name"] == "mine"


def _bad(tmp_path: Path, h, case: str) -> list[Path]:
    names = list(h.names)
    n = len(names)
    x = np.ones((n, 3))
    if case == "unknown":
        p = tmp_path / "v.npz"
        np.savez(p, names=np.array(names[:-7] + [f"ghost{i}" for i in range(7)]), vectors=x)
    elif case == "missing":
        p = tmp_path / "v.npz"
        np.savez(p, names=np.array(names[:-3]), vectors=x[:-3])
    elif case == "duplicate":
        p = tmp_path / "v.npz"
        np.savez(p, names=np.array(names[:-1] + names[:1]), vectors=x)
    elif case == "mixed-csv":
        p = tmp_path / "v.csv"
        pd.DataFrame({"node": names, "q0": 1.0, "q1": 1.0, "d0": 1.0}).to_csv(p, index=False)
    elif case == "mixed-projector":
        p, m = tmp_path / "vectors.tsv", tmp_path / "metadata.tsv"
        p.write_text("".join("1\t2\t3\n" if i != 4 else "1\t2\n" for i in range(n)))
        m.write_text("name\n" + "".join(f"{a}\n" for a in names))
        return [p, m]
    elif case == "mixed-npz":
        p = tmp_path / "v.npz"
        np.savez(p, names=np.array(names), query=x, doc=np.ones((n, 4)))
    elif case == "nan":
        p = tmp_path / "v.csv"
        df = pd.DataFrame({"node": names, "v0": 1.0, "v1": 1.0})
        df.loc[3, "v1"] = np.nan
        df.to_csv(p, index=False)
    elif case == "inf":
        p = tmp_path / "v.npz"
        x[2, 1] = np.inf
        np.savez(p, names=np.array(names), query=x, doc=np.ones((n, 3)))
    elif case == "junk-npz":
        p = tmp_path / "v.npz"
        p.write_bytes(b"not a zip at all")
    elif case == "junk-parquet":
        p = tmp_path / "v.parquet"
        p.write_bytes(b"PAR1 junk")
    elif case == "unknown-suffix":
        p = tmp_path / "v.bin"
        p.write_bytes(b"\x00\x01")
    elif case == "pickled-names":
        p = tmp_path / "v.npz"
        np.savez(p, names=np.array(names, dtype=object), vectors=x)
    elif case == "not-a-number":
        p = tmp_path / "v.csv"
        df = pd.DataFrame({"node": names, "v0": "1.0", "v1": "1.0"})
        df.loc[2, "v0"] = "abc"
        df.to_csv(p, index=False)
    elif case == "no-node-column":
        p = tmp_path / "v.csv"
        pd.DataFrame({"id": names, "v0": 1.0}).to_csv(p, index=False)
    elif case == "bad-side":
        p, m = tmp_path / "vectors.tsv", tmp_path / "metadata.tsv"
        p.write_text("1\t2\n" * (2 * n))
        m.write_text("name\tside\n" + "".join(f"{a}\tquery\n" for a in names) + "".join(f"{a}\tkey\n" for a in names))
        return [p, m]
    elif case == "lone-tsv":
        p = tmp_path / "vectors.tsv"
        p.write_text("1\t2\n" * n)
    return [p]


BAD = {  # case -> words the one line must hold
    "unknown": ["7 node name(s) the hierarchy lacks", "'ghost0'", "..."],
    "missing": ["3 of the hierarchy's", "missing"],
    "duplicate": ["more than once", repr("r")],
    "mixed-csv": ["mixed dimensions", "query vectors have 2 values, doc vectors 1"],
    "mixed-projector": ["mixed dimensions", "line 5"],
    "mixed-npz": ["mixed dimensions"],
    "nan": ["NaN", "node"],
    "inf": ["infinite", "query side"],
    "junk-npz": ["not a readable .npz"],
    "junk-parquet": ["not a readable parquet"],
    "unknown-suffix": ["unknown vector file type"],
    "pickled-names": ["pickled", "dtype=str"],
    "not-a-number": ["not a number", "row 3"],
    "no-node-column": ["no column 'node'"],
    "bad-side": ["side must be query or doc", "'key'"],
    "lone-tsv": ["needs its metadata"],
}


@pytest.fixture
def store_with_a_run(tmp_path, capsys):
    db = tmp_path / "s.duckdb"
    code, _, _ = run_cli(capsys, "train", SOURCE, "--dim", "3", "--recipe", "standard", "--steps", "20",
                         "--json", "--db", db)
    assert code == 0
    return db


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, h, store_with_a_run, case):
    db = store_with_a_run
    before, models = digest(db), sorted((db.parent / "models").iterdir())
    files = _bad(tmp_path, h, case)
    code, out, err = run_cli(capsys, "load", SOURCE, *files, "--json", "--db", db)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hrviz load: "), err
    for words in BAD[case]:
        assert words in lines[0], (words, lines[0])
    assert digest(db) == before, "the store file changed"
    assert sorted((db.parent / "models").iterdir()) == models


def test_a_file_over_the_size_limit_is_refused(tmp_path, capsys, h, monkeypatch, store_with_a_run):
    from hrviz.loaded import MAX_BYTES_ENV

    db = store_with_a_run
    before = digest(db)
    files = _write(tmp_path, "npz-symmetric", h, *[np.ones((h.n, 2), np.float32)] * 2)
    monkeypatch.setenv(MAX_BYTES_ENV, "100")
    code, _, err = run_cli(capsys, "load", SOURCE, *files, "--db", db)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "over the limit of 100 bytes" in err and MAX_BYTES_ENV in err and "v.npz" in err
    assert digest(db) == before
    monkeypatch.setenv(MAX_BYTES_ENV, "lots")
    code, _, err = run_cli(capsys, "load", SOURCE, *files, "--db", db)
    assert code == 2 and "positive number of bytes" in err


def test_library_reads_uploads_as_bytes(h, vecs):
    from hrviz.loaded import read_vectors

    q, d = vecs
    csv = pd.DataFrame({"node": h.names, **{f"v{i}": q[:, i] for i in range(5)}}).to_csv(index=False)
    got = read_vectors(h, [("mine.csv", csv.encode())])
    assert got.symmetric and got.dim == 5 and got.format == "csv" and got.files == ["mine.csv"]
    np.testing.assert_allclose(got.query, q, rtol=1e-6)
    with pytest.raises(InputError, match="mine.tsv"):
        read_vectors(h, [("mine.tsv", b"1\t2\n")])
    with pytest.raises(InputError, match="3 files"):
        read_vectors(h, [("a.tsv", b""), ("b.tsv", b""), ("c.tsv", b"")])
