"""Training side of LiveGate's passive liveness: data -> augment -> models -> train -> export -> evaluate.

Each step is a function and a CLI (``python -m ml.collect``, ``python -m ml.augment``,
``python -m ml.train``, ``python -m ml.export``, ``python -m ml.evaluate``, ``python -m ml.loso``).
The web service never imports this package: it loads only the exported ONNX files and their
model cards (``webapp/liveness``). Faces are cut with the service's own detector and crop
policy (``webapp.face``) everywhere here, so training sees the framing serving produces.
"""
