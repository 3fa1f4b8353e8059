"""The Poincaré ball (Nickel & Kiela 2017) as a run kind: :data:`POINCARE`.

Config :class:`~hrviz.models.poincare_fit.PoincareConfig`, fit
:func:`~hrviz.models.poincare_fit.fit_poincare`, model :class:`~hrviz.models.poincare.PoincareModel`.
The run row: recipe ``standard``, or ``pretrain-finetune`` with a finetune stage; ``params`` =
:meth:`PoincareConfig.params` (``model: "poincare"``). The final evaluation ranks the lifted
d + 2 features (:mod:`hrviz.models.poincare`) on all pairs, so ``hrviz eval``, Results and the
query inspector read a Poincaré run like any other. Metrics are logged per epoch (``step`` =
epoch): ``loss`` with ``progress`` (0..1 of all epochs) and ``eta_seconds``, and each stage's ``lr``.
"""

from __future__ import annotations

from ..evaluate import evaluate
from ..models.poincare import PoincareModel
from ..models.poincare_fit import PoincareConfig, fit_poincare
from .base import Final, Fitted, RunRow


def epoch_events(cfg: PoincareConfig, callback):
    """A :func:`fit_poincare` callback that hands ``callback`` the events every kind logs: a
    ``loss`` per epoch with ``step`` (the epoch), ``progress`` and ``eta_seconds``; a ``stage``
    at step 0; the finetune's validation recall as ``validation`` (it counts no hits to log)."""
    total = max(1, cfg.burn_in + cfg.epochs + cfg.finetune_epochs)

    def on_event(e: dict) -> None:
        if e["kind"] == "loss":
            eta = e["seconds"] / e["epoch"] * (total - e["epoch"]) if e["epoch"] else 0.0
            e = {**e, "step": e["epoch"], "progress": min(1.0, e["epoch"] / total), "eta_seconds": max(0.0, eta)}
        elif e["kind"] == "stage":
            e = {**e, "step": 0}
        elif e["kind"] == "recall":
            e = {**e, "kind": "validation", "step": e["epoch"]}
        callback(e)
    return on_event


class PoincareKind:
    name = "poincare"
    title = "Poincaré"
    config_type = PoincareConfig

    def resolved(self, cfg: PoincareConfig, h) -> PoincareConfig:
        return cfg.resolved(h)

    def run_row(self, cfg: PoincareConfig, h) -> RunRow:
        recipe = "pretrain-finetune" if cfg.finetune_epochs else "standard"
        return RunRow(recipe, cfg.dim, cfg.seed, cfg.params())

    def fit(self, h, cfg: PoincareConfig, *, callback, stop) -> Fitted:
        result = fit_poincare(h, cfg, callback=epoch_events(cfg, callback), stop=stop)
        last = max([e.get("epoch", 0) for e in result.history] + [0])
        return Fitted(result.model, last, result.stopped,
                      {"train_seconds": result.seconds, "best_epoch": result.best_epoch, "model": self.name})

    def final(self, h, params: dict, model, *, k="auto", device=None) -> Final:
        closure = h.closure(params.get("max_distance"))
        return Final(evaluate(model.query_vectors(), model.doc_vectors(), closure, k=k), "all", closure)

    def load(self, path) -> PoincareModel:
        return PoincareModel.load(path)


POINCARE = PoincareKind()
