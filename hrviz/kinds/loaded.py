"""Vectors made elsewhere as a run kind: :data:`LOADED` (``params["model"] == "loaded"``).

Config :class:`~hrviz.loaded.LoadedVectors` (read and checked by :func:`hrviz.loaded.read_vectors`:
:meth:`LoadedKind.config` with ``{"files": [...]}``, as ``hrviz load`` and the Train page's "Load
vectors" call it); fit wraps them, as given and unnormalised, in a
:class:`~hrviz.models.dual_encoder.DualEncoder` (scores are their dot products); the final
evaluation counts every pair within the run's distance cap (``max_distance``, recorded in the
run's params as a trained run records it, so a trained run's exported vectors loaded back with its
cap read the same numbers). Nothing trains (``trainable`` is
False: ``hrviz train`` and the Train page's model choice leave it out), so the run has no
``loss`` or validation rows: only stage ``final``.
"""

from __future__ import annotations

from ..errors import InputError
from .base import Final, Fitted, RunRow


class LoadedKind:
    name = "loaded"
    title = "user vectors"
    summary = "query and document vectors made elsewhere, read from your files and evaluated as they are"
    trainable = False
    uses_training = False
    settings = ()
    run_titles = (title,)

    @property
    def config_type(self) -> type:
        from ..loaded import LoadedVectors

        return LoadedVectors

    def config(self, values: dict, h, train=None):
        """The vectors of ``values["files"]`` (paths or ``(name, bytes)`` pairs) for ``h`` with
        distance cap ``values["max_distance"]``, every check done (:func:`hrviz.loaded.read_vectors`)."""
        from ..loaded import read_vectors

        return read_vectors(h, values["files"], max_distance=values.get("max_distance"))

    def plan(self, cfg, h) -> str:
        return (f"loaded {cfg.format} vectors ({'one per node' if cfg.symmetric else 'query + doc'}, d={cfg.dim}) "
                f"for {h.n:,} nodes" + (f", pairs up to distance {cfg.max_distance}" if cfg.max_distance is not None
                                        else ""))

    def run_title(self, params: dict) -> str:
        return self.title

    def result(self, run: dict) -> dict:
        p = run["params"]
        return {"format": p.get("format"), "symmetric": p.get("symmetric"), "files": p.get("files"),
                "max_distance": p.get("max_distance")}

    def resolved(self, cfg, h):
        if cfg.query.shape != (h.n, cfg.dim) or cfg.doc.shape != cfg.query.shape:
            raise InputError(f"vectors of shape {cfg.query.shape} for a hierarchy of {h.n:,} nodes",
                             hint="read them with hrviz.loaded.read_vectors against this hierarchy")
        from ..loaded import check_cap

        cfg.max_distance = check_cap(cfg.max_distance, h)  # before the run row exists
        return cfg

    def run_row(self, cfg, h) -> RunRow:
        return RunRow(self.name, cfg.dim, 0, {"model": self.name, "recipe": self.name, "dim": cfg.dim, "seed": 0,
                                              "max_distance": cfg.max_distance, "format": cfg.format,
                                              "files": cfg.files, "symmetric": cfg.symmetric, "normalize": False})

    def fit(self, h, cfg, *, callback, stop) -> Fitted:
        from ..models.dual_encoder import DualEncoder

        return Fitted(DualEncoder.from_vectors(cfg.query, cfg.doc, normalize=False))

    def final(self, h, params: dict, model, *, k="auto", device=None) -> Final:
        from ..evaluate import evaluate

        closure = h.closure(params.get("max_distance"))
        return Final(evaluate(model.query_vectors(), model.doc_vectors(), closure, k=k), "all", closure)

    def load(self, path):
        from ..models.dual_encoder import DualEncoder

        return DualEncoder.load(path)


LOADED = LoadedKind()
