"""Training dual encoders: configuration, loss, optimisers, recipes and the loop.

- :mod:`.config`: :class:`TrainConfig` (every knob, one help text each), :data:`RECIPES`, :data:`REGIMES`;
- :mod:`.loss`: the masked softmax loss and its fused kernel;
- :mod:`.optim`: row-only (lazy) Adam and SGD;
- :mod:`.recipes`: recipes as stages;
- :mod:`.loop`: :func:`fit`, the training loop (numpy on the CPU; the device loop on CUDA);
- :mod:`.device`: devices, the ancestor table, evaluation on the device, sampled evaluation;
- :mod:`.device_train`: the device loop's pieces (samplers, loss, optimisers, one step);
- :mod:`.distributed`: data-parallel training on torch.distributed.
"""

from .config import MASKINGS, NEGATIVES, OPTIMIZERS, PAIR_DRAWS, RECIPES, REGIME_HELP, REGIMES, TrainConfig
from .loop import Callback, TrainResult, apply_threads, fit
from .loss import MaskedSoftmaxCE, SoftmaxLoss
from .optim import RowOptimizer, TorchTableOptimizer, make_optimizer, table_step
from .recipes import Stage, build_stages

__all__ = ["MASKINGS", "NEGATIVES", "OPTIMIZERS", "PAIR_DRAWS", "RECIPES", "REGIME_HELP", "REGIMES",
           "TrainConfig", "Callback", "TrainResult", "apply_threads", "fit", "MaskedSoftmaxCE",
           "SoftmaxLoss", "RowOptimizer", "TorchTableOptimizer", "make_optimizer", "table_step",
           "Stage", "build_stages"]
