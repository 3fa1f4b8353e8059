"""Files a user uploads: hierarchy files (kept by hash beside the store, so a run can reload
them) and saved model files of any model kind (registered as finished runs and evaluated).

A hierarchy upload is read as the Hierarchy page's choice says (a name under several parents
merged, or kept apart by parent: :mod:`hrviz.sources.checks`); its warnings are kept for the
page, and a file type the page does not read is refused in words (:func:`refused_type`), not
only by the uploader's red chip."""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

import streamlit as st

from hrviz.errors import InputError
from hrviz.experiment import models_dir, record_model
from hrviz.hierarchy import Hierarchy
from hrviz.kinds import read_model_file
from hrviz.sources import hierarchy_json, parse_upload

from .paths import uploads_dir
from .resources import get_store

_UPLOAD_EXT = re.compile(r"^[a-z0-9]{1,8}$")

#: what the Hierarchy page reads (``.gz`` of any of them too)
HIERARCHY_TYPES = ("csv", "tsv", "txt", "tab", "json", "obo")
#: the readings of a name under several parents, as the Hierarchy page offers them
DUPLICATE_CHOICES = {"merge": "merge them into one node (a DAG)",
                     "by-parent": "keep them apart by parent: x (a), x (b)"}
_WHAT_IT_IS = {  # extension -> what such a file is, for the refusal
    **dict.fromkeys(("png", "jpg", "jpeg", "gif", "bmp", "webp", "svg", "tif", "tiff", "heic"), "an image"),
    "pdf": "a PDF document", **dict.fromkeys(("doc", "docx", "odt", "rtf", "pages"), "a word-processor document"),
    **dict.fromkeys(("xls", "xlsx", "ods", "numbers"), "a spreadsheet: export the sheet as CSV"),
    **dict.fromkeys(("zip", "tar", "7z", "rar", "bz2", "xz"), "an archive: unpack it first"),
    **dict.fromkeys(("npz", "npy", "parquet", "pq"), "vectors or a table: vectors go to the Train page's Load vectors"),
    "safetensors": "a model: load it on the Train page", "duckdb": "a results store",
}


def refused_type(filename: str) -> str | None:
    """Why the Hierarchy page does not read ``filename``, in words; None when it does."""
    suffixes = [s.lstrip(".").lower() for s in Path(filename).suffixes]
    if suffixes and suffixes[-1] == "gz":
        suffixes = suffixes[:-1]
    ext = suffixes[-1] if suffixes else ""
    if ext in HIERARCHY_TYPES:
        return None
    kind = f"a .{ext} file" if ext else "a file without an extension"
    what = _WHAT_IT_IS.get(ext)
    return (f"{kind} is not a hierarchy file" + (f" ({what})" if what else "") + ": the Hierarchy page "
            "reads edge lists (.csv, .tsv, .txt, .tab with child,parent rows), JSON trees (.json) and "
            "OBO ontologies (.obo), each also gzip'd (.gz)")


def upload_ext(filename: str) -> str:
    """``taxonomy.CSV`` -> ``csv``; ``x.tsv.gz`` -> ``tsv.gz``; unusable -> ``txt``."""
    suffixes = [s.lstrip(".").lower() for s in Path(filename).suffixes]
    if suffixes and suffixes[-1] == "gz" and len(suffixes) > 1 and _UPLOAD_EXT.match(suffixes[-2]):
        return f"{suffixes[-2]}.gz"
    if suffixes and _UPLOAD_EXT.match(suffixes[-1]):
        return suffixes[-1]
    return "txt"


