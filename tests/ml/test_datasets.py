"""Folder layout, species, persons, splits that never cut a source, fallback framing and the data report."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from ml.datasets.faces import WHOLE_FRAME_MIN_SIDE, fallback_box
from ml.datasets.layout import PAD_FOLDS, SHARED_FRAME_SETS, fold_of, scan
from ml.datasets.report import data_report, dhash
from ml.datasets.split import split_groups, write_split


def _img(path: Path, size: tuple[int, int] = (40, 50), seed: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    # Smooth random images: distinct difference hashes per seed, unlike flat colours.
    small = rng.integers(0, 256, size=(6, 6, 3)).astype(np.uint8)
    cv2.imwrite(str(path), cv2.resize(small, size, interpolation=cv2.INTER_CUBIC))


def test_scan_finds_sets_species_and_persons_at_any_depth(tmp_path: Path) -> None:
    _img(tmp_path / "a" / "live" / "1.jpg")
    _img(tmp_path / "a" / "spoof" / "print" / "2.jpg")
    _img(tmp_path / "a" / "spoof" / "replay" / "deeper" / "3.png")
    _img(tmp_path / "group" / "b" / "live" / "4.jpg")
    _img(tmp_path / "group" / "b" / "spoof" / "5.jpg")
    _img(tmp_path / "nuaa-train" / "live" / "0007_00_00_01_0.jpg")
    (tmp_path / "a" / "live" / "notes.txt").write_text("not an image")
    samples = {s.path.name: s for s in scan(tmp_path)}
    assert set(samples) == {"1.jpg", "2.jpg", "3.png", "4.jpg", "5.jpg", "0007_00_00_01_0.jpg"}
    assert samples["2.jpg"].species == "print" and samples["3.png"].species == "replay"
    assert samples["1.jpg"].species == "bona_fide" and samples["1.jpg"].is_live
    assert samples["4.jpg"].set_name == "group/b" and samples["5.jpg"].species == "spoof"
    assert samples["0007_00_00_01_0.jpg"].person == "nuaa-train/0007"
    assert samples["1.jpg"].person == "a"


def test_scan_of_a_single_set_names_it_after_the_folder(tmp_path: Path) -> None:
    _img(tmp_path / "myset" / "live" / "1.jpg")
    (s,) = scan(tmp_path / "myset")
    assert s.set_name == "myset"


def test_known_pad_species_come_from_the_documented_map(tmp_path: Path) -> None:
    _img(tmp_path / "y45hk1r0l4" / "spoof" / "1.jpg")
    _img(tmp_path / "tranvanluyt" / "spoof" / "2.jpg")
    species = {s.set_name: s.species for s in scan(tmp_path)}
    assert species == {"y45hk1r0l4": "print", "tranvanluyt": "replay"}


def test_sets_sharing_tutorial_frames_are_one_fold_and_no_set_is_in_two() -> None:
    assert {fold_of(s) for s in SHARED_FRAME_SETS} == {"tutorial"}
    members = [s for sets in PAD_FOLDS.values() for s in sets]
    assert len(members) == len(set(members))
    assert fold_of("never-heard-of") == "never-heard-of"


def test_split_by_set_never_cuts_a_fold_and_validation_has_both_classes(tmp_path: Path) -> None:
    for i, name in enumerate(["dsourav", "saikan45", "apfol", "kraken000", "aksultan", "sivakumar", "x1", "x2"]):
        for j in range(6):
            _img(tmp_path / name / "live" / f"{j}.jpg", seed=100 * i + j)
            _img(tmp_path / name / "spoof" / f"{j}.jpg", seed=100 * i + 50 + j)
    samples = scan(tmp_path)
    for seed in range(5):
        doc = write_split(samples, tmp_path, tmp_path / f"out{seed}", "set", 0.3, seed)
        val_sets = {Path(f).parts[0] for f in doc["files"]["val"]}
        train_sets = {Path(f).parts[0] for f in doc["files"]["train"]}
        assert val_sets and not (val_sets & train_sets)
        tutorial = {"dsourav", "saikan45", "apfol"}
        assert tutorial <= val_sets or not (tutorial & val_sets)
        assert any((tmp_path / f).parent.name == "spoof" for f in doc["files"]["val"])
        assert json.loads((tmp_path / f"out{seed}" / "split.json").read_text())["counts"]["val"] == len(doc["files"]["val"])


def test_split_by_person_keeps_each_nuaa_subject_whole(tmp_path: Path) -> None:
    for subject in ("0001", "0002", "0003", "0004", "0005"):
        for k in range(3):
            _img(tmp_path / "nuaa-train" / "live" / f"{subject}_00_00_01_{k}.jpg", seed=int(subject) * 10 + k)
            _img(tmp_path / "nuaa-train" / "spoof" / f"{subject}_00_00_01_{k}.jpg", seed=int(subject) * 10 + k + 5)
    assignment = split_groups(scan(tmp_path), "person", 0.4, seed=1)
    assert set(assignment) == {f"nuaa-train/000{i}" for i in range(1, 6)}
    assert "val" in assignment.values() and "train" in assignment.values()


def test_fallback_box_frames_tight_crops_like_hog_and_refuses_whole_frames() -> None:
    box = fallback_box((200, 140, 3))
    assert box is not None
    assert box.width == box.height and box.width == pytest.approx(1.13 * 140, abs=1)
    assert box.center[0] == pytest.approx(70, abs=1)
    assert fallback_box((480, WHOLE_FRAME_MIN_SIDE + 10, 3)) is None


def test_report_flags_a_size_leak_and_cross_set_duplicates(tmp_path: Path) -> None:
    for j in range(4):
        _img(tmp_path / "leaky" / "live" / f"{j}.jpg", size=(200, 240), seed=j)
        _img(tmp_path / "leaky" / "spoof" / f"{j}.jpg", size=(80, 96), seed=10 + j)
        _img(tmp_path / "fair" / "live" / f"{j}.jpg", size=(200, 240), seed=20 + j)
        _img(tmp_path / "fair" / "spoof" / f"{j}.jpg", size=(200, 240), seed=30 + j)
    _img(tmp_path / "copycat" / "live" / "0.jpg", size=(120, 144), seed=0)  # re-sized copy of leaky/live/0
    doc = data_report(scan(tmp_path))
    assert any(f.startswith("size_leak leaky") for f in doc["flags"])
    assert not any(f.startswith("size_leak fair") for f in doc["flags"])
    assert doc["cross_set_near_duplicates"].get("copycat ~ leaky", 0) >= 1
    assert doc["sets"]["leaky"]["spoof"]["median_width"] == 80


def test_dhash_survives_resizing_but_not_a_different_image() -> None:
    rng = np.random.default_rng(0)
    grey = cv2.resize(rng.integers(0, 256, size=(8, 8)).astype(np.uint8), (128, 128), interpolation=cv2.INTER_CUBIC)
    other = cv2.resize(rng.integers(0, 256, size=(8, 8)).astype(np.uint8), (128, 128), interpolation=cv2.INTER_CUBIC)
    same = bin(dhash(grey) ^ dhash(cv2.resize(grey, (70, 70), interpolation=cv2.INTER_AREA))).count("1")
    diff = bin(dhash(grey) ^ dhash(other)).count("1")
    assert same <= 4 < diff


def test_identity_clusters_split_people_within_a_set_and_never_across_sets() -> None:
    from ml.datasets.identity import cluster_persons, is_known

    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, 128), rng.normal(0, 1, 128)
    a, b = 0.5 * a / np.linalg.norm(a), 0.5 * b / np.linalg.norm(b) + 0.6  # far apart (> 0.55)
    enc = np.stack(
        [a + rng.normal(0, 0.01, 128) for _ in range(3)] + [b + rng.normal(0, 0.01, 128) for _ in range(2)] + [a, np.full(128, np.nan)]
    )
    sets = np.array(["s"] * 5 + ["t", "t"])
    persons = cluster_persons(enc, sets, sets)
    assert list(persons[:5]) == ["s/p0"] * 3 + ["s/p1"] * 2  # the larger cluster is p0
    assert persons[5] == "t/p0" and persons[6] == "t/?"  # same face as s/p0, other set: not merged
    assert list(is_known(persons)) == [True] * 6 + [False]


def test_scan_follows_symlinked_set_folders(tmp_path: Path) -> None:
    _img(tmp_path / "store" / "s1" / "live" / "1.jpg")
    (tmp_path / "view").mkdir()
    (tmp_path / "view" / "s1").symlink_to(tmp_path / "store" / "s1")
    (s,) = scan(tmp_path / "view")
    assert s.set_name == "s1" and s.path.name == "1.jpg"
