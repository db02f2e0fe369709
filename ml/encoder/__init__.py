"""dlib's face recognition ResNet as an ONNX model: the .dat reader, the graph, export, parity.

``python -m ml.encoder export`` writes webapp/assets/encoder/dlib_resnet_v1.onnx and its card;
``python -m ml.encoder parity --card`` measures it against dlib on real faces and records the
figures the service's FACE_ENCODER=onnx default rests on.
"""
