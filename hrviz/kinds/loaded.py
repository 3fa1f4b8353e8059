"""Vectors made elsewhere as a run kind: :data:`LOADED` (``params["model"] == "loaded"``).

Config :class:`~hrviz.loaded.LoadedVectors` (read and checked by :func:`hrviz.loaded.read_vectors`);
fit wraps them, as given and unnormalised, in a :class:`~hrviz.models.dual_encoder.DualEncoder`
(scores are their dot products); the final evaluation counts every pair within the run's
distance cap (``max_distance``, recorded in the run's params as a trained run records it, so a
trained run's exported vectors loaded back with its cap read the same numbers). Nothing trains,
so the run has no ``loss`` or validation rows: only stage ``final``.
"""

from __future__ import annotations

from ..errors import InputError
from ..evaluate import evaluate
from ..loaded import KIND, LoadedVectors, check_cap
from ..models.dual_encoder import DualEncoder
from .base import Final, Fitted, RunRow


class LoadedKind:
    name = KIND
    title = "user vectors"
    config_type = LoadedVectors

    def resolved(self, cfg: LoadedVectors, h) -> LoadedVectors:
        if cfg.query.shape != (h.n, cfg.dim) or cfg.doc.shape != cfg.query.shape:
            raise InputError(f"vectors of shape {cfg.query.shape} for a hierarchy of {h.n:,} nodes",
                             hint="read them with hrviz.loaded.read_vectors against this hierarchy")
        cfg.max_distance = check_cap(cfg.max_distance, h)  # before the run row exists
        return cfg

    def run_row(self, cfg: LoadedVectors, h) -> RunRow:
        return RunRow(KIND, cfg.dim, 0, {"model": KIND, "recipe": KIND, "dim": cfg.dim, "seed": 0,
                                         "max_distance": cfg.max_distance, "format": cfg.format,
                                         "files": cfg.files, "symmetric": cfg.symmetric, "normalize": False})

    def fit(self, h, cfg: LoadedVectors, *, callback, stop) -> Fitted:
        return Fitted(DualEncoder.from_vectors(cfg.query, cfg.doc, normalize=False))

    def final(self, h, params: dict, model, *, k="auto", device=None) -> Final:
        closure = h.closure(params.get("max_distance"))
        return Final(evaluate(model.query_vectors(), model.doc_vectors(), closure, k=k), "all", closure)

    def load(self, path) -> DualEncoder:
        return DualEncoder.load(path)


LOADED = LoadedKind()
