"""``hrviz load`` against hostile and odd files: a table of files a careless or hostile user could
hand it (impossible npz headers, links to devices, pipes, values float32 cannot score, damaged
tables, names that would stretch a message). Every refusal: exit 2, one line under 200
characters, no traceback, no library type names, and the store untouched. Odd but valid files
load with the numbers of an exact evaluation of the same vectors."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hrviz.cli import main
from hrviz.evaluate import evaluate
from hrviz.loaded import MAX_BYTES_ENV
from hrviz.sources import load_source

SOURCE = "tree:H=3,W=3"
ROOT = Path(__file__).resolve().parents[2]
#: words no refusal may show: library class names, reprs, cut-off parser sentences
LIBRARY_WORDS = re.compile(r"np\.(str_|bytes_|float|int|bool_|ndarray)|numpy\.|pandas|pyarrow|Arrow|_Array|"
                           r"\b\w+Error\b|<class|dtype\(|Either the file is corrupted or|Traceback")


@pytest.fixture(scope="module")
def h():
    return load_source(SOURCE)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A store with one trained run: every refusal must leave it byte for byte as it is."""
    db = tmp_path_factory.mktemp("store") / "s.duckdb"
    assert main(["train", SOURCE, "--dim", "3", "--recipe", "standard", "--steps", "20", "--db", str(db)]) == 0
    return db


def digest(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def npy(a=None, *, shape=None, dtype="<f8") -> bytes:
    """The bytes of one .npy: an array, or only a header claiming ``shape`` (no data)."""
    buf = io.BytesIO()
    if a is not None:
        np.save(buf, a, allow_pickle=False)
    else:
        np.lib.format.write_array_header_1_0(buf, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                                                   "fortran_order": False, "shape": shape})
    return buf.getvalue()


