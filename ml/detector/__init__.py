"""The context detector's ONNX port: Silent-Face's Caffe RetinaFace converted for onnxruntime.

    python -m ml.detector export            # webapp/assets/detector/retinaface.onnx + its card fields
    python -m ml.detector parity [--json F]  # cv2.dnn (Caffe) vs onnxruntime on every login frame
    python -m ml.detector time               # CPU per forward, cv2.dnn (2 threads, 1 thread) vs ORT

``caffe_onnx`` builds the graph from the prototxt and the caffemodel's blobs (``onnx.helper``);
``reference`` runs the original network through cv2.dnn behind the service's own API, which is
what parity and the tests compare against.
"""
