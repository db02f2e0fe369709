"""Keras -> ONNX with a parity check, and the model card the service reads (webapp/liveness/card.py).

Export uses Keras 3's ``model.export(format="onnx")`` (tf2onnx underneath). The exported file is
run with onnxruntime on real crops and must match Keras to ``PARITY_TOLERANCE``, or export fails:
the service only ever runs the ONNX file, so a silent conversion difference would be a
silent accuracy difference.

CLI: ``python -m ml.export --keras runs/x/model.keras --model dsnet --out webapp/assets/models
--threshold 0.5 [--metrics runs/x/metrics.json]`` exports a saved model (train does this itself).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ml.models import ModelSpec, get_spec
from webapp.liveness.card import parse_model_card
from webapp.runtime.files import cpu_session, sha256_file

PARITY_TOLERANCE = 1e-4
INPUT_SCALE = 1.0 / 255.0  # every ml model takes RGB in [0, 1], NHWC (see ml/sampling.py)


class ParityError(RuntimeError):
    """The ONNX file does not compute what the Keras model computes."""


def onnx_outputs(path: Path, x: np.ndarray) -> np.ndarray:
    sess = cpu_session(path)  # the session the service runs the model in
    name = sess.get_inputs()[0].name
    return np.asarray(sess.run(None, {name: x.astype(np.float32)})[0])


def export_onnx(model: Any, path: Path, parity_crops: np.ndarray) -> float:
    """Write ``model`` as ONNX to ``path`` and return the max |ONNX - Keras| on ``parity_crops``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp) / path.name
        x = parity_crops.astype(np.float32) * np.float32(INPUT_SCALE)
        # Predict first: a model loaded from .keras must have been called before it can export.
        expected = np.asarray(model.predict(x, verbose=0))
        model.export(str(tmp_path), format="onnx", verbose=False)
        got = onnx_outputs(tmp_path, x)
        diff = float(np.max(np.abs(expected - got))) if expected.size else 0.0
        if not np.isfinite(diff) or diff > PARITY_TOLERANCE:
            raise ParityError(f"ONNX differs from Keras by {diff:.2e} (> {PARITY_TOLERANCE:g})")
        tmp_path.replace(path)
    return diff


def card_dict(
    spec: ModelSpec,
    name: str,
    onnx_path: Path,
    threshold: float,
    version: str | None = None,
    calibration: dict[str, float] | None = None,
    metrics: dict[str, Any] | None = None,
    training: dict[str, Any] | None = None,
    limits: list[str] | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    """The model card JSON for ``onnx_path`` (schema: webapp/liveness/card.py)."""
    digest = sha256_file(onnx_path)
    card: dict[str, Any] = {
        "schema": 1,
        "name": name,
        "version": version or f"{dt.date.today():%Y.%m.%d}-{digest[:8]}",
        "kind": spec.kind,
        "family": spec.name,
        "description": description or (spec.description.strip().splitlines()[0] if spec.description else ""),
        "file": onnx_path.name,
        "sha256": digest,
        "size_bytes": onnx_path.stat().st_size,
        "input": {
            "size": spec.input_size,
            "layout": "NHWC",
            "color_order": "RGB",
            "scale": INPUT_SCALE,
            "mean": [0.0, 0.0, 0.0],
            "std": [1.0, 1.0, 1.0],
            "name": None,
        },
        "crop": {"scale": spec.crop_scale, "policy": "webapp.face.crop_face on the largest HOG box, resize first"},
        "output": {
            "name": None,
            "meaning": "P(live), sigmoid" if spec.kind == "classifier" else "unit-norm embedding of one Siamese twin",
        },
        "threshold": float(threshold),
        "metrics": metrics or {},
        "training": training or {},
        "limits": limits or [],
    }
    if spec.kind == "siamese":
        card["calibration"] = calibration or {"a": -10.0, "b": 5.0}
        card["references"] = (
            "needs the claimed user's enrolled embeddings from THIS version (LivenessEnsemble.embed_references "
            "at enrollment); without them the model abstains"
        )
    parse_model_card(card)  # refuse to write a card the service could not read
    return card


def write_card(card: dict[str, Any], out_dir: Path) -> Path:
    path = out_dir / f"{card['name']}.json"
    path.write_text(json.dumps(card, indent=2, sort_keys=False) + "\n")
    return path


def export_model(
    model: Any, spec: ModelSpec, out_dir: Path, name: str, threshold: float, parity_crops: np.ndarray | None, **card_fields: Any
) -> tuple[Path, Path, float]:
    """Export ONNX + card into ``out_dir``; returns (onnx path, card path, parity max diff).

    Parity is checked on ``parity_crops`` (real face crops), or on 16 fixed random crops when
    there are none."""
    if parity_crops is None or not len(parity_crops):
        parity_crops = np.random.default_rng(0).integers(0, 256, size=(16, spec.input_size, spec.input_size, 3), dtype=np.uint8)
    onnx_path = out_dir / f"{name}.onnx"
    diff = export_onnx(model, onnx_path, parity_crops)
    training = dict(card_fields.pop("training", None) or {})
    training["onnx_parity_max_abs_diff"] = diff
    card = card_dict(spec, name, onnx_path, threshold, training=training, **card_fields)
    return onnx_path, write_card(card, out_dir), diff


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ml.export", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keras", type=Path, required=True, help="saved Keras model (.keras); for siamese, the twin")
    parser.add_argument("--model", required=True, help="model family (ml.models.MODELS)")
    parser.add_argument("--name", help="card/file name (default: the family)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--threshold", type=float, required=True)
    parser.add_argument("--metrics", type=Path, help="JSON of metrics to put in the card")
    parser.add_argument("--calibration", nargs=2, type=float, metavar=("A", "B"), help="siamese: sigmoid(a*d+b)")
    parser.add_argument("--parity-data", type=Path, help="folder of live/spoof images for the parity check")
    args = parser.parse_args(argv)

    import keras

    from ml.tfsetup import setup

    setup(0)
    spec = get_spec(args.model)
    model = keras.models.load_model(args.keras, compile=False, safe_mode=False)
    crops = None
    if args.parity_data:
        from ml.datasets.arrays import load_roots
        from webapp.face import CropSpec

        crops = load_roots([args.parity_data], CropSpec(spec.input_size, spec.crop_scale)).crops[:64]
    metrics = json.loads(args.metrics.read_text()) if args.metrics else {}
    calibration = dict(zip("ab", args.calibration, strict=True)) if args.calibration else None
    onnx_path, card_path, diff = export_model(
        model, spec, args.out, args.name or spec.name, args.threshold, crops, metrics=metrics, calibration=calibration
    )
    print(f"{onnx_path} ({onnx_path.stat().st_size} bytes), {card_path}, parity max diff {diff:.2e}")


if __name__ == "__main__":
    main()
