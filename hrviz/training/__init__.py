"""Training dual encoders: configuration, loss, optimisers, recipes and the loop.

- :mod:`.config`: :class:`TrainConfig` (every knob, one help text each) and :data:`RECIPES`;
- :mod:`.loss`: the masked softmax loss and its fused kernel;
- :mod:`.optim`: row-only (lazy) Adam and SGD;
- :mod:`.recipes`: recipes as stages;
- :mod:`.loop`: :func:`fit`, the training loop.
"""

from .config import RECIPES, TrainConfig
from .loop import Callback, TrainResult, fit
from .loss import MaskedSoftmaxCE, SoftmaxLoss
from .optim import RowOptimizer
from .recipes import Stage, build_stages

__all__ = ["RECIPES", "TrainConfig", "Callback", "TrainResult", "fit", "MaskedSoftmaxCE",
           "SoftmaxLoss", "RowOptimizer", "Stage", "build_stages"]
