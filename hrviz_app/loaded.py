"""The Train page's "Load vectors": uploaded query/document vectors become a run of model kind
``loaded`` on the active hierarchy, with its distance cap (the one set on the Hierarchy page,
``st.session_state["max_distance"]``), so a run exported from Results and loaded back reads the
same numbers. Formats and checks: :mod:`hrviz.loaded`; every refusal is one line in an error
box, never an exception."""

from __future__ import annotations

import streamlit as st

from hrviz.errors import InputError
from hrviz.experiment import run_training
from hrviz.hierarchy import Hierarchy
from hrviz.loaded import read_vectors

from .resources import get_store

#: what the uploader accepts (one file, or a projector pair of two)
TYPES = ["tsv", "txt", "csv", "parquet", "pq", "npz"]
HELP = ("One file: an .npz (names, query, doc; or names, vectors), a .csv/.parquet table (node, "
        "q0..q{d-1}, d0..d{d-1}; or node, v0..v{d-1}; parquet also node, query, doc as lists). Or two "
        "files: a TensorBoard projector pair, vectors.tsv + metadata.tsv with columns name and side "
        "(query/doc), as the Results page's projector export writes it. Node names are the hierarchy's.")


def import_vectors(files: list[tuple[str, bytes]], h: Hierarchy, source: str, *,
                   max_distance: int | None = None) -> int:
    """Validate uploaded ``(name, bytes)`` files for ``h`` and store them as a finished run with
    distance cap ``max_distance``; returns its id. Bad files raise :class:`InputError` and
    nothing is written."""
    vectors = read_vectors(h, files, max_distance=max_distance)
    return run_training(source, vectors, get_store(), hierarchy=h, name="loaded " + " + ".join(vectors.files))


def cap_text(h: Hierarchy, cap: int | None) -> str:
    """Which pairs a loaded run counts, in words."""
    if cap is None or cap >= h.max_depth:
        return "every ancestor is relevant (no distance cap)"
    return f"pairs up to distance {cap} (the cap set on the Hierarchy page)"


def vectors_upload(h: Hierarchy, source: str, title: str) -> None:
    """The uploader (one or two files) and its outcome: a success line with the new active run,
    or an error box, the previous active run kept."""
    ups = st.file_uploader("Your own vectors: one .npz/.csv/.parquet, or vectors.tsv + metadata.tsv",
                           type=TYPES, accept_multiple_files=True, key="t_vectors", help=HELP)
    cap = st.session_state.get("max_distance")
    st.caption(f"Evaluated like a run trained here: {cap_text(h, cap)}.")
    if not ups:
        return
    key = tuple(u.file_id for u in ups)  # one try per upload: the cap and hierarchy of that moment
    done = st.session_state.get("t_vectors_result")
    if not done or done[0] != key:
        try:
            new_id = import_vectors([(u.name, u.getvalue()) for u in ups], h, source, max_distance=cap)
            done = (key, None, new_id)
            st.session_state["run_id"] = new_id
        except InputError as err:
            done = (key, str(err), None)
        st.session_state["t_vectors_result"] = done
        if done[2] is not None:
            st.rerun()
    names = " + ".join(f"**{u.name}**" for u in ups)
    if done[1]:
        st.error(f"Cannot load {names}: {done[1]}")
    else:
        row = get_store().run(done[2])
        st.success(f"Loaded {names} as run #{done[2]} (d={row['dim']}, evaluated on `{title}`: overall "
                   f"{row['overall']:.1%}, min {row['min']:.1%}); Results, Query inspector and Embeddings show it.")
