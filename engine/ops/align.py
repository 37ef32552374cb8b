"""Aligning a reference frame onto a shot frame of the same setup (another take or angle), so
that a colour transform can be fitted on pixels that show the same scene points.

Method: ORB features (Rublee et al., "ORB: an efficient alternative to SIFT or SURF", ICCV
2011), brute-force Hamming matching with Lowe's ratio test (Lowe, IJCV 2004), and a
homography fitted with RANSAC (Fischler & Bolles 1981) through OpenCV. A homography is exact
for a camera that rotates or for a far, planar scene, and a fair approximation between nearby
angles of one setup; pixels it cannot map (outside the reference's view) are left out of the
fit, and a RANSAC inlier count too low to trust means "not aligned", never a guess.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: Frames are matched at most this wide (pixels); the homography is scaled back up.
MATCH_WIDTH = 640
#: Fewer RANSAC inliers than this, and the pair is not considered aligned.
MIN_INLIERS = 40


@dataclass(frozen=True)
class Alignment:
    """A reference frame warped onto the shot's framing.

    Attributes:
        warped: uint8 [H, W, 3] RGB — the reference seen from the shot's framing.
        valid: bool [H, W] — True where ``warped`` shows reference pixels.
        inliers: RANSAC inliers behind the homography.
        homography: float64 [3, 3] taking reference pixels to shot pixels (e.g. to warp a
            mask of the reference the same way).
    """

    warped: np.ndarray
    valid: np.ndarray
    inliers: int
    homography: np.ndarray | None = None


def _grey(frame: np.ndarray, scale: float) -> np.ndarray:
    small = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else frame
    return cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)


def align_to_shot(shot_frame: np.ndarray, reference_frame: np.ndarray) -> Alignment | None:
    """Warp ``reference_frame`` onto ``shot_frame``'s framing by a feature homography.

    Args:
        shot_frame: uint8 [H, W, 3] RGB.
        reference_frame: uint8 [h, w, 3] RGB, any size, possibly graded differently
            (features are matched on grey gradients, which a grade changes little).

    Returns:
        :class:`Alignment`, or None when the frames cannot be aligned with confidence
        (too few features or RANSAC inliers).
    """
    return ShotAligner(shot_frame).align(reference_frame)


class ShotAligner:
    """Aligns any number of frames onto one shot frame (its features are found once).

    Args:
        shot_frame: uint8 [H, W, 3] RGB.
        features: ORB features detected per frame (more: slower matching, more robust).
    """

    def __init__(self, shot_frame: np.ndarray, *, features: int = 3000) -> None:
        self._shot_frame = shot_frame
        self._shot_scale = min(1.0, MATCH_WIDTH / shot_frame.shape[1])
        self._orb = cv2.ORB_create(nfeatures=features)
        # Equalised grey images, so that a difference of exposure or grade does not decide the matches.
        self._shot_keys, self._shot_desc = self._orb.detectAndCompute(
            cv2.equalizeHist(_grey(shot_frame, self._shot_scale)), None)

    def align(self, reference_frame: np.ndarray) -> Alignment | None:
        """Warp ``reference_frame`` (uint8 [h, w, 3] RGB, any size) onto the shot frame's framing;
        None when it cannot be aligned with confidence (see :func:`align_to_shot`)."""
        shot_frame, shot_scale = self._shot_frame, self._shot_scale
        shot_keys, shot_desc = self._shot_keys, self._shot_desc
        reference_scale = min(1.0, MATCH_WIDTH / reference_frame.shape[1])
        ref_keys, ref_desc = self._orb.detectAndCompute(cv2.equalizeHist(_grey(reference_frame, reference_scale)), None)
        if shot_desc is None or ref_desc is None or len(shot_keys) < MIN_INLIERS or len(ref_keys) < MIN_INLIERS:
            return None
        pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(ref_desc, shot_desc, k=2)
        good = [m for m, n in (p for p in pairs if len(p) == 2) if m.distance < 0.75 * n.distance]
        if len(good) < MIN_INLIERS:
            return None
        source = np.float32([ref_keys[m.queryIdx].pt for m in good]) / reference_scale
        target = np.float32([shot_keys[m.trainIdx].pt for m in good]) / shot_scale
        homography, inlier_mask = cv2.findHomography(source, target, cv2.RANSAC, ransacReprojThreshold=3.0 / shot_scale)
        inliers = int(inlier_mask.sum()) if inlier_mask is not None else 0
        if homography is None or inliers < MIN_INLIERS:
            return None
        height, width = shot_frame.shape[:2]
        warped = cv2.warpPerspective(reference_frame, homography, (width, height), flags=cv2.INTER_LINEAR)
        coverage = cv2.warpPerspective(np.full(reference_frame.shape[:2], 255, np.uint8), homography, (width, height),
                                       flags=cv2.INTER_NEAREST)
        # Stay two pixels clear of the warped border, where interpolation mixes in black.
        valid = cv2.erode(coverage, np.ones((5, 5), np.uint8)) == 255
        return Alignment(warped=warped, valid=valid, inliers=inliers, homography=homography)
