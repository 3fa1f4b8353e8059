"""What a model kind implements, from the front ends to the store: :class:`ModelKind`.

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

``kind.load(path)`` reads a model file the kind wrote: a stored run's, or one a user uploads
(:func:`hrviz.kinds.read_model_file` picks the kind from the file's header). A model is anything
with ``n``, ``dim``, ``query_vectors()``, ``doc_vectors()`` (numpy (n, d)), ``save(path,
hierarchy_hash=, source=, params=)`` and ``check_hierarchy(hash, where)``;
:class:`~hrviz.models.dual_encoder.DualEncoder` (``from_vectors`` wraps any pair of vector tables)
and :class:`~hrviz.models.poincare.PoincareModel` are the two there are.

What the front ends need of a kind is here too, so that ``hrviz train``, the Train page, uploads
and chart titles iterate :data:`hrviz.kinds.KINDS` and know no kind by name: its ``title`` and
``summary``; its :class:`Setting` list (a flag of ``hrviz train`` and a widget of the Train page
each) and :meth:`ModelKind.config`, which turns their values into the kind's config;
:meth:`~ModelKind.plan`, :meth:`~ModelKind.run_title` and :meth:`~ModelKind.result` for what is
shown of a config and of a run.

Imports: a kind's module imports its model and its fit (torch) inside the methods that need them,
so :mod:`hrviz.kinds`, and the charts and pages that name kinds, load without torch.
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


@dataclass(frozen=True)
class Setting:
    """One knob of a model kind that both front ends ask for: the flag ``--NAME`` of
    ``hrviz train`` (underscores as dashes) and a widget on the Train page. The values go to
    :meth:`ModelKind.config` under ``name``; the config's ``resolved`` checks them.

    Args:
        name: str, the value's key (the CLI's ``dest``; the widget's key is ``t_KIND_NAME``).
        label: str, the widget's label.
        help: str, the flag's and the widget's help.
        type: type (optional, default int), ``int``, ``float``, ``str`` or ``bool`` (a toggle;
            ``--NAME/--no-NAME`` on the command line).
        default: (optional, default None) the command line's default (None: the kind's own), and
            the widget's first value unless ``start`` is given.
        start: (optional) the widget's first value where it differs from ``default``; a callable
            takes the hierarchy (the widget then starts again on another hierarchy).
        low, high, step: numbers (optional), the widget's range and step.
        choices: dict (optional), label -> value: the widget offers these; the command line takes
            the values, or any text when ``open``.
        open: bool (optional, default False), the command line takes values beyond ``choices``.
        slider: bool (optional, default False), a slider over [low, high] instead of a number box.
        off_when: str (optional), the name of a bool setting that disables this widget while on.
        picks: bool (optional, default False), given on the command line (a value other than
            ``default``) without ``--model``, it picks this kind.
        cli, page: bool (optional, default True), whether the command line / the Train page asks
            for it (a setting the front end asks for anyway, e.g. ``--dim``, is ``cli=False``).
    """

    name: str
    label: str
    help: str
    type: type = int
    default: Any = None
    start: Any = None
    low: float | None = None
    high: float | None = None
    step: float | None = None
    choices: dict | None = None
    open: bool = False
    slider: bool = False
    off_when: str | None = None
    picks: bool = False
    cli: bool = True
    page: bool = True

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def first_value(self, h: Hierarchy | None) -> Any:
        """The widget's first value on ``h``: ``start`` (called with ``h``) or ``default``."""
        if callable(self.start):
            return self.start(h)
        return self.default if self.start is None else self.start


class ModelKind(Protocol):
    """One model kind (the registry :data:`hrviz.kinds.KINDS` maps ``name`` to it)."""

    name: str            # what params["model"] records; `hrviz train --model NAME`
    title: str           # display name: charts, run lists, the Train page's model choice
    summary: str         # one line: what the model is (help of --model and of the model choice)
    trainable: bool      # offered by `hrviz train` and the Train page (False: made elsewhere)
    uses_training: bool  # its config takes hrviz.training's TrainConfig (train's hyper-parameters,
                         # the Train page's training settings)
    settings: tuple[Setting, ...]   # its own knobs, beyond TrainConfig's
    run_titles: tuple[str, ...]     # every name run_title gives (chart legends)
    config_type: type    # the config the kind takes (TrainConfig, PoincareConfig, ...)

    def config(self, values: dict, h: Hierarchy, train: Any = None) -> Any:
        """The config of front-end ``values`` (``vars(args)`` of ``hrviz train``, or the Train
        page's widgets; keys: the settings' names, ``max_distance`` and, on the command line,
        every train flag) on ``h``; ``train``: the TrainConfig the front end built, when the kind
        ``uses_training`` (None where its settings are not valid). InputError for bad values."""

    def plan(self, cfg: Any, h: Hierarchy) -> str:
        """One line on what a resolved config will do ('' when the training plan says it all)."""

    def run_title(self, params: dict) -> str:
        """The display name of a run of this kind with ``params`` (one of ``run_titles``)."""

    def result(self, run: dict) -> dict:
        """The kind's own fields of a stored run's ``--json`` object (``model`` is added)."""

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
        """The model of a file this kind wrote (a stored run's, or an uploaded one)."""


def given(values: dict, setting: Setting) -> bool:
    """Whether ``values`` hold a value of ``setting`` other than its default (None counts as not
    given): how ``hrviz train`` tells the flags a user typed."""
    value = values.get(setting.name)
    return value is not None and value != setting.default
