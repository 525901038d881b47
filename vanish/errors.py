"""Errors that tell the user which sample, which file and what to do."""

from __future__ import annotations


class VanishError(Exception):
    """Base class: a problem with the user's inputs or setup, not a bug."""


class InputError(VanishError):
    """A sample's input is unusable; the message names the sample, the file and the fix."""

    def __init__(self, sample: str, path: object, problem: str, fix: str) -> None:
        self.sample, self.path, self.problem, self.fix = sample, str(path), problem, fix
        super().__init__(f"sample '{sample}': {problem} (file: {path}). Fix: {fix}")


class SampleSheetError(VanishError):
    """The sample sheet itself is malformed."""


# How to get cv2.xphoto (classical.spatial_fill auto, fsr, fsr_mean): README, OpenCV's two builds
OPENCV_CONTRIB_FIX = (
    "install OpenCV's contrib build over the plain one: pip install --no-deps --force-reinstall "
    "opencv-contrib-python-headless==<its version> after everything else (`make install` "
    "does this), or set classical.spatial_fill to mean"
)
