"""Model kinds and their registry: what :mod:`hrviz.experiment` needs to run a model of any kind.

:data:`KINDS` maps a kind's name (what a run's ``params["model"]`` records) to its
implementation of :class:`~hrviz.kinds.base.ModelKind`:

- ``dual-encoder``: lookup tables, the paper's model (:mod:`.tables`);
- ``poincare``: the Poincaré ball (:mod:`.poincare`);
- ``text``: frozen text encoders, zero-shot or with trained towers (:mod:`.text`);
- ``loaded``: vectors made elsewhere, read from the user's files (:mod:`.loaded`).

:func:`kind_for_config` picks the kind of a config (by its type), :func:`kind_of` the kind of a
stored run (by its params). Adding a kind: one module here and one line in :data:`KINDS`
(docs/architecture.md, "How to add a model kind").
"""

from __future__ import annotations

from ..errors import InputError
from ..store import RunParams
from .base import Final, Fitted, ModelKind, RunRow
from .loaded import LOADED
from .poincare import POINCARE
from .tables import TABLES
from .text import TEXT

KINDS: dict[str, ModelKind] = {k.name: k for k in (TABLES, POINCARE, TEXT, LOADED)}


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


__all__ = ["KINDS", "Final", "Fitted", "ModelKind", "RunRow", "kind_for_config", "kind_of"]
