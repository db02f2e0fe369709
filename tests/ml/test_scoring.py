"""Enrollment simulation for the Siamese model: who enrolls, who is scored, against whom."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ml.datasets.layout import session_of
from ml.scoring import calibrated, enrollment_mask, fit_calibration, min_distances, same_session_probes


def test_multi_session_people_enroll_from_their_first_session_and_are_probed_in_later_ones() -> None:
    persons = np.array(["x/p0"] * 10 + ["y/p0"] * 6)
    labels = np.array([1] * 8 + [0] * 2 + [1] * 5 + [0])
    sessions = np.array(["01"] * 4 + ["02"] * 4 + ["01", "02"] + [""] * 6)
    for seed in range(5):
        refs = enrollment_mask(persons, labels, 2, seed, sessions=sessions)
        assert refs.sum() == 4
        assert set(sessions[refs & (persons == "x/p0")]) == {"01"}
        excluded = same_session_probes(persons, labels, sessions, refs)
        # x's two other session-01 live frames are dropped; y (one session) keeps all probes.
        assert excluded.sum() == 2 and set(sessions[excluded]) == {"01"} and not excluded[10:].any()


def test_people_without_enough_live_images_do_not_enroll_and_unknown_faces_never_do() -> None:
    persons = np.array(["a/p0"] * 3 + ["b/?"] * 8)
    labels = np.ones(11, int)
    refs = enrollment_mask(persons, labels, 3, 0)
    assert not refs.any()  # a/p0 would have no probe left; b is of unknown identity


def test_probes_are_measured_against_their_own_persons_references_only() -> None:
    emb = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [0.0, 0.2], [5.0, 5.1]])
    persons = np.array(["a", "a", "b", "a", "b"])
    refs = np.array([True, False, True, False, False])
    d = min_distances(emb, persons, refs)
    assert np.isnan(d[0]) and np.isnan(d[2])
    np.testing.assert_allclose(d[[1, 3, 4]], [0.1, 0.2, 0.1])


def test_calibration_maps_near_to_live_and_far_to_spoof() -> None:
    dist = np.array([0.1, 0.2, 0.15, 0.9, 1.1, 1.0])
    labels = np.array([1, 1, 1, 0, 0, 0])
    cal = fit_calibration(dist, labels)
    p = calibrated(np.array([0.1, 1.1]), cal)
    assert cal["a"] < 0 and p[0] > 0.5 > p[1]


def test_nuaa_sessions_come_from_the_file_name() -> None:
    assert session_of("nuaa-train", Path("0001_00_00_02_115.jpg")) == "02"
    assert session_of("aksultan", Path("0001_00_00_02_115.jpg")) == ""
