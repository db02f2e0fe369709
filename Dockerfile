# LiveGate service image. It runs the same Makefile steps as the README's `make serve`:
# `make install` (virtualenv + requirements.txt) at build time, `make run` (migrate + gunicorn)
# at start. No TensorFlow: the image serves the committed ONNX models with onnxruntime.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LIVEGATE_BIND=0.0.0.0:8000

RUN apt-get update \
    && apt-get install -y --no-install-recommends make libstdc++6 libgomp1 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# Dependencies first, so code changes do not re-install them.
COPY Makefile requirements.txt ./
COPY tools/dlib-binstub tools/dlib-binstub
RUN make install PYTHON=python3

COPY gunicorn.conf.py ./
COPY migrations migrations
COPY webapp webapp

# instance/ holds the SQLite file and the generated secret: mount a volume there.
RUN mkdir -p instance && useradd --system --home /app livegate && chown -R livegate /app/instance
USER livegate
VOLUME ["/app/instance"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s CMD ["/app/.venv/bin/python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"]
CMD ["make", "run"]
