# LiveGate service image, in two stages:
#  - builder: the toolchain (make, a C compiler for any source distribution) builds the serving
#    virtualenv with the README's `make install` (requirements.txt only: no TensorFlow);
#  - runtime: Python, the two shared libraries the models need, that virtualenv and the code.
#    No make, no compiler, no pip cache; runs as a non-root user; a HEALTHCHECK on /healthz.
# The virtualenv lives at /app/.venv in both stages (its scripts name that path).
FROM python:3.11-slim-bookworm AS builder

ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends make build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY Makefile requirements.txt ./
COPY tools/dlib-binstub tools/dlib-binstub
RUN make install PYTHON=python3 \
    && find .venv -name __pycache__ -prune -exec rm -rf {} + \
    && rm -rf .venv/lib/python3.11/site-packages/pip


FROM python:3.11-slim-bookworm AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LIVEGATE_BIND=0.0.0.0:8000 \
    PATH=/app/.venv/bin:$PATH
RUN apt-get update \
    && apt-get install -y --no-install-recommends libstdc++6 libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /app livegate
WORKDIR /app
COPY --from=builder /app/.venv .venv
COPY gunicorn.conf.py .flaskenv ./
COPY migrations migrations
COPY webapp webapp

# instance/ holds the SQLite file and the generated secret: mount a volume there.
RUN mkdir -p instance && chown -R livegate /app/instance
USER livegate
VOLUME ["/app/instance"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"]
# What `make run` does: migrate, then gunicorn (exec: it gets the container's signals).
CMD ["sh", "-c", "flask --app webapp db upgrade && flask --app webapp keys seal && exec gunicorn -c gunicorn.conf.py 'webapp:create_app()'"]
