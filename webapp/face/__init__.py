"""A small typed face library: decode, detect, landmarks, encode, quality, crop, match.

Functions take numpy arrays and return plain values; dlib types never leave this package.
"""

from webapp.face.crop import CropSpec, crop_box, crop_face
from webapp.face.engine import DetectorSettings, FaceEngine
from webapp.face.image import (
    ImageError,
    ImageLimits,
    NotAnImage,
    OversizedImage,
    UnsupportedImage,
    decode_image,
    encode_jpeg,
    read_image_file,
)
from webapp.face.match import MatchResult, best_distance, match
from webapp.face.quality import measure_quality
from webapp.face.types import Box, FaceObservation, Quality

__all__ = [
    "Box",
    "CropSpec",
    "DetectorSettings",
    "FaceEngine",
    "FaceObservation",
    "ImageError",
    "ImageLimits",
    "MatchResult",
    "NotAnImage",
    "OversizedImage",
    "Quality",
    "UnsupportedImage",
    "best_distance",
    "crop_box",
    "crop_face",
    "decode_image",
    "encode_jpeg",
    "match",
    "measure_quality",
    "read_image_file",
]
