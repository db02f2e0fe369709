"""A data report that makes shortcut cues and leaks visible before a model learns them.

Per set and class: image count, median width/height, median JPEG bytes per pixel (compression),
sharpness, and (optionally) how often the service detector finds a face and how big it is. Flags:
- ``size_leak``: spoof images of a set are much smaller than its live ones, so image size alone
  would separate the classes (why every crop is resized to the model input first);
- ``compression_leak``: the classes differ clearly in bytes per pixel;
- ``sharpness_gap``: one class is much blurrier (partly physics: a replay is re-imaged; partly
  capture: the spoof videos were often shot differently), a cue the both-class blur and
  rescaling augmentation (ml/augment/nuisance.py) is there to weaken;
- ``detector_gap``: the detector finds faces much more often in one class (no-face rates then
  differ at test time, and a fallback framing matters);
- cross-set near-duplicates (64-bit difference hash): sets that share frames must share a fold.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ml.datasets.faces import detect_files
from ml.datasets.layout import Sample, fold_of

SIZE_LEAK_RATIO = 0.75
COMPRESSION_LEAK_RATIO = 1.5
SHARPNESS_GAP_RATIO = 3.0
DETECTOR_GAP = 0.25


def dhash(grey: np.ndarray) -> int:
    """Difference hash: 8x8 signs of horizontal gradients of a 9x8 thumbnail (robust to re-encoding)."""
    small = cv2.resize(grey, (9, 8), interpolation=cv2.INTER_AREA).astype(np.int16)
    bits = (small[:, 1:] > small[:, :-1]).flatten()
    return int(sum(1 << i for i, b in enumerate(bits) if b))


def _image_stats(path: Path) -> tuple[int, int, float, float, int]:
    """(width, height, bytes per pixel, sharpness, dhash)."""
    data = path.read_bytes()
    grey = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    if grey is None:
        raise ValueError(f"{path}: not a decodable image")
    h, w = grey.shape
    # Sharpness on a fixed 128 px copy so it does not grow with resolution (as webapp.face.quality).
    sharp = float(cv2.Laplacian(cv2.resize(grey, (128, 128), interpolation=cv2.INTER_AREA), cv2.CV_64F).var())
    return w, h, len(data) / float(w * h), sharp, dhash(grey)


def data_report(samples: list[Sample], detect: bool = False, dup_bits: int = 4) -> dict[str, Any]:
    """The report as a JSON-able dict (see the module docstring for the flags)."""
    stats = [_image_stats(s.path) for s in samples]
    dets = detect_files([s.path for s in samples]) if detect else None
    by_key: dict[tuple[str, int], list[int]] = defaultdict(list)
    for i, s in enumerate(samples):
        by_key[(s.set_name, s.label)].append(i)
    sets: dict[str, Any] = {}
    for (set_name, label), idx in sorted(by_key.items()):
        arr = np.array([stats[i][:4] for i in idx], np.float64)
        row: dict[str, Any] = {
            "n": len(idx),
            "median_width": float(np.median(arr[:, 0])),
            "median_height": float(np.median(arr[:, 1])),
            "median_bytes_per_pixel": round(float(np.median(arr[:, 2])), 4),
            "median_sharpness": round(float(np.median(arr[:, 3])), 1),
            "species": sorted({samples[i].species for i in idx}),
        }
        if dets is not None:
            found = [dets[i] for i in idx if dets[i].box is not None]
            row["face_found_rate"] = round(len(found) / len(idx), 3)
            row["median_face_px"] = float(np.median([min(d.box.width, d.box.height) for d in found])) if found else None  # type: ignore[union-attr]
        sets.setdefault(set_name, {"fold": fold_of(set_name)})["live" if label == 1 else "spoof"] = row
    flags: list[str] = []
    for name, entry in sets.items():
        live, spoof = entry.get("live"), entry.get("spoof")
        if not live or not spoof:
            continue
        side = lambda r: np.sqrt(r["median_width"] * r["median_height"])  # noqa: E731
        if side(spoof) < SIZE_LEAK_RATIO * side(live) or side(live) < SIZE_LEAK_RATIO * side(spoof):
            flags.append(f"size_leak {name}: live ~{side(live):.0f} px vs spoof ~{side(spoof):.0f} px")
        bl, bs = live["median_bytes_per_pixel"], spoof["median_bytes_per_pixel"]
        if max(bl, bs) > COMPRESSION_LEAK_RATIO * min(bl, bs):
            flags.append(f"compression_leak {name}: live {bl:.3f} vs spoof {bs:.3f} bytes/pixel")
        sl, ss = live["median_sharpness"], spoof["median_sharpness"]
        if max(sl, ss) > SHARPNESS_GAP_RATIO * max(1e-6, min(sl, ss)):
            flags.append(f"sharpness_gap {name}: live {sl:.0f} vs spoof {ss:.0f} (Laplacian variance)")
        if "face_found_rate" in live and abs(live["face_found_rate"] - spoof["face_found_rate"]) > DETECTOR_GAP:
            flags.append(f"detector_gap {name}: faces found in {live['face_found_rate']:.0%} live vs {spoof['face_found_rate']:.0%} spoof")
    dups = near_duplicates(samples, [s[4] for s in stats], dup_bits)
    for pair, n in sorted(dups.items(), key=lambda kv: -kv[1]):
        a, b = pair.split(" ~ ")
        same_fold = fold_of(a) == fold_of(b)
        flags.append(f"near_duplicates {pair}: {n} images{'' if same_fold else ' -- DIFFERENT FOLDS, a leak'}")
    totals = {"live": sum(1 for s in samples if s.label == 1), "spoof": sum(1 for s in samples if s.label == 0)}
    return {"totals": totals, "sets": sets, "cross_set_near_duplicates": dups, "flags": flags}


def near_duplicates(samples: list[Sample], hashes: list[int], max_bits: int) -> dict[str, int]:
    """Count images of one set within ``max_bits`` Hamming distance of an image of another set."""
    by_set: dict[str, list[int]] = defaultdict(list)
    for s, h in zip(samples, hashes, strict=True):
        by_set[s.set_name].append(h)
    names = sorted(by_set)
    arrays = {n: np.array(by_set[n], dtype=np.uint64) for n in names}
    out: dict[str, int] = {}
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            x = arrays[a][:, None] ^ arrays[b][None, :]
            bits = np.unpackbits(x.view(np.uint8).reshape(*x.shape, 8), axis=-1).sum(axis=-1)
            n = int((bits <= max_bits).any(axis=1).sum())
            if n:
                out[f"{a} ~ {b}"] = n
    return out


def format_report(doc: dict[str, Any]) -> str:
    lines = [f"{'set':16s} {'fold':13s} {'class':5s} {'n':>5s} {'w':>5s} {'h':>5s} {'B/px':>6s} {'sharp':>7s} {'found':>6s} {'face':>5s}"]
    for name, entry in doc["sets"].items():
        for cls in ("live", "spoof"):
            r = entry.get(cls)
            if not r:
                continue
            found = f"{r['face_found_rate']:.2f}" if "face_found_rate" in r else "-"
            face = f"{r['median_face_px']:.0f}" if r.get("median_face_px") else "-"
            lines.append(
                f"{name:16s} {entry['fold']:13s} {cls:5s} {r['n']:5d} {r['median_width']:5.0f} {r['median_height']:5.0f} "
                f"{r['median_bytes_per_pixel']:6.3f} {r['median_sharpness']:7.1f} {found:>6s} {face:>5s}"
            )
    lines.append(f"total: {doc['totals']['live']} live, {doc['totals']['spoof']} spoof")
    lines += ["flags:"] + [f"  {f}" for f in doc["flags"]] if doc["flags"] else ["flags: none"]
    return "\n".join(lines)
