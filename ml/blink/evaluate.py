"""Evaluate the shipped blink detector on data it never saw, beside the current rule.

    python -m ml.blink.evaluate [--model-dir webapp/assets/blink] [--streams 6] [--write-card]
                                [--json runs/blink/evaluate.json]

* Photos (held-out sources ``frtest`` = face_recognition's test photos and ``sivakumar`` =
  the shared identity photos): still on a stand with sensor noise, hand-held, and tilted
  +-30/35 degrees. Every firing is a false blink; reported per minute of attempt time.
* Replays (apfol/fake2.webm, manikantha/fake.mp4, tranvanluyt/fake.mp4): a screen showing a
  recorded person. Their real blinks are labelled like the live clips' (``ml.blink.labels``);
  firings on them are *true* blinks of the recorded person - a replay does blink - and the
  rest are false.
* Live clips with the shipped model are in-sample (it was trained on them); the held-out live
  figures are the leave-one-video-out ones that ``ml.blink.train`` wrote into the card.

Streams are simulated at 4, 5, 6, 8 and 10 fps with random phase (``ml.blink.windows``).
``--write-card`` stores the figures under ``metrics.held_out`` in the card (and refreshes its
sha256-independent fields only).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from ml.blink.paths import BLINK_ASSETS, BLINK_RUNS, REPLAY_VIDEOS
from ml.blink.scoring import RULE_WINDOW, StreamScore, model_fire, rule_fire, score_fire
from ml.blink.stills import EVAL_SOURCES, PHOTO_KINDS, STILLS_DIR, load_all
from ml.blink.tracks import ensure
from ml.blink.train import still_clip
from ml.blink.windows import FPS_CHOICES, Clip, make_stream
from ml.strict_json import finite
from webapp.challenge.blink import CARD_FILE, BlinkDetector


def evaluate(detector: BlinkDetector, streams_per_rate: int = 6, seed: int = 11) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    w = detector.window

    def run(clips: list[Clip]) -> dict[str, dict[str, Any]]:
        model, rule = StreamScore(), StreamScore()
        per_clip: dict[str, dict[str, Any]] = {}
        for clip in clips:
            m_c, r_c = StreamScore(), StreamScore()
            for fps in FPS_CHOICES:
                for _ in range(streams_per_rate):
                    s = make_stream(clip, fps, rng)
                    if s is None:
                        continue
                    m_c += score_fire(s, model_fire(s, detector.probabilities, w, detector.threshold), w)
                    r_c += score_fire(s, rule_fire(s), RULE_WINDOW)
            model += m_c
            rule += r_c
            per_clip[clip.name] = {"model": m_c.summary(), "rule": r_c.summary()}
        return {"model": model.summary(), "rule": rule.summary(), "per_clip": per_clip}

    photos = load_all(EVAL_SOURCES, STILLS_DIR)
    if not photos:
        raise SystemExit("no held-out photo tracks: run python -m ml.blink.stills first")
    out: dict[str, Any] = {"streams_per_rate": streams_per_rate, "fps": list(FPS_CHOICES)}
    for kind in PHOTO_KINDS:
        res = run([still_clip(t) for t in photos if t.name.endswith(kind)])
        out[f"photo_{kind}"] = {k: v for k, v in res.items() if k != "per_clip"}
        out[f"photo_{kind}"]["per_source"] = {
            src: {who: _pool([v[who] for n, v in res["per_clip"].items() if n.startswith(src + "/")]) for who in ("model", "rule")}
            for src in EVAL_SOURCES
        }
    replay_clips = {c.name: c for c in (Clip.from_track(t) for t in ensure(REPLAY_VIDEOS))}
    replays = run(list(replay_clips.values()))
    out["replay"] = replays
    for name, r in replays["per_clip"].items():
        r["labelled_blinks"] = sum(e.blink for e in replay_clips[name].events)
    return out


def _pool(summaries: list[dict[str, Any]]) -> dict[str, float]:
    """False blinks per minute over several photo tracks' summaries."""
    firings = sum(int(s["false_firings"]) for s in summaries)
    minutes = sum(float(s["minutes"]) for s in summaries)
    return {"false_per_min": round(firings / minutes, 3) if minutes else float("nan"), "minutes": round(minutes, 2)}


def print_table(res: dict[str, Any]) -> None:
    print(f"{'condition':28s} {'model false/min':>16s} {'rule false/min':>15s} {'model recall':>13s} {'rule recall':>12s} {'minutes':>8s}")
    rows: list[tuple[str, dict[str, Any]]] = []
    for k in PHOTO_KINDS:
        rows.append((f"photo {k}", res[f"photo_{k}"]))
        for src, v in res[f"photo_{k}"]["per_source"].items():
            rows.append((f"  {src}", {w: {**v[w], "recall": "-"} for w in ("model", "rule")}))
    rows += [("replay (all)", res["replay"])]
    rows += [(f"  {n}", v) for n, v in res["replay"]["per_clip"].items()]
    for name, r in rows:
        m, u = r["model"], r["rule"]
        print(
            f"{name:28s} {m['false_per_min']:16.2f} {u['false_per_min']:15.2f} "
            f"{m['recall']!s:>13s} {u['recall']!s:>12s} {m['minutes']:8.1f}"
        )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", type=Path, default=BLINK_ASSETS)
    ap.add_argument("--streams", type=int, default=6, help="simulated attempts per clip and frame rate")
    ap.add_argument("--json", type=Path, default=BLINK_RUNS / "evaluate.json")
    ap.add_argument("--write-card", action="store_true")
    args = ap.parse_args(argv)
    detector = BlinkDetector.load(args.model_dir)
    res = evaluate(detector, args.streams)
    print_table(res)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(finite(res), indent=1))
    if args.write_card:
        card_path = args.model_dir / CARD_FILE
        card = json.loads(card_path.read_text())
        card.setdefault("metrics", {})["held_out"] = {
            "photo_still": res["photo_still"],
            "photo_handheld": res["photo_handheld"],
            "photo_tilt": res["photo_tilt"],
            "replay": {k: v for k, v in res["replay"].items() if k != "per_clip"},
            "replay_per_clip": res["replay"]["per_clip"],
            "note": "photos: held-out sources frtest (face_recognition test photos) and sivakumar identity photos; "
            "replay recall = firings on the recorded person's real blinks (a replay does blink)",
        }
        card_path.write_text(json.dumps(finite(card), indent=1) + "\n")
        print(f"card updated: {card_path}")


if __name__ == "__main__":
    main()
