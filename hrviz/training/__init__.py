"""Training dual encoders: configuration, loss, optimisers, recipes and the loop, one stack on
every torch device.

- :mod:`.config`: :class:`TrainConfig` (every knob, one help text each), :data:`REGIMES`;
- :mod:`.recipes`: the recipe registry (:data:`RECIPES`; an unknown name fails) and recipes as stages;
- :mod:`.loss`: the masked softmax loss, its columns and its fused kernel;
- :mod:`.optim`: row-only (lazy) Adam, SGD, dense Adam and Adagrad; one training step;
- :mod:`.loop`: :func:`fit`, the training loop (CPU, CUDA, data-parallel);
- :mod:`.device`: devices, the ancestor table, evaluation on the device, sampled evaluation;
- :mod:`.distributed`: data-parallel training on torch.distributed.

The samplers the stages draw from are those of :mod:`hrviz.pairs`.
"""

from .config import MASKINGS, NEGATIVES, OPTIMIZERS, PAIR_DRAWS, REGIME_HELP, REGIMES, TrainConfig
from .loop import Callback, TrainResult, apply_threads, fit
from .loss import Columns, MaskedSoftmaxCE, SoftmaxLoss
from .optim import RowOptimizer, TorchTableOptimizer, frozen, make_optimizer, table_step
from .recipes import RECIPES, Recipe, Stage, build_stages, recipe

__all__ = ["MASKINGS", "NEGATIVES", "OPTIMIZERS", "PAIR_DRAWS", "RECIPES", "REGIME_HELP", "REGIMES",
           "TrainConfig", "Callback", "TrainResult", "apply_threads", "fit", "Columns", "MaskedSoftmaxCE",
           "SoftmaxLoss", "RowOptimizer", "TorchTableOptimizer", "frozen", "make_optimizer", "table_step",
           "Recipe", "Stage", "build_stages", "recipe"]
