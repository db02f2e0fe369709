"""Who is in each picture: identity clusters from the service's own face encodings.

The crop sets are labelled by source, not by person, and several mix people: a set's live
frames can show one person and its spoofs another. For the identity-aware Siamese model that
matters twice. Training pairs (live, spoof) of *different* people would teach it identity, not
liveness; and scoring a spoof of someone else against a user's enrollment measures the identity
check, which the service already does with dlib encodings. So people are found by clustering
the dlib descriptors (``FaceEngine.observe``, the encodings the login pipeline matches) within
each set: a cluster's live images enroll, and only spoofs in the SAME cluster -- attacks that
would pass the identity check -- are scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ml.datasets.faces import DetectionCache, detect_files, file_key
from ml.paths import CACHE_DIR
from webapp.face import FaceEngine, read_image_file

ENCODING_DIM = 128
# Same-person linkage: face_recognition's usual tolerance is 0.6; the service matches at 0.5.
# Average linkage at 0.55 keeps one person's frames together across expressions and lighting.
CLUSTER_DISTANCE = 0.55
UNKNOWN = "?"


def encode_files(paths: Sequence[Path], progress: bool = False) -> np.ndarray:
    """(N, 128) dlib encodings of each file's largest face (NaN rows where no face is found).

    Cached by file content in ``.cache/ml/encodings.npz``: computing them costs ~80 ms a face.
    """
    cache_path = CACHE_DIR / "encodings.npz"
    cache: dict[str, np.ndarray] = {}
    if cache_path.exists():
        with np.load(cache_path) as z:
            cache = dict(zip(z["keys"].tolist(), z["vectors"], strict=True))
    keys = [file_key(p) for p in paths]
    dets = detect_files(paths, DetectionCache(), keys=keys)
    out = np.full((len(paths), ENCODING_DIM), np.nan)
    dirty = False
    for i, (path, key, det) in enumerate(zip(paths, keys, dets, strict=True)):
        if det.box is None:
            continue
        if key not in cache:
            obs = FaceEngine().observe(read_image_file(str(path)), det.box, encode=True)
            assert obs.encoding is not None
            cache[key] = obs.encoding
            dirty = True
            if progress and len(cache) % 500 == 0:
                print(f"  encoded {len(cache)} faces", flush=True)
        out[i] = cache[key]
    if dirty:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_path.with_name("encodings.tmp.npz")
        np.savez(tmp, keys=np.array(list(cache)), vectors=np.stack(list(cache.values())))
        tmp.replace(cache_path)
    return out


def average_linkage_clusters(points: np.ndarray, cut: float) -> np.ndarray:
    """Flat clusters (labels 1..k) of average-linkage agglomeration cut at distance ``cut``.

    What ``scipy.cluster.hierarchy.fcluster(linkage(x, "average"), cut, "distance")`` gives, in
    numpy alone, so the evaluator runs with the serving requirements (scipy is training-only).
    Average linkage is monotonic, so cutting the tree at ``cut`` is merging the two closest
    clusters (mean pairwise distance, Lance-Williams update) while they are within ``cut``.
    """
    n = len(points)
    diff = points[:, None, :] - points[None, :, :]
    dist = np.sqrt((diff**2).sum(axis=2))
    np.fill_diagonal(dist, np.inf)
    sizes = np.ones(n)
    alive = np.ones(n, bool)
    members = [[i] for i in range(n)]
    while alive.sum() > 1:
        flat = int(np.argmin(dist))
        i, j = divmod(flat, n)
        if dist[i, j] > cut:
            break
        merged = (sizes[i] * dist[i] + sizes[j] * dist[j]) / (sizes[i] + sizes[j])
        dist[i], dist[:, i] = merged, merged
        dist[i, i] = np.inf
        dist[j], dist[:, j] = np.inf, np.inf
        sizes[i] += sizes[j]
        alive[j] = False
        members[i] += members[j]
        members[j] = []
    labels = np.zeros(n, int)
    for k, group in enumerate((g for g in members if g), 1):
        labels[group] = k
    return labels


def cluster_persons(encodings: np.ndarray, sets: np.ndarray, base_persons: np.ndarray) -> np.ndarray:
    """Person labels ``<base person>/p<k>`` from average-linkage clusters within each base person.

    ``base_persons`` are the coarse labels (the set, or NUAA's subject id); images without an
    encoding get ``<base person>/?`` and cannot be paired or enrolled.
    """
    out = np.array([f"{b}/{UNKNOWN}" for b in base_persons], dtype=object)
    for base in np.unique(base_persons):
        idx = np.flatnonzero((base_persons == base) & np.isfinite(encodings[:, 0]))
        if len(idx) == 1:
            out[idx] = f"{base}/p0"
        if len(idx) < 2:
            continue
        labels = average_linkage_clusters(encodings[idx], CLUSTER_DISTANCE)
        # Name clusters by size (p0 = the most frequent face of the set) for stable, readable labels.
        sizes = {lab: int((labels == lab).sum()) for lab in np.unique(labels)}
        order = {lab: k for k, lab in enumerate(sorted(sizes, key=lambda lab: (-sizes[lab], lab)))}
        for i, lab in zip(idx, labels, strict=True):
            out[i] = f"{base}/p{order[lab]}"
    return out.astype(str)


def is_known(persons: np.ndarray) -> np.ndarray:
    return np.char.endswith(persons.astype(str), f"/{UNKNOWN}") == False  # noqa: E712
