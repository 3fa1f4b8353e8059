"""Model kinds and their registry: everything that differs between kinds, from the front ends
(``hrviz train``, the Train page, uploads, chart titles) to the store.

:data:`KINDS` maps a kind's name (what a run's ``params["model"]`` records) to its
implementation of :class:`~hrviz.kinds.base.ModelKind`:

- ``dual-encoder``: two lookup tables, the paper's model (:mod:`.tables`); also the kind of a
  stored run that records none (:data:`DEFAULT`: runs made before kinds were recorded);
- ``poincare``: the Poincaré ball (:mod:`.poincare`);
- ``text``: frozen text encoders, zero-shot or with trained towers (:mod:`.text`);
- ``loaded``: vectors made elsewhere, read from the user's files (:mod:`.loaded`).

:func:`kind_for_config` picks the kind of a config (by its type), :func:`kind_of` the kind of a
stored run (by its params), :func:`read_model_file` the kind and model of a model file (by its
header: an uploaded file). Adding a kind: one module here and one line in :data:`KINDS`
(docs/architecture.md, "How to add a model kind"). Nothing here imports torch until a kind's
config, fit or model is asked for.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..store import RunParams
from .base import Final, Fitted, ModelKind, RunRow, Setting
from .loaded import LOADED
from .poincare import POINCARE
from .tables import TABLES
from .text import TEXT

KINDS: dict[str, ModelKind] = {k.name: k for k in (TABLES, POINCARE, TEXT, LOADED)}
#: the kind of a run whose params record none, and of ``hrviz train`` without ``--model``
DEFAULT: ModelKind = TABLES
RunParams.unrecorded_kind = DEFAULT.name  # the store reads kinds; this registry names them


def kind_for_config(cfg) -> ModelKind:
    """The kind whose ``config_type`` ``cfg`` is; an InputError for anything else."""
    for kind in KINDS.values():
        if isinstance(cfg, kind.config_type):
            return kind
    raise InputError(f"no model kind takes a {type(cfg).__name__}",
                     hint="one of " + ", ".join(k.config_type.__name__ for k in KINDS.values()))


def kind_of(params) -> ModelKind:
    """The kind of a stored run from its params (dict, JSON text or None; :class:`RunParams`)."""
    name = RunParams.parse(params).kind
    if name not in KINDS:
        raise InputError(f"unknown model kind {name!r}", hint="one of " + ", ".join(KINDS))
    return KINDS[name]


def run_title(params) -> str:
    """The display name of a stored run's model (its kind's :meth:`~ModelKind.run_title`); an
    unknown kind's name as it is."""
    params = RunParams.parse(params)
    kind = KINDS.get(params.kind)
    return params.kind if kind is None else kind.run_title(params)


def trainable() -> list[ModelKind]:
    """The kinds ``hrviz train`` and the Train page offer, in registry order."""
    return [k for k in KINDS.values() if k.trainable]


def read_model_file(path: str | Path) -> tuple[ModelKind, object]:
    """The kind and the model of a model file, the kind read from the params in its header
    (``params["model"]``, as every run's file records them): what an uploaded file is. InputError
    for a file that is no hrviz model, or that its kind cannot read."""
    from ..models.files import model_file_params

    kind = kind_of(model_file_params(path))
    return kind, kind.load(path)


__all__ = ["DEFAULT", "KINDS", "Final", "Fitted", "ModelKind", "RunRow", "Setting", "kind_for_config",
           "kind_of", "read_model_file", "run_title", "trainable"]