def save_upload(data: bytes, filename: str, folder: Path | None = None,
                duplicates: str = "merge") -> tuple[Hierarchy, Path]:
    """Parse an uploaded file and keep it as ``folder/<hierarchy hash>.<ext>``.

    The saved path is a SOURCE string that later pages, runs and the CLI can reload. Raises
    :class:`InputError` (with what was wrong and where) for a file that is not a hierarchy;
    nothing is written then. ``duplicates``: how a name under several parents is read
    (``"merge"`` or ``"by-parent"``); when names were kept apart the hierarchy read is kept as
    JSON (:func:`hrviz.sources.hierarchy_json`), so that its path reloads the same hierarchy.
    """
    h = parse_upload(data, filename, duplicates=duplicates)
    folder = Path(folder) if folder is not None else uploads_dir()
    folder.mkdir(parents=True, exist_ok=True)
    ext = upload_ext(filename)
    if any(w.kind == "kept_apart" for w in h.warnings):  # what was read, not the file: it reads merged
        data, ext = hierarchy_json(h).encode(), "json"
    path = folder / f"{h.hash}.{ext}"
    if path.suffix == ".gz" and data[:2] != b"\x1f\x8b":  # named .gz but sent plain
        data = gzip.compress(data, mtime=0)
    if not path.exists() or path.read_bytes() != data:
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(data)
        tmp.replace(path)
    return h, path


def hierarchy_upload(up, duplicates: str) -> tuple[str | None, str | None, list]:
    """Read the Hierarchy page's upload ``up`` (a Streamlit UploadedFile) once per file and
    choice: ``(error, saved path, warnings)``, error None on success. The original name is
    remembered for display (``upload_names``), the warnings for the page (``upload_warnings``).
    """
    done = st.session_state.get("h_upload_result")
    if done and done[0] == (up.file_id, duplicates):
        return done[1:]
    error, path, warnings = refused_type(up.name), None, []
    if error is None:
        try:
            h, saved = save_upload(up.getvalue(), up.name, uploads_dir(), duplicates=duplicates)
            path, warnings = str(saved), list(h.warnings)
            st.session_state.setdefault("upload_names", {})[path] = up.name
            st.session_state.setdefault("upload_warnings", {})[path] = warnings
        except InputError as err:
            error = str(err)
    st.session_state["h_upload_result"] = ((up.file_id, duplicates), error, path, warnings)
    return error, path, warnings


def warnings_of(source: str, h: Hierarchy) -> list:
    """The warnings to show for the active hierarchy: those of this session's upload of it (they
    name what the upload's choice did), else the hierarchy's own (a file given by path)."""
    return (st.session_state.get("upload_warnings") or {}).get(source, h.warnings)


def _check_model(data: bytes, filename: str, h: Hierarchy, folder: Path):
    """Keep an uploaded model file under ``folder`` when it is an hrviz model of ``h``, of any
    kind (its header names the kind: :func:`hrviz.kinds.read_model_file`)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"uploaded-{hashlib.sha256(data).hexdigest()[:16]}.safetensors"
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    try:
        _, model = read_model_file(tmp)
        model.check_hierarchy(h.hash, where=filename)
        if model.n != h.n:
            raise InputError(f"the model has {model.n:,} nodes, the hierarchy {h.n:,}", where=filename)
    except InputError as err:
        tmp.unlink(missing_ok=True)
        if err.where == str(tmp):  # name the file as the user knows it
            err = InputError(err.message, where=filename, hint=err.hint)
        raise err from None
    tmp.replace(path)
    return model, path


def import_model(data: bytes, filename: str, h: Hierarchy, source: str) -> int:
    """Register an uploaded model file as a finished run on hierarchy ``h`` and evaluate it, as
    the end of a trained run does (:func:`hrviz.experiment.record_model`).

    The file is kept under ``models/`` next to the store. A file that is not an hrviz model, or
    one trained on another hierarchy (its hierarchy hash differs from ``h.hash``), raises
    :class:`InputError` saying so, and nothing is kept.
    """
    store = get_store()
    model, _ = _check_model(data, filename, h, models_dir(store))
    params = {**(model.meta.get("params") or {}), "uploaded_from": filename}
    return record_model(source, model, store, h, params=params, name=f"uploaded {filename}")
