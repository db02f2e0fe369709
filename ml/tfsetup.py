"""Reproducible, polite TensorFlow: fixed seeds, deterministic ops, few threads (the machine is shared)."""

from __future__ import annotations

import os
import random

import numpy as np

_configured = False


def setup(seed: int, threads: int = 2) -> None:
    """Seed python/numpy/TF and cap TF's thread pools; call before building any model.

    ``enable_op_determinism`` costs little for these small CNNs on CPU and makes a rerun with
    the same seed produce the same weights (and therefore the same ONNX file).
    """
    global _configured
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    if not _configured:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        tf.config.experimental.enable_op_determinism()
        _configured = True
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)
