"""Pretrained Silent-Face MiniFASNet: converted without PyTorch, measured frozen (``python -m ml.pretrained``)."""
