"""gunicorn settings for `make serve` and the Docker image (override with GUNICORN_CMD_ARGS)."""

import os
import shutil
import tempfile

# Prometheus multiprocess mode (webapp/ops/metrics.py): every worker writes its metrics to files
# in this folder, and /metrics in any worker adds them up. Set before any worker imports
# prometheus_client; emptied when the server starts, so old workers' values never linger.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.path.join(tempfile.gettempdir(), f"livegate-metrics-{os.getuid()}")

bind = os.environ.get("LIVEGATE_BIND", "127.0.0.1:8000")
# One sync worker per core: each request is CPU-bound (detection, encoding, ONNX), so threads
# would only queue behind the models' locks. ~250 MB RSS per worker with models loaded.
workers = int(os.environ.get("LIVEGATE_WORKERS", "2"))
worker_class = "sync"
timeout = 30
graceful_timeout = 10
# The app is imported in each worker, never preloaded in the master: onnxruntime imported
# before fork makes workers hang on SIGTERM (shared/notes/stack.md).
preload_app = False
# Admission control (webapp/login/admission.py) sizes itself from the workers serving the
# database; an explicit FLASK_ADMISSION_WORKERS (e.g. the total over several machines) wins.
os.environ.setdefault("FLASK_ADMISSION_WORKERS", str(workers))


control_socket_disable = True
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LIVEGATE_LOG_LEVEL", "info")
# Access lines as JSON, with the request id the app sets (webapp/ops/logs.py). The path is
# without its query string; a frame upload's path holds its attempt id, as gunicorn's default
# line did (the app's own decision log never does).
access_log_format = (
    '{"time":"%(t)s","logger":"access","remote":"%(h)s","method":"%(m)s","path":"%(U)s","status":%(s)s,'
    '"bytes":"%(B)s","duration_ms":%(M)s,"request_id":"%({x-request-id}o)s"}'
)


def on_starting(server):
    """Empty the metrics folder, then load dlib's models (HOG detector, 68- and 5-point
    predictors: ~105 MB; dlib's ResNet only with FACE_ENCODER=dlib) once in the master, before
    the workers fork, so they share those pages copy-on-write instead of loading a copy each. Only dlib: it starts no
    threads; onnxruntime stays per worker. One hook: gunicorn keeps only the last function of a
    name in this file (a second ``on_starting`` once silently disabled the preload)."""
    path = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path, exist_ok=True)
    if os.environ.get("LIVEGATE_PRELOAD_DLIB", "1") != "1":
        return
    from webapp.face.engine import DetectorSettings, FaceEngine

    # dlib's ResNet too when the environment selects it (set elsewhere: each worker loads it).
    dlib_encoder = os.environ.get("FLASK_FACE_ENCODER", "").strip().strip("\"'").lower() == "dlib"
    FaceEngine(DetectorSettings(encoder="dlib" if dlib_encoder else "onnx")).load()
    server.log.info("dlib models loaded before fork")


def child_exit(server, worker):
    """A dead worker's live gauges go with it (prometheus_client multiprocess mode)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker):
    """Load the face and liveness models in each worker before it takes requests, then give
    back the heap their loading freed (webapp/runtime/memory.py)."""
    from webapp.runtime.memory import release_free_heap
    from webapp.runtime.worker import configure_worker_process, runtime, warm_up

    configure_worker_process()
    with worker.wsgi.app_context():
        rt = runtime()
        warm_up(rt)
        release_free_heap()
        if rt.ensemble is not None:
            from webapp.ops.metrics import record_models

            record_models(rt.ensemble.card.version, rt.ensemble.versions())
        worker.log.info("models ready: %s", sorted(rt.ensemble.versions()) if rt.ensemble else "liveness unavailable")
