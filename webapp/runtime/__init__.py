"""The only model lifecycle: every shipped model's card and file checks (``files.py``) and the
one :class:`~webapp.runtime.worker.Runtime` per worker that loads them (``worker.py``)."""
