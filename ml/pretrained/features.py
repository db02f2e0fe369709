"""The pretrained MiniFASNet members cut at their 128-d embedding, on every shared image and video frame.

Fine-tuning on 2 CPU cores with leave-one-group-out means 11 trainings per candidate; running the
convolutional backbone in each of them would take hours. The head (``bn`` -> ``prob``, 128 x 3
weights) is where a source's bias lives, and a new head is a convex problem on cached embeddings,
so the backbone runs once per image here and every fold trains on the stored vectors.

The embedding is the output of the Keras rebuild's ``bn`` layer (after the 128-d linear layer and
its batch norm), i.e. the exact input of the ``prob`` layer: ``embedding @ W_prob`` reproduces the
ONNX logits (checked against the cached frozen scores, :func:`check_against_frozen`).

Images follow :mod:`ml.pretrained.study`: RetinaFace's most confident box (cached detections),
``DEFAULT_MIN_CONFIDENCE`` as the floor, Silent-Face crops cut by the service's own code. Video
frames are sampled at ~8 fps and scaled to <= 640 px as the login page sends them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ml.datasets.faces import file_key
from ml.datasets.layout import Sample
from ml.pretrained.convert import SOURCES
from ml.pretrained.detector import DEFAULT_MIN_CONFIDENCE, detect_faces
from ml.pretrained.legacy_torch import load_legacy_state_dict
from ml.pretrained.silentface import LIVE_INDEX, silent_face_crop, to_input
from ml.pretrained.study import (
    STUDY_CACHE,
    WINDOW_FPS,
    JsonCache,
    _boxes_from,
    _sampled_frames,
    _video_files,
    cached_detection,
    read_bgr,
    video_label,
)

EMBEDDING = 128
BATCH = 256


@dataclass(frozen=True)
class Members:
    """The released weights as embedding extractors plus their original ``prob`` weights."""

    names: tuple[str, ...]
    scales: tuple[float, ...]
    extractors: tuple[Any, ...]  # keras.Model: NCHW BGR 0..255 -> (N, 128)
    heads: np.ndarray  # (members, 128, 3) float64: the released ``prob`` weights (no bias)


def load_members(src_dir: Path) -> Members:
    """Keras rebuilds of the ``.pth`` files (read without PyTorch), cut before ``prob``."""
    import keras

    from ml.pretrained.minifasnet import build_keras

    extractors, heads = [], []
    for source in SOURCES:
        sd = load_legacy_state_dict(src_dir / source.file)
        model = build_keras(sd, name=source.name)
        extractors.append(keras.Model(model.input, model.get_layer("bn").output, name=f"{source.name}_embedding"))
        heads.append(sd["prob.weight"].astype(np.float64).T)
    return Members(tuple(s.name for s in SOURCES), tuple(s.crop_scale for s in SOURCES), tuple(extractors), np.stack(heads))


def _embed(members: Members, crops: list[np.ndarray]) -> np.ndarray:
    """(N, members, 128) for per-member crop stacks (N, 80, 80, 3)."""
    out = []
    for extractor, stack in zip(members.extractors, crops, strict=True):
        parts = [np.asarray(extractor(to_input(stack[i : i + BATCH]), training=False)) for i in range(0, len(stack), BATCH)]
        out.append(np.concatenate(parts) if parts else np.zeros((0, EMBEDDING), np.float32))
    return np.stack(out, axis=1)


@dataclass(frozen=True)
class ImageFeatures:
    """Per shared image: whether RetinaFace found a face, and both members' embeddings there."""

    samples: list[Sample]
    has_face: np.ndarray  # (N,) bool at DEFAULT_MIN_CONFIDENCE
    embeddings: np.ndarray  # (N, members, 128) float32, zeros where no face


def _digest(keys: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]


