"""Learned blink detection and the measurements behind the challenge cues (issue 4, parts 1-3).

Data flow, one CLI per step:
``tracks`` (dense 68-point landmark tracks of the shared videos, cached) -> ``labels`` (blink
events from the dense 30 fps eye-aspect-ratio track) -> ``windows`` (client-rate subsampling
with random phase, synthetic blinks and still-photo jitter) -> ``train`` (KNN / logistic
regression / GBM compared leave-one-video-out, ONNX + card) -> ``evaluate`` (recall on held-out
live clips, false blinks per minute on stills and replays). ``cues`` measures the motion,
planarity and perceptual-hash thresholds of ``webapp/challenge/motion.py`` and ``phash.py``;
``find_segment`` picks a clip segment for the browser test.

The service never imports this package; it loads ``webapp/assets/blink/`` (ONNX + card) through
``webapp/challenge/blink.py``, whose feature function is the one used here for training.
"""
