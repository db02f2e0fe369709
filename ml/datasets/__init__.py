"""Labelled face data: folder layout, service-path face crops with caches, splits and reports."""

from ml.datasets.faces import CropSet, crop_files, detect_files
from ml.datasets.layout import LIVE, PAD_FOLDS, SPOOF, Sample, fold_of, scan

__all__ = ["LIVE", "PAD_FOLDS", "SPOOF", "CropSet", "Sample", "crop_files", "detect_files", "fold_of", "scan"]
