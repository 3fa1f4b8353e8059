"""Downloads: one run's tables, or its embeddings as TensorBoard projector files, zipped."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path
from typing import Callable, Iterable

from hrviz.experiment import export_projector

from .resources import get_store, load_hierarchy


def _zipped(write: Callable[[str], Iterable[Path]]) -> bytes:
    """Run ``write(folder)`` in a temporary folder and zip the files it returns."""
    buf = io.BytesIO()
    with tempfile.TemporaryDirectory() as folder:
        paths = write(folder)
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in paths:
                zf.write(path, arcname=Path(path).name)
    return buf.getvalue()


def export_run(run_id: int, fmt: str) -> bytes:
    """One run's tables (runs, metrics, recall, retrievals) as a zip of ``fmt`` files."""
    return _zipped(lambda folder: get_store().export(int(run_id), folder, fmt))


def projector_export(run_id: int) -> bytes:
    """The run's embeddings as TensorBoard projector files (vectors.tsv, metadata.tsv), zipped."""
    store = get_store()
    h = load_hierarchy(store.run(int(run_id))["source"])
    return _zipped(lambda folder: export_projector(store, int(run_id), folder, hierarchy=h))
