"""What a model kind implements so that :mod:`hrviz.experiment` can run it: :class:`ModelKind`.

A run of any kind goes through one pipeline (:func:`hrviz.experiment.run_training`):

1. ``cfg = kind.resolved(cfg, h)``: the config checked (an :class:`~hrviz.errors.InputError` for
   bad input) and completed for hierarchy ``h``: the one validation path, called by the pipeline;
2. ``row = kind.run_row(cfg, h)``: what the run row records (recipe, dim, seed, params, with
   ``params["model"] == kind.name``);
3. ``fitted = kind.fit(h, cfg, callback=..., stop=...)``: the trained model (:class:`Fitted`); the
   callback takes the training events (``loss``, ``recall``, ``stage``, ``checkpoint``) that
   :func:`hrviz.experiment.event_logger` writes to the store;
4. ``final = kind.final(h, params, fitted.model)``: the final evaluation (:class:`Final`), the
   same one ``hrviz eval`` repeats on the stored model;
5. the pipeline saves ``fitted.model`` (``models/run-ID.safetensors``), logs the final recall
   rows and the retrieval lists, and closes the run with the summary.

``kind.load(path)`` reads a stored run's model file back. A model is anything with
``query_vectors()``, ``doc_vectors()`` (numpy (n, d)), ``save(path, hierarchy_hash=, source=,
params=)`` and ``check_hierarchy(hash, where)``; :class:`~hrviz.models.dual_encoder.DualEncoder`
(``from_vectors`` wraps any pair of vector tables) and :class:`~hrviz.models.poincare.PoincareModel`
are the two there are.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

from ..closure import Closure
from ..evaluate import Evaluation
from ..hierarchy import Hierarchy

Callback = Callable[[dict], None]


@dataclass
class RunRow:
    """What the run row records: recipe, dim, seed and params (with ``params["model"]``)."""

    recipe: str
    dim: int
    seed: int
    params: dict


@dataclass
class Fitted:
    """A fit's outcome: ``model`` (what is saved and evaluated), ``step`` (the last training step
    or epoch: the step of the final rows), ``stopped`` (ended by the stop event), ``summary``
    (the kind's own summary fields, e.g. ``train_seconds``) and ``extra_files`` (optional: writes
    files beside the model file, called with its path and ``{hierarchy_hash, source, run_id}``)."""

    model: Any
    step: int = 0
    stopped: bool = False
    summary: dict = field(default_factory=dict)
    extra_files: Callable[[Path, dict], None] | None = None


@dataclass
class Final:
    """A final evaluation: ``evaluation`` (the run's figures, stage ``final``), ``split`` (``all``,
    or ``heldout`` when only held-out pairs or nodes count), ``closure`` (the relevant sets, which
    the retrieval lists mark), ``seen`` (text towers with held-out nodes: the seen queries,
    stage ``final-seen``) and ``summary`` (extra summary fields)."""

    evaluation: Evaluation
    split: str
    closure: Closure
    seen: Evaluation | None = None
    summary: dict = field(default_factory=dict)


class ModelKind(Protocol):
    """One model kind (the registry :data:`hrviz.kinds.KINDS` maps ``name`` to it)."""

    name: str           # what params["model"] records
    title: str          # display name
    config_type: type   # the config the kind takes (TrainConfig, PoincareConfig, ...)

    def resolved(self, cfg: Any, h: Hierarchy) -> Any:
        """``cfg`` checked and completed for ``h``; InputError for bad input."""

    def run_row(self, cfg: Any, h: Hierarchy) -> RunRow:
        """The run row of a resolved config."""

    def fit(self, h: Hierarchy, cfg: Any, *, callback: Callback, stop: threading.Event | None) -> Fitted:
        """Train (or build) the model of a resolved config."""

    def final(self, h: Hierarchy, params: dict, model: Any, *, k: str | int = "auto",
              device: str | None = None) -> Final:
        """The final evaluation of ``model`` as a run with ``params`` counts it, on ``device``
        (None: the CPU; the pipeline passes the device the run trained on)."""

    def load(self, path: str | Path) -> Any:
        """The model of a stored run's file."""