def zip_of(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def table(h, q, d=None) -> pd.DataFrame:
    cols = {"node": list(h.names)}
    if d is None:
        cols.update({f"v{i}": q[:, i] for i in range(q.shape[1])})
    else:
        cols.update({f"q{i}": q[:, i] for i in range(q.shape[1])})
        cols.update({f"d{i}": d[:, i] for i in range(d.shape[1])})
    return pd.DataFrame(cols)


def good_parquet(tmp: Path, h) -> bytes:
    p = tmp / "good.parquet"
    table(h, np.ones((h.n, 3))).to_parquet(p)
    return p.read_bytes()


class Pipe:
    """A pipe as ``<(...)`` passes one: ``/dev/fd/N`` with a thread writing ``data`` (or
    writing without end, ``endless``) into the other end."""

    def __init__(self, data: bytes = b"", endless: bool = False):
        self.r, self.w = os.pipe()
        self.path = f"/dev/fd/{self.r}"
        self.thread = threading.Thread(target=self._write, args=(data, endless), daemon=True)
        self.thread.start()

    def _write(self, data: bytes, endless: bool) -> None:
        try:
            if endless:
                while True:
                    os.write(self.w, b"1\t" * 4096)
            else:
                os.write(self.w, data) if len(data) < 60_000 else [os.write(self.w, data[i:i + 4096])
                                                                    for i in range(0, len(data), 4096)]
        except OSError:
            pass  # the reader went away: what an endless writer is told
        finally:
            os.close(self.w)

    def close(self) -> None:
        os.close(self.r)  # the last reader: an endless writer gets EPIPE and stops
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()


def hostile(tmp: Path, h, case: str, monkeypatch, pipes: list) -> list:
    """The files (paths) of one hostile case; may set the size limit."""
    names, n = np.array(list(h.names)), h.n
    ones = np.ones((n, 3))
    if case == "npz-header-claims-21e12-values":
        return [zip_of(tmp / "huge.npz", {"names.npy": npy(names), "query.npy": npy(shape=(1_000_000, 21_000_000)),
                                          "doc.npy": npy(shape=(1_000_000, 21_000_000))})]
    if case == "npz-header-claims-more-rows-than-it-holds":
        return [zip_of(tmp / "v.npz", {"names.npy": npy(names), "vectors.npy": npy(shape=(n, 3)) + b"\0" * 16})]
    if case == "npz-names-header-claims-gigabytes":
        return [zip_of(tmp / "v.npz", {"names.npy": npy(shape=(n,), dtype="<U100000000"), "vectors.npy": npy(ones)})]
    if case == "npz-negative-shape":
        bad = npy(ones).replace(b"(13, 3)", b"(-13, 3)")
        return [zip_of(tmp / "v.npz", {"names.npy": npy(names), "vectors.npy": bad})]
    if case == "npz-zip-bomb":
        monkeypatch.setenv(MAX_BYTES_ENV, str(1_000_000))
        p = tmp / "bomb.npz"
        np.savez_compressed(p, names=names, vectors=np.zeros((n, 60_000)))
        assert p.stat().st_size < 1_000_000
        return [p]
    if case == "npz-truncated":
        p = tmp / "v.npz"
        np.savez(p, names=names, vectors=ones)
        p.write_bytes(p.read_bytes()[:300])
        return [p]
    if case == "npz-names-are-integers":
        return [zip_of(tmp / "v.npz", {"names.npy": npy(np.arange(n)), "vectors.npy": npy(ones)})]
    if case == "npz-names-2d":
        return [zip_of(tmp / "v.npz", {"names.npy": npy(names.reshape(n, 1)), "vectors.npy": npy(ones)})]
    if case == "npz-vectors-3d":
        return [zip_of(tmp / "v.npz", {"names.npy": npy(names), "vectors.npy": npy(np.ones((n, 3, 2)))})]
    if case == "npz-vectors-are-text":
        return [zip_of(tmp / "v.npz", {"names.npy": npy(names), "vectors.npy": npy(np.full((n, 3), "x"))})]
    if case == "npz-complex-vectors":
        return [zip_of(tmp / "v.npz", {"names.npy": npy(names), "vectors.npy": npy(ones + 1j)})]
    if case == "npz-pickled-names":
        p = tmp / "v.npz"
        np.savez(p, names=names.astype(object), vectors=ones)
        return [p]
    if case == "npz-empty-archive":
        return [zip_of(tmp / "v.npz", {})]
    if case == "npz-garbage-header":
        return [zip_of(tmp / "v.npz", {"names.npy": b"\x93NUMPY\x01\x00\x10\x00{'descr': 5 !!}\n",
                                       "vectors.npy": npy(ones)})]
    if case == "link-to-dev-zero":  # the default limit: refused without reading a byte
        (tmp / "v.npz").symlink_to("/dev/zero")
        return [tmp / "v.npz"]
    if case == "link-to-dev-urandom-as-metadata":
        p = tmp / "vectors.tsv"
        p.write_text("1\t2\n" * n)
        (tmp / "metadata.tsv").symlink_to("/dev/urandom")
        return [p, tmp / "metadata.tsv"]
    if case == "endless-pipe":
        monkeypatch.setenv(MAX_BYTES_ENV, str(100_000))
        pipe = Pipe(endless=True)
        pipes.append(pipe)
        m = tmp / "metadata.tsv"
        m.write_text("name\n" + "".join(f"{a}\n" for a in names))
        return [pipe.path, m]
    if case == "fifo-nobody-writes":
        p = tmp / "vectors.npz"
        os.mkfifo(p)
        return [p]
    if case == "folder":
        (tmp / "v.csv").mkdir()
        return [tmp / "v.csv"]
    if case == "missing-file":
        return [tmp / "nowhere.npz"]
    if case == "empty-file":
        (tmp / "v.csv").write_bytes(b"")
        return [tmp / "v.csv"]
    if case == "values-1e20-overflow-float32-scores":
        p = tmp / "v.csv"
        table(h, np.full((n, 3), 1e20)).to_csv(p, index=False)
        return [p]
    if case == "values-1e-30-underflow-float32-scores":
        p = tmp / "v.csv"
        table(h, np.random.default_rng(0).normal(size=(n, 3)) * 1e-30).to_csv(p, index=False)
        return [p]
    if case == "one-doc-vector-1e-45":
        p = tmp / "v.npz"
        d = np.random.default_rng(1).normal(size=(n, 3))
        d[4] = 1e-45
        np.savez(p, names=names, query=np.random.default_rng(2).normal(size=(n, 3)), doc=d)
        return [p]
    if case == "values-beyond-float32":
        p = tmp / "v.csv"
        table(h, np.full((n, 3), 1e39)).to_csv(p, index=False)
        return [p]
    if case == "side-document":
        p, m = tmp / "vectors.tsv", tmp / "metadata.tsv"
        p.write_text("1\t2\n" * (2 * n))
        m.write_text("name\tside\n" + "".join(f"{a}\tquery\n" for a in names) + "".join(f"{a}\tdocument\n" for a in names))
        return [p, m]
    if case == "metadata-short":
        p, m = tmp / "vectors.tsv", tmp / "metadata.tsv"
        p.write_text("1\t2\n" * n)
        m.write_text("name\n" + "".join(f"{a}\n" for a in names[:-2]))
        return [p, m]
    if case == "truncated-parquet":
        p = tmp / "v.parquet"
        p.write_bytes(good_parquet(tmp, h)[:-40])
        return [p]
    if case == "parquet-middle-damaged":
        data = bytearray(good_parquet(tmp, h))
        data[20:200] = b"\xff" * 180
        (tmp / "v.parquet").write_bytes(bytes(data))
        return [tmp / "v.parquet"]
    if case == "parquet-claims-many-rows":
        monkeypatch.setenv(MAX_BYTES_ENV, str(200_000))
        p = tmp / "v.parquet"
        pd.DataFrame({"node": ["x"] * 2_000_000, "v0": 0.0}).to_parquet(p)
        assert p.stat().st_size < 200_000
        return [p]
    if case == "parquet-nested-lists":
        p = tmp / "v.parquet"
        pd.DataFrame({"node": names, "vector": [[[1.0, 2.0]]] * n}).to_parquet(p)
        return [p]
    if case == "parquet-lists-of-text":
        p = tmp / "v.parquet"
        pd.DataFrame({"node": names, "vector": [["a", "b"]] * n}).to_parquet(p)
        return [p]
    if case == "csv-ragged-rows":
        p = tmp / "v.csv"
        p.write_text("node,v0\n" + "".join(f"{a},1\n" if i != 5 else f"{a},1,2,3\n" for i, a in enumerate(names)))
        return [p]
    if case == "csv-binary-junk":
        p = tmp / "v.csv"
        p.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
        return [p]
    if case == "csv-gzipped":
        import gzip

        p = tmp / "v.csv"
        p.write_bytes(gzip.compress(table(h, ones).to_csv(index=False).encode()))
        return [p]
    if case == "csv-200k-columns":
        p = tmp / "v.csv"
        p.write_text("node," + ",".join(f"v{i}" for i in range(200_000)) + "\n")
        return [p]
    if case == "projector-100k-values-a-line":
        p, m = tmp / "vectors.tsv", tmp / "metadata.tsv"
        p.write_text(("\t".join(["1"] * 100_000) + "\n") * 2)
        m.write_text("name\nr\nr.0\n")
        return [p, m]
    if case == "name-of-10000-characters":
        p = tmp / "v.csv"
        df = table(h, ones)
        df.loc[0, "node"] = "x" * 10_000
        df.to_csv(p, index=False)
        return [p]
    if case == "name-with-newline":
        p = tmp / "v.csv"
        df = table(h, ones)
        df.loc[0, "node"] = "evil\nname"
        df.to_csv(p, index=False)
        return [p]
    if case == "not-a-number-with-long-text":
        p = tmp / "v.csv"
        df = table(h, ones).astype({"v1": object})
        df.loc[3, "v1"] = "y" * 5000
        df.to_csv(p, index=False)
        return [p]
    if case == "deep-folder-name":
        deep = tmp.joinpath(*["a-rather-long-folder-name"] * 6)
        deep.mkdir(parents=True)
        p = deep / ("vectors-with-a-long-file-name-" * 2 + ".npz")
        np.savez(p, names=np.array(list(names[:-3]) + ["ghost-" + "g" * 60] * 3), vectors=ones)
        return [p]
    if case == "negative-cap":
        p = tmp / "v.csv"
        table(h, ones).to_csv(p, index=False)
        return [p, "--max-distance", "-1"]
    raise AssertionError(case)


HOSTILE = {  # case -> words the one line must hold
    "npz-header-claims-21e12-values": ["claims 21,000,000,000,000 values"],
    "npz-header-claims-more-rows-than-it-holds": ["claims 39 values", "holds 16 bytes"],
    "npz-names-header-claims-gigabytes": ["'names' claims"],
    "npz-negative-shape": ["'vectors'"],
    "npz-zip-bomb": ["unpack to", "over the limit of 977 KiB"],
    "npz-truncated": ["not a readable .npz"],
    "npz-names-are-integers": ["'names' must be a 1-d array of text, got 13 integers"],
    "npz-names-2d": ["'names' must be a 1-d array of text, got 13x1 text"],
    "npz-vectors-3d": ["'vectors' must be a 2-d array of numbers, got 13x3x2 floats"],
    "npz-vectors-are-text": ["'vectors' must be a 2-d array of numbers", "text"],
    "npz-complex-vectors": ["complex numbers"],
    "npz-pickled-names": ["pickled", "dtype=str"],
    "npz-empty-archive": ["not a readable .npz"],
    "npz-garbage-header": ["'names' has no readable .npy header"],
    "link-to-dev-zero": ["a device", "v.npz"],
    "link-to-dev-urandom-as-metadata": ["a device", "metadata.tsv"],
    "endless-pipe": ["more than the limit", "/dev/fd/"],
    "fifo-nobody-writes": ["the file is empty"],
    "folder": ["a folder"],
    "missing-file": ["no such file", "nowhere.npz"],  # the words of every file hrviz reads
    "empty-file": ["the file is empty"],
    "values-1e20-overflow-float32-scores": ["overflow float32", "scale them down"],
    "values-1e-30-underflow-float32-scores": ["too small for float32 scores", "scale them up"],
    "one-doc-vector-1e-45": ["1 vector(s) too small", "doc side", "first at node 'r."],
    "values-beyond-float32": ["beyond float32's range"],
    "side-document": ["side must be query or doc, got 'document'", "line 15"],
    "metadata-short": ["11 metadata lines for 13 vectors"],
    "truncated-parquet": ["not a readable parquet file"],
    "parquet-middle-damaged": ["not a readable parquet file"],
    "parquet-claims-many-rows": ["2,000,000 rows", "over the limit"],
    "parquet-nested-lists": ["list of numbers", "row 1"],
    "parquet-lists-of-text": ["list of numbers", "row 1"],
    "csv-ragged-rows": ["line 7", "4 fields"],
    "csv-binary-junk": ["not UTF-8 text"],
    "csv-gzipped": ["a gzip-compressed file", "gunzip"],
    "csv-200k-columns": ["200,001 columns"],
    "projector-100k-values-a-line": ["100,000 values on the first line"],
    "name-of-10000-characters": ["1 node name(s) the hierarchy lacks", "'xxxxxxxxx"],
    "name-with-newline": ["'evil?name'"],
    "not-a-number-with-long-text": ["not a number in column v1", "row 4"],
    "deep-folder-name": ["3 node name(s) the hierarchy lacks"],
    "negative-cap": ["distance cap must be a whole number >= 0"],
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_file_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, h, store, monkeypatch, case):
    before = digest(store.parent)
    pipes: list[Pipe] = []
    try:
        args = [str(a) for a in hostile(tmp_path, h, case, monkeypatch, pipes)]
        code = main(["load", SOURCE, *args, "--json", "--db", str(store)])
    finally:
        for pipe in pipes:
            pipe.close()
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == 2, (case, out, err)
    assert out == ""
    assert len(lines) == 1 and lines[0].startswith("hrviz load: "), err
    assert len(lines[0]) < 200, (len(lines[0]), lines[0])
    assert not LIBRARY_WORDS.search(lines[0]), lines[0]
    for words in HOSTILE[case]:
        assert words in lines[0], (words, lines[0])
    assert digest(store.parent) == before, "the store or its models changed"


# ----- odd files that are fine ---------------------------------------------------------------

def expected(q, d, h, cap=None) -> dict:
    ev = evaluate(np.asarray(q, np.float32), np.asarray(d, np.float32), h.closure(cap))
    return {"overall": ev.overall, "min": ev.min, "map": ev.map, "mean_rank": ev.mean_rank,
            "recall_by_distance": {str(k): v for k, v in ev.recall_by_distance.items()}}


def odd(tmp: Path, h, case: str, pipes: list):
    """(files, query vectors, doc vectors) of one odd but valid case."""
    rng = np.random.default_rng(7)
    q, d = rng.normal(size=(h.n, 4)).astype(np.float32), rng.normal(size=(h.n, 4)).astype(np.float32)
    names = np.array(list(h.names))
    fmt = lambda a: "".join("\t".join(f"{v:.9g}" for v in row) + "\n" for row in a)  # noqa: E731
    meta = "name\tlabel\tside\n" + "".join(f"{a}\tx\tquery\n" for a in names) + "".join(f"{a}\tx\tdoc\n" for a in names)
    if case == "projector-pair-through-pipes":
        pv, pm = Pipe(fmt(np.vstack([q, d])).encode()), Pipe(meta.encode())
        pipes += [pv, pm]
        return [pv.path, pm.path], q, d
    if case == "npz-through-a-pipe-without-suffix":
        buf = io.BytesIO()
        np.savez(buf, names=names, query=q, doc=d)
        pipe = Pipe(buf.getvalue())
        pipes.append(pipe)
        return [pipe.path], q, d
    if case == "csv-through-a-pipe-without-suffix":
        pipe = Pipe(table(h, q, d).to_csv(index=False, float_format="%.9g").encode())
        pipes.append(pipe)
        return [pipe.path], q, d
    if case == "crlf-and-bom-projector":
        p, m = tmp / "vectors.tsv", tmp / "metadata.tsv"
        p.write_bytes(fmt(np.vstack([q, d])).replace("\n", "\r\n").encode() + b"\r\n\r\n")
        m.write_bytes(b"\xef\xbb\xbf" + meta.replace("\n", "\r\n").encode())
        return [m, p], q, d
    if case == "csv-bom-crlf-extra-columns-upper-suffix":
        p = tmp / "V.CSV"
        df = table(h, q, d).assign(label="a, b", depth=1).iloc[::-1]
        p.write_bytes(b"\xef\xbb\xbf" + df.to_csv(index=False, float_format="%.9g", lineterminator="\r\n").encode())
        return [p], q, d
    if case == "npz-float16":
        p = tmp / "v.npz"
        q16, d16 = q.astype(np.float16), d.astype(np.float16)
        np.savez(p, names=names, query=q16, doc=d16)
        return [p], q16, d16
    if case == "npz-integers":
        p = tmp / "v.npz"
        qi, di = np.round(q * 10).astype(np.int32), np.round(d * 10).astype(np.int64)
        np.savez(p, names=names, query=qi, doc=di)
        return [p], qi, di
    if case == "npz-big-endian-fortran-compressed":
        p = tmp / "v.npz"
        np.savez_compressed(p, names=names.astype("S"), query=np.asfortranarray(q.astype(">f8")),
                            doc=np.asfortranarray(d.astype(">f4")))
        return [p], q, d
    if case == "link-to-a-regular-file":
        p = tmp / "real.npz"
        np.savez(p, names=names, query=q, doc=d)
        (tmp / "link.npz").symlink_to(p)
        return [tmp / "link.npz"], q, d
    if case == "values-1e15-scores-fit":
        p = tmp / "v.npz"
        np.savez(p, names=names, query=q * 1e15, doc=d * 1e15)
        return [p], q * 1e15, d * 1e15
    if case == "values-1e-12-scores-fit":
        p = tmp / "v.npz"
        np.savez(p, names=names, query=q * 1e-12, doc=d * 1e-12)
        return [p], q * 1e-12, d * 1e-12
    if case == "values-1e-14-scores-fit":  # scores near 1e-27: small, still exact in float32
        p = tmp / "v.npz"
        np.savez(p, names=names, query=q * 1e-14, doc=d * 1e-14)
        return [p], q * 1e-14, d * 1e-14
    if case == "capitalised-sides":
        p, m = tmp / "vectors.tsv", tmp / "metadata.tsv"
        p.write_text(fmt(np.vstack([q, d])))
        m.write_text(meta.replace("\tquery\n", "\tQuery\n").replace("\tdoc\n", "\tDOC\n"))
        return [p, m], q, d
    if case == "npz-with-an-extra-pickled-array":  # only names, query and doc are ever read
        p = tmp / "v.npz"
        np.savez(p, names=names, query=q, doc=d, notes=np.array([{"a": 1}], dtype=object))
        return [p], q, d
    if case == "one-zero-vector":
        p = tmp / "v.npz"
        q0 = q.copy()
        q0[3] = 0
        np.savez(p, names=names, query=q0, doc=d)
        return [p], q0, d
    if case == "parquet-float32-lists-extra-column":
        p = tmp / "v.parquet"
        pd.DataFrame({"node": names, "query": list(q), "doc": list(d), "note": "x"}).to_parquet(p)
        return [p], q, d
    if case == "tsv-table":
        p = tmp / "v.tsv"
        table(h, q, d).to_csv(p, index=False, sep="\t", float_format="%.9g")
        return [p], q, d
    raise AssertionError(case)


ODD = ["projector-pair-through-pipes", "npz-through-a-pipe-without-suffix", "csv-through-a-pipe-without-suffix",
       "crlf-and-bom-projector", "csv-bom-crlf-extra-columns-upper-suffix", "npz-float16", "npz-integers",
       "npz-big-endian-fortran-compressed", "link-to-a-regular-file", "values-1e15-scores-fit",
       "values-1e-12-scores-fit", "values-1e-14-scores-fit", "capitalised-sides", "npz-with-an-extra-pickled-array",
       "one-zero-vector", "parquet-float32-lists-extra-column", "tsv-table"]


@pytest.mark.parametrize("case", ODD)
def test_odd_valid_file_loads_with_the_right_numbers(tmp_path, capsys, h, case):
    pipes: list[Pipe] = []
    try:
        files, q, d = odd(tmp_path, h, case, pipes)
        code = main(["load", SOURCE, *map(str, files), "--max-distance", "1", "--json",
                     "--db", str(tmp_path / "s.duckdb")])
    finally:
        for pipe in pipes:
            pipe.close()
    out, err = capsys.readouterr()
    assert code == 0, err
    res = json.loads(out.splitlines()[-1])
    assert res["max_distance"] == 1 and list(res["recall_by_distance"]) == ["0", "1"]
    for key, value in expected(q, d, h, cap=1).items():
        assert res[key] == pytest.approx(value, rel=1e-12), key


def test_a_shell_pipe_works_end_to_end(tmp_path, h):
    """``hrviz load SRC <(cat vectors.tsv) metadata.tsv`` in a real shell: the vectors file is a
    pipe that can be read once."""
    rng = np.random.default_rng(3)
    q, d = rng.normal(size=(h.n, 3)).astype(np.float32), rng.normal(size=(h.n, 3)).astype(np.float32)
    np.savetxt(tmp_path / "vectors.tsv", np.vstack([q, d]), delimiter="\t", fmt="%.9g")
    (tmp_path / "metadata.tsv").write_text("name\tside\n" + "".join(f"{a}\tquery\n" for a in h.names)
                                           + "".join(f"{a}\tdoc\n" for a in h.names))
    cmd = (f"{sys.executable} -m hrviz load '{SOURCE}' <(cat vectors.tsv) metadata.tsv --json "
           f"--db s.duckdb")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(["bash", "-c", cmd], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    res = json.loads(done.stdout.splitlines()[-1])
    for key, value in expected(q, d, h).items():
        assert res[key] == pytest.approx(value, rel=1e-12), key


def test_three_files_are_one_line_too(tmp_path, capsys, h, store):
    before = digest(store.parent)
    files = []
    for name in ("a.tsv", "b.tsv", "c.tsv"):
        (tmp_path / name).write_text("1\t2\n")
        files.append(str(tmp_path / name))
    code = main(["load", SOURCE, *files, "--db", str(store)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.splitlines() == [f"hrviz load: {err.split(': ', 1)[1]}"] and "3 files" in err
    assert digest(store.parent) == before


# ----- mutated files: whatever a byte flip, cut or insertion makes of a valid file ---------------

def _mutate(data: bytes, rng) -> bytes:
    b = bytearray(data)
    for _ in range(int(rng.choice([1, 1, 2, 4, 16]))):
        i, op = int(rng.integers(len(b) + 1)), rng.random()
        if op < 0.5 and i < len(b):
            b[i] = int(rng.integers(256))
        elif op < 0.7:
            b[i:i] = rng.integers(0, 256, int(rng.integers(1, 8)), dtype=np.uint8).tobytes()
        elif op < 0.85:
            del b[i:i + int(rng.integers(1, 64))]
        else:
            b = b[:i]
    return bytes(b)


def test_mutated_files_are_refused_in_one_line_or_loaded(h):
    """1,200 seeded mutations of valid npz (plain and compressed), csv, parquet (flat and lists)
    and projector files: each either loads or raises one InputError of one short line in words;
    no parser exception escapes."""
    from hrviz.errors import InputError
    from hrviz.loaded import read_vectors

    rng = np.random.default_rng(11)
    q, d = rng.normal(size=(h.n, 4)), rng.normal(size=(h.n, 4))
    names = np.array(list(h.names))

    def saved(fn, **kw) -> bytes:
        buf = io.BytesIO()
        fn(buf, **kw)
        return buf.getvalue()

    flat, lists = io.BytesIO(), io.BytesIO()
    table(h, q, d).to_parquet(flat)
    pd.DataFrame({"node": names, "query": list(q), "doc": list(d)}).to_parquet(lists)
    seeds = {"v.npz": saved(np.savez, names=names, query=q, doc=d),
             "c.npz": saved(np.savez_compressed, names=names, query=q, doc=d),
             "v.csv": table(h, q, d).to_csv(index=False).encode(), "v.parquet": flat.getvalue(),
             "l.parquet": lists.getvalue()}
    vec = "".join("\t".join(f"{v:.6g}" for v in row) + "\n" for row in np.vstack([q, d])).encode()
    meta = ("name\tside\n" + "".join(f"{a}\tquery\n" for a in names) + "".join(f"{a}\tdoc\n" for a in names)).encode()
    outcomes = {"loaded": 0, "refused": 0}
    for i in range(1200):
        kind = i % (len(seeds) + 1)
        if kind == len(seeds):
            files = [("vectors.tsv", _mutate(vec, rng)), ("metadata.tsv", meta)] if i % 2 else \
                [("vectors.tsv", vec), ("metadata.tsv", _mutate(meta, rng))]
        else:
            name, data = list(seeds.items())[kind]
            files = [(name, _mutate(data, rng))]
        try:
            read_vectors(h, files, max_distance=1)
            outcomes["loaded"] += 1
        except InputError as err:
            line = f"hrviz load: {err}"
            assert "\n" not in line and len(line) < 200 and not LIBRARY_WORDS.search(line), line
            outcomes["refused"] += 1
    assert outcomes["refused"] > 1000 and outcomes["loaded"] > 0, outcomes
