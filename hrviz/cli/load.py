"""CLI command ``load``: your own vectors as a run (:mod:`hrviz.loaded` has the formats).

    python -m hrviz load SOURCE FILE [FILE2] [--max-distance N] [--json] [--db PATH] [--name NAME]

FILE is an ``.npz`` (names, query, doc), a ``.csv``/``.parquet`` table (node, q0.., d0..), or
with FILE2 a TensorBoard projector pair (vectors.tsv metadata.tsv, as ``hrviz export --format
projector`` writes it). Each file is read once (a pipe works: ``<(cat vectors.tsv)``).
``--max-distance`` is the run's distance cap, as for ``train``: give a trained run's cap to
read its exported vectors with the same numbers. Everything is validated before the run is
created: bad input writes nothing to the store, prints one line and exits 2.
"""

from __future__ import annotations

from ..kinds.loaded import LOADED
from ..sources import load_source
from .options import add_db
from .train import store_and_report


def register(sub) -> None:
    p = sub.add_parser("load", help="load your own query/document vectors as a run, evaluated and stored",
                       description="Read vectors made elsewhere, check them against the hierarchy, evaluate "
                                   "them exactly and store them as a run (model kind 'loaded'). Formats: a "
                                   "projector pair vectors.tsv + metadata.tsv (columns name, side); a .csv or "
                                   ".parquet table with columns node, q0..q{d-1}, d0..d{d-1} (or node, "
                                   "v0..v{d-1}: one vector per node for both sides; parquet also node, query, "
                                   "doc as lists); an .npz with names, query, doc (or names, vectors). Each file "
                                   "is read once, so a pipe works (<(cat vectors.tsv)); files or streams over "
                                   "2 GiB are refused ($HRVIZ_LOAD_MAX_BYTES sets the limit in bytes), and so "
                                   "are vectors whose dot products float32 cannot hold (scale them).")
    p.add_argument("source", help="the hierarchy the vectors belong to: tree:H=4,W=5 | dag:... | wordnet | "
                                  "wordnet:SYNSET | FILE")
    p.add_argument("file", metavar="FILE", help="an .npz/.csv/.parquet file, or a projector vectors.tsv")
    p.add_argument("file2", metavar="FILE2", nargs="*", default=[],
                   help="with a projector vectors.tsv: its metadata.tsv (either order)")  # more: one line, exit 2
    p.add_argument("--max-distance", type=int, default=None,
                   help="cap on ancestor distance, as for train (default: every ancestor); a trained run's "
                        "cap reads its exported vectors with the same numbers")
    p.add_argument("--name", default=None, help="a free-text name for the run")
    add_db(p)
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.set_defaults(func=cmd_load)


def cmd_load(args) -> int:
    h = load_source(args.source)
    files = [args.file, *args.file2]
    vectors = LOADED.config({"files": files, "max_distance": args.max_distance}, h)  # every check before the store
    return store_and_report(args, LOADED, vectors, h)
