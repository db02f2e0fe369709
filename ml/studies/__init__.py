"""One-off measurement studies that calibrate the service's cues (each a ``python -m`` CLI)."""
