"""The models, by kind, each with its fit. Pure: they know nothing of the results store or the CLI.

- :mod:`.dual_encoder`: the paper's dual encoder, two lookup tables (fitted by
  :func:`hrviz.training.fit`); :mod:`.files`: the model files every kind writes;
- :mod:`.poincare` (the model and the maths), :mod:`.poincare_ball` (the geometry),
  :mod:`.poincare_fit` (config and Riemannian SGD): Poincaré embeddings (Nickel & Kiela 2017);
- :mod:`.text_encoders` (frozen text encoders), :mod:`.text` (node text, zero-shot, free text),
  :mod:`.text_tower` (trainable heads over frozen features), :mod:`.text_fit` (their fit).

How a model of each kind becomes a stored run is :mod:`hrviz.kinds`.
"""