def image_features(samples: Sequence[Sample], members: Members, min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> ImageFeatures:
    """Embeddings of every sample's best RetinaFace face (cached by the file list's content keys)."""
    keys = [file_key(s.path) for s in samples]
    cache = STUDY_CACHE / f"embeddings-{_digest(keys)}-{min_confidence:g}.npz"
    if cache.exists():
        z = np.load(cache)
        return ImageFeatures(list(samples), z["has_face"], z["embeddings"])
    detections = JsonCache("retinaface.json")
    has_face = np.zeros(len(samples), bool)
    crops: list[list[np.ndarray]] = [[] for _ in members.names]
    for i, (s, key) in enumerate(zip(samples, keys, strict=True)):
        det, bgr = cached_detection(detections, key, s.path)
        boxes = _boxes_from(det["boxes"], min_confidence)
        if not boxes:
            continue
        has_face[i] = True
        bgr = read_bgr(s.path) if bgr is None else bgr
        for j, scale in enumerate(members.scales):
            crops[j].append(silent_face_crop(bgr, boxes[0].xywh, scale))
        if i % 1000 == 0:
            print(f"  crops {i}/{len(samples)}", flush=True)
    detections.save()
    found = _embed(members, [np.stack(c) for c in crops])
    embeddings = np.zeros((len(samples), len(members.names), EMBEDDING), np.float32)
    embeddings[has_face] = found
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(cache, has_face=has_face, embeddings=embeddings)
    return ImageFeatures(list(samples), has_face, embeddings)


@dataclass(frozen=True)
class VideoFeatures:
    """One shared video as a login would send it: frames at ~8 fps, embeddings where a face was found."""

    name: str  # path relative to the videos folder
    set_name: str  # the top folder (a pad set's name: apfol, sivakumar, ...)
    label: int
    has_face: np.ndarray  # (F,) bool
    embeddings: np.ndarray  # (F, members, 128)


def video_features(videos: Path, members: Members, min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> list[VideoFeatures]:
    """Every shared video, frame by frame (cached per video file content)."""
    out = []
    for path in _video_files(videos):
        rel = path.relative_to(videos).as_posix()
        cache = STUDY_CACHE / f"video-{file_key(path)}-{min_confidence:g}.npz"
        if cache.exists():
            z = np.load(cache)
            has_face, emb = z["has_face"], z["embeddings"]
        else:
            flags: list[bool] = []
            crops: list[list[np.ndarray]] = [[] for _ in members.names]
            for _, frame in _sampled_frames(path, WINDOW_FPS):
                faces = detect_faces(frame, "BGR", min_confidence=min_confidence)
                flags.append(bool(faces))
                if faces:
                    for j, scale in enumerate(members.scales):
                        crops[j].append(silent_face_crop(frame, faces[0].xywh, scale))
            has_face = np.array(flags, bool)
            emb = np.zeros((len(flags), len(members.names), EMBEDDING), np.float32)
            if has_face.any():
                emb[has_face] = _embed(members, [np.stack(c) for c in crops])
            cache.parent.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(cache, has_face=has_face, embeddings=emb)
        out.append(VideoFeatures(rel, rel.split("/")[0], video_label(path), has_face, emb))
        print(f"  video {rel}: {int(has_face.sum())}/{has_face.size} frames with a face", flush=True)
    return out


def head_logits(embeddings: np.ndarray, head: np.ndarray) -> np.ndarray:
    """(N, 3) logits of one member's head on (N, 128) embeddings."""
    return np.asarray(embeddings, np.float64) @ head


def live_probability(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e[:, LIVE_INDEX] / e.sum(axis=1))


def check_against_frozen(features: ImageFeatures, members: Members, frozen_probs: np.ndarray) -> float:
    """Max |softmax(embedding @ W_prob) - cached ONNX softmax| over images with a face (members x 3)."""
    worst = 0.0
    for j in range(len(members.names)):
        logits = head_logits(features.embeddings[features.has_face, j], members.heads[j])
        z = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs = z / z.sum(axis=1, keepdims=True)
        ref = frozen_probs[features.has_face, j]
        ok = ~np.isnan(ref).any(axis=1)
        if ok.any():
            worst = max(worst, float(np.abs(probs[ok] - ref[ok]).max()))
    return worst
