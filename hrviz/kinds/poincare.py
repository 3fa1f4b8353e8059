"""The Poincaré ball (Nickel & Kiela 2017) as a run kind: :data:`POINCARE`.

Config :class:`~hrviz.models.poincare_fit.PoincareConfig`, fit
:func:`~hrviz.models.poincare_fit.fit_poincare`, model :class:`~hrviz.models.poincare.PoincareModel`.
The run row: recipe ``standard``, or ``pretrain-finetune`` with a finetune stage; ``params`` =
``model``, ``dim``, ``seed``, ``max_distance`` and the whole config under ``poincare``. The final
evaluation ranks the lifted d + 2 features (:mod:`hrviz.models.poincare`) on all pairs, so
``hrviz eval``, Results and the query inspector read a Poincaré run like any other. Metrics are
logged per epoch (``step`` = epoch): ``loss`` with ``progress`` (0..1 of all epochs) and
``eta_seconds``, and each stage's ``lr``.

Its settings (``hrviz train --model poincare``, the Train page): ``--epochs``, ``--burn-in``,
``--finetune-epochs``; ``train``'s ``--dim`` (default 10 here), ``--seed``, ``--max-distance``,
and where given ``--lr``, ``--batch-size``, ``--finetune-lr-ratio`` and ``--threads`` (default 1).
"""

from __future__ import annotations

from dataclasses import asdict

from .base import Final, Fitted, RunRow, Setting


def epoch_events(cfg, callback):
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


#: train's shared flags that a Poincaré config takes where given -> its field
SHARED_FLAGS = (("lr", "lr"), ("batch_size", "batch"), ("finetune_lr_ratio", "finetune_lr_ratio"))


class PoincareKind:
    name = "poincare"
    title = "Poincaré ball"
    summary = ("one table of points in the hyperbolic unit ball (Nickel & Kiela 2017), "
               "score = minus the hyperbolic distance")
    trainable = True
    uses_training = False
    run_titles = (title,)

    @property
    def config_type(self) -> type:
        from ..models.poincare_fit import PoincareConfig

        return PoincareConfig

    @property
    def settings(self) -> tuple[Setting, ...]:
        base = self.config_type()
        return (
            Setting("dim", "Dimension d", "dimension of the ball; d = 2 draws the Poincaré disk on the "
                    "Embeddings page", low=1, high=512, start=lambda h: 2 if h.n <= 1000 else 10, cli=False),
            Setting("epochs", "Epochs", "regular epochs over all ancestor pairs, after the burn-in",
                    low=1, high=10_000, default=base.epochs),
            Setting("burn_in", "Burn-in epochs", f"epochs at lr x {base.burn_in_lr_ratio:g} with degree-weighted "
                    "negatives before the regular ones (Nickel & Kiela 2017)", low=0, high=1_000, default=base.burn_in),
            Setting("finetune_epochs", "Finetune epochs", "0: off. Otherwise pretrain-finetune: more epochs on "
                    f"the pairs of distance >= {base.finetune_min_distance} only, at lr x "
                    f"{base.finetune_lr_ratio:g}, keeping the best checkpoint by recall",
                    low=0, high=10_000, default=base.finetune_epochs),
            Setting("seed", "Seed", "seed of the initial points and the sampling", low=0, high=2**31 - 1,
                    start=0, cli=False),
        )

    def config(self, values: dict, h, train=None):
        kw = {"max_distance": values.get("max_distance")}
        for key in ("dim", "seed", "epochs", "burn_in", "finetune_epochs"):
            if values.get(key) is not None:
                kw[key] = int(values[key])
        for flag, key in SHARED_FLAGS:
            if values.get(flag) is not None:
                kw[key] = values[flag]
        if "threads" in values:  # the command line: one torch thread unless --threads says more
            kw["threads"] = values["threads"] or 1
        return self.config_type(**kw)

    def plan(self, cfg, h) -> str:
        return (f"Plan: {cfg.burn_in} burn-in + {cfg.epochs} epochs"
                + (f" + {cfg.finetune_epochs} finetune epochs (pretrain-finetune)" if cfg.finetune_epochs else "")
                + f", Riemannian SGD at lr {cfg.lr:g}, batch {cfg.batch}, {cfg.negatives} negatives "
                f"(hierarchy-masked), pairs up to distance {min(cfg.max_distance or h.max_depth, h.max_depth)}; "
                "score = minus the hyperbolic distance.")

    def run_title(self, params: dict) -> str:
        return self.title

    def result(self, run: dict) -> dict:
        return {}

    def resolved(self, cfg, h):
        return cfg.resolved(h)

    def run_row(self, cfg, h) -> RunRow:
        recipe = "pretrain-finetune" if cfg.finetune_epochs else "standard"
        return RunRow(recipe, cfg.dim, cfg.seed, {"model": self.name, "dim": cfg.dim, "seed": cfg.seed,
                                                  "max_distance": cfg.max_distance, "poincare": asdict(cfg)})

    def fit(self, h, cfg, *, callback, stop) -> Fitted:
        from ..models.poincare_fit import fit_poincare

        result = fit_poincare(h, cfg, callback=epoch_events(cfg, callback), stop=stop)
        last = max([e.get("epoch", 0) for e in result.history] + [0])
        return Fitted(result.model, last, result.stopped,
                      {"train_seconds": result.seconds, "best_epoch": result.best_epoch, "model": self.name})

    def final(self, h, params: dict, model, *, k="auto", device=None) -> Final:
        from ..evaluate import evaluate

        closure = h.closure(params.get("max_distance"))
        return Final(evaluate(model.query_vectors(), model.doc_vectors(), closure, k=k), "all", closure)

    def load(self, path):
        from ..models.poincare import PoincareModel

        return PoincareModel.load(path)


POINCARE = PoincareKind()
