"""The parameter types of every fix, importable without torch or OpenCV.

Web processes check a fix request's parameters (``reviews.fixes.clean_parameters``) with these
types; only workers import the fix modules that run them (``engine.fixes.match`` etc., which
re-export their type from here). Each type is a frozen dataclass with ``from_dict`` (checks and
normalises, raising :class:`~engine.errors.ParameterError` naming what is wrong) and ``to_dict``
(JSON-serialisable, its inverse). This module imports numpy and the engine's contracts
(:mod:`engine.errors`, :mod:`engine.params`) only; ``tests/portal/test_web_imports.py`` holds it
to that.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from engine.errors import ParameterError
from engine.params import check_limits, check_number, params_from_dict

if TYPE_CHECKING:
    from engine.media.decode import FrameSource
    from engine.ops import region


#: Shot match methods: Pitié & Kokaram 2007 (linear Monge–Kantorovich), Reinhard et al. 2001,
#: and Loupe's balance (exposure and white balance, then MKL and tone curves, in ACEScct).
METHODS = ("mkl", "reinhard", "balance")


@dataclass(frozen=True)
class MatchParams:
    """Parameters of a shot match.

    Attributes:
        sample_stride: statistics use every ``sample_stride``-th frame of the shot and
            of the reference (frames first, first+stride, …); integer >= 1.
        strength: 0..1 blend from the shot as it is (0) to the full transfer (1).
        max_std_ratio: bound on the scale of the transfer — the per-channel ratio
            σ_reference / σ_shot (reinhard) or the eigenvalues of T (mkl) are clamped
            to ``[1 / max_std_ratio, max_std_ratio]``; finite, >= 1.
        method: ``"mkl"`` (Pitié & Kokaram 2007, full covariance; default),
            ``"reinhard"`` (Reinhard et al. 2001, per-channel mean and deviation) or
            ``"balance"`` (exposure and white balance, then MKL for the rest, in ACEScct).
        pixels_correspond: True when the reference has the same framing as the shot
            (another take locked off, or the same plate) and frame ``shot.first + i``
            corresponds to ``reference.first + i``; adds per-pixel ΔE2000 measurements.
        align: True when the reference is another take or angle of the same setup:
            each sampled reference frame is aligned onto the sampled shot frame of the
            same index by a feature homography (:mod:`engine.ops.align`) and the transform
            is fitted on the pixels both show. Raises ParameterError if no pair aligns.
        reference_box, shot_box: the region exposure and white balance are measured on
            (``balance`` only): ``(left, top, right, bottom)`` as fractions 0..1 of the
            frame's width and height; ``shot_box`` None takes ``reference_box`` (same framing).

    Raises:
        ParameterError: a value has the wrong type or is out of range.
    """

    sample_stride: int = 4
    strength: float = 1.0
    max_std_ratio: float = 4.0
    method: str = "mkl"
    pixels_correspond: bool = False
    align: bool = False
    reference_box: tuple[float, float, float, float] | None = None
    shot_box: tuple[float, float, float, float] | None = None

    def __post_init__(self) -> None:
        for name in ("reference_box", "shot_box"):
            object.__setattr__(self, name, check_box(name, getattr(self, name)))
        if (self.reference_box or self.shot_box) and self.method != "balance":
            raise ParameterError("reference_box and shot_box are for the balance method (exposure and white balance "
                                 f"measured on a region); method is {self.method!r}")
        if self.shot_box and not self.reference_box:
            raise ParameterError("shot_box needs reference_box: the region of the reference to balance to")
        if self.method not in METHODS:
            raise ParameterError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        for name in ("pixels_correspond", "align"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ParameterError(f"{name} must be true or false, got {getattr(self, name)!r}")
            object.__setattr__(self, name, bool(getattr(self, name)))
        if self.align and self.pixels_correspond:
            raise ParameterError("align and pixels_correspond exclude each other: aligned pixels already correspond")
        stride = self.sample_stride
        if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or stride < 1:
            raise ParameterError(f"sample_stride must be an integer >= 1 (frames), got {stride!r}")
        object.__setattr__(self, "sample_stride", int(stride))
        for name in ("strength", "max_std_ratio"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
                raise ParameterError(f"{name} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ParameterError(f"{name} must be finite, got {value!r}")
            object.__setattr__(self, name, float(value))
        if not 0.0 <= self.strength <= 1.0:
            raise ParameterError(f"strength must be between 0 and 1, got {self.strength}")
        if self.max_std_ratio < 1.0:
            raise ParameterError(f"max_std_ratio must be >= 1, got {self.max_std_ratio}")

    @classmethod
    def from_dict(cls, values: Mapping[str, object]) -> MatchParams:
        """Build parameters from a mapping (e.g. a fix request's stored JSON).

        Missing keys take their defaults.

        Raises:
            ParameterError: ``values`` is not a mapping, has unknown keys (named in the
                message), or a value is invalid.
        """
        return params_from_dict(cls, values, "shot match")

    def to_dict(self) -> dict[str, int | float | str | bool]:
        """The parameters as a JSON-serialisable dict (the inverse of :meth:`from_dict`)."""
        return dataclasses.asdict(self)


def check_box(name: str, box: object) -> tuple[float, float, float, float] | None:
    """``box`` as (left, top, right, bottom) fractions 0..1 of the frame, or None.

    Raises:
        ParameterError: not four finite numbers with 0 <= left < right <= 1 and 0 <= top < bottom <= 1.
    """
    if box is None:
        return None
    try:
        values = tuple(float(v) for v in box)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be [left, top, right, bottom] fractions of the frame, got {box!r}") from None
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise ParameterError(f"{name} must be four finite numbers [left, top, right, bottom], got {box!r}")
    left, top, right, bottom = values
    if not (0.0 <= left < right <= 1.0 and 0.0 <= top < bottom <= 1.0):
        raise ParameterError(f"{name} must satisfy 0 <= left < right <= 1 and 0 <= top < bottom <= 1 "
                             f"(fractions of the frame), got {list(values)}")
    return values


@dataclass(frozen=True)
class RelightParams:
    """Parameters of lighting harmonisation.

    Attributes:
        sample_stride: statistics use every ``sample_stride``-th frame (integer >= 1).
        smoothing_frames: σ of the temporal Gaussian on the shot's statistics, in
            frames (>= 0; 0 = one CDL for the whole shot).
        match_exposure, match_white_balance, match_contrast: which parts to match.
        max_contrast: the contrast (CDL power) is clamped to [1/max, max] (>= 1).
        strength: 0..1 blend from no correction (0) to the full one, applied to the
            CDL's parameters (in log for slope and power).
        pixels_correspond: as :attr:`engine.fixes.match.MatchParams.pixels_correspond`.

    Raises:
        ParameterError: a value has the wrong type or is out of range.
    """

    sample_stride: int = 2
    smoothing_frames: float = 24.0
    match_exposure: bool = True
    match_white_balance: bool = True
    match_contrast: bool = True
    max_contrast: float = 2.0
    strength: float = 1.0
    pixels_correspond: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "sample_stride", check_number("sample_stride", self.sample_stride, low=1,
                                                                high=10_000, integer=True))
        object.__setattr__(self, "smoothing_frames", check_number("smoothing_frames", self.smoothing_frames,
                                                                   low=0.0, high=1e6))
        object.__setattr__(self, "max_contrast", check_number("max_contrast", self.max_contrast, low=1.0, high=10.0))
        object.__setattr__(self, "strength", check_number("strength", self.strength, low=0.0, high=1.0))
        for name in ("match_exposure", "match_white_balance", "match_contrast", "pixels_correspond"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ParameterError(f"{name} must be true or false, got {getattr(self, name)!r}")
            object.__setattr__(self, name, bool(getattr(self, name)))

    @classmethod
    def from_dict(cls, values: Mapping[str, object]) -> RelightParams:
        """Build from a mapping (missing keys take defaults).

        Raises:
            ParameterError: not a mapping, unknown keys (named), or invalid values.
        """
        return params_from_dict(cls, values, "relight")

    def to_dict(self) -> dict[str, int | float | bool]:
        """JSON-serialisable dict, the inverse of :meth:`from_dict`."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class RemovalParams:
    """Parameters of an object removal.

    The masks come from exactly one of ``mask_folder``, ``box`` or ``polygon`` — or from the
    ``masks`` argument of :func:`run` (then all three are None).

    Attributes:
        margin_px: the mask is dilated by this many pixels (integer 0..64); the dilated
            mask is the region the fix may change.
        mask_folder: folder of per-frame mask images (image N masks frame N; white = object).
        box: ``[x, y, w, h]`` in pixels on frame ``mask_frame``, tracked through the shot.
        polygon: ``[[x, y], ...]`` (3 or more points) on frame ``mask_frame``, tracked.
        mask_frame: the frame number the box or polygon is drawn on (counted from 0 at the
            start of the clip); None = the shot's first frame.
        window_frames: frames finished together (integer 1..240).
        context_frames: frames before and after the window also used as sources (0..240).
        regrain: add grain matching the plate inside the region.
        inpaint_model: path of the production's inpainting model
            (:class:`engine.models.inpaint.InpaintModel`), or None: one more source of the
            fusion for what no frame shows, used only if it beat the classical fill on the
            production's held-out frames (its ``heldout`` figures).

    Raises:
        ParameterError: a value of the wrong type or out of range, or several mask sources.
    """

    margin_px: int = 4
    mask_folder: str | None = None
    box: tuple[float, float, float, float] | None = None
    polygon: tuple[tuple[float, float], ...] | None = None
    mask_frame: int | None = None
    window_frames: int = 20
    context_frames: int = 10
    regrain: bool = True
    inpaint_model: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "margin_px", check_number("margin_px", self.margin_px, low=0, high=64, integer=True))
        object.__setattr__(self, "window_frames",
                           check_number("window_frames", self.window_frames, low=1, high=240, integer=True))
        object.__setattr__(self, "context_frames",
                           check_number("context_frames", self.context_frames, low=0, high=240, integer=True))
        if not isinstance(self.regrain, (bool, np.bool_)):
            raise ParameterError(f"regrain must be true or false, got {self.regrain!r}")
        object.__setattr__(self, "regrain", bool(self.regrain))
        if self.inpaint_model is not None and not isinstance(self.inpaint_model, str):
            raise ParameterError(f"inpaint_model must be a model file path, got {self.inpaint_model!r}")
        if self.mask_folder is not None and not isinstance(self.mask_folder, str):
            raise ParameterError(f"mask_folder must be a folder path, got {self.mask_folder!r}")
        if self.box is not None:
            if not isinstance(self.box, Sequence) or isinstance(self.box, str) or len(self.box) != 4:
                raise ParameterError(f"box must be [x, y, w, h] in pixels, got {self.box!r}")
            box = tuple(check_number(f"box[{i}]", v, low=-1e6, high=1e6) for i, v in enumerate(self.box))
            from engine.ops import region  # OpenCV: only the command line names a box (the portal draws masks)

            region.box_polygon(box)  # checks the width and height
            object.__setattr__(self, "box", box)
        if self.polygon is not None:
            if (not isinstance(self.polygon, Sequence) or isinstance(self.polygon, str) or len(self.polygon) < 3
                    or any(not isinstance(p, Sequence) or len(p) != 2 for p in self.polygon)):
                raise ParameterError(f"polygon must be [[x, y], ...] with at least 3 points, got {self.polygon!r}")
            points = tuple(tuple(check_number("polygon point", v, low=-1e6, high=1e6) for v in p)
                           for p in self.polygon)
            object.__setattr__(self, "polygon", points)
        given = [name for name in ("mask_folder", "box", "polygon") if getattr(self, name) is not None]
        if len(given) > 1:
            raise ParameterError(f"give the masks one way, not {' and '.join(given)}")
        if self.mask_frame is not None:
            object.__setattr__(self, "mask_frame",
                               check_number("mask_frame", self.mask_frame, low=0, high=10**9, integer=True))
            if not (self.box or self.polygon):
                raise ParameterError("mask_frame is the frame a box or polygon is drawn on; give a box or polygon")

    @classmethod
    def from_dict(cls, values: Mapping[str, object]) -> RemovalParams:
        """Build parameters from a mapping (e.g. a fix request's stored JSON); missing keys
        take their defaults; lists become tuples.

        Raises:
            ParameterError: not a mapping, unknown keys (named), or an invalid value.
        """
        return params_from_dict(cls, values, "object removal")

    def to_dict(self) -> dict[str, object]:
        """JSON-serialisable dict (the inverse of :meth:`from_dict`; tuples become lists)."""
        values = dataclasses.asdict(self)
        if self.box is not None:
            values["box"] = list(self.box)
        if self.polygon is not None:
            values["polygon"] = [list(p) for p in self.polygon]
        return values

    def mask_stream(self, shot: FrameSource, *,
                    should_cancel: Callable[[], bool] | None = None) -> region.MaskStream | None:
        """The :class:`engine.ops.region.MaskStream` these parameters name (tracking a box or a
        polygon through ``shot`` now), or None when they name none."""
        from engine.ops import region  # OpenCV, on the worker: this module stays importable without it

        if self.mask_folder is not None:
            return region.MaskFolder(self.mask_folder)
        if self.box is None and self.polygon is None:
            return None
        polygon = region.box_polygon(self.box) if self.box is not None else np.float32(self.polygon)
        frame = shot.frame_range.start if self.mask_frame is None else self.mask_frame
        return region.track_polygon(shot, polygon, frame, should_cancel=should_cancel)


@dataclass(frozen=True)
class PlateParams:
    """Parameters of a clean plate.

    Attributes:
        reference_frame: the frame whose framing the plate takes (counted from 0 at the
            start of the clip); None = the middle frame of the shot.
        max_frames: frames sampled, evenly spaced over the shot (integer 2..240).
        mask_folder: folder of per-frame mask images of what to leave out (image N masks
            frame N, white = leave out); None = only moving pixels are left out.
        margin_px: masks are dilated by this many pixels (integer 0..64).
        align: align frames onto the reference by a feature homography (a camera that
            moves); False for a locked-off camera.
        motion_threshold: a sample farther than this from the pixel's median, in 8-bit
            code values on any channel, is taken as something moving through (1..255).

    Raises:
        ParameterError: a value of the wrong type or out of range.
    """

    reference_frame: int | None = None
    max_frames: int = 32
    mask_folder: str | None = None
    margin_px: int = 4
    align: bool = True
    motion_threshold: float = 20.0

    def __post_init__(self) -> None:
        if self.reference_frame is not None:
            object.__setattr__(self, "reference_frame",
                               check_number("reference_frame", self.reference_frame, low=0, high=10**9, integer=True))
        object.__setattr__(self, "max_frames", check_number("max_frames", self.max_frames, low=2, high=240, integer=True))
        object.__setattr__(self, "margin_px", check_number("margin_px", self.margin_px, low=0, high=64, integer=True))
        object.__setattr__(self, "motion_threshold",
                           check_number("motion_threshold", self.motion_threshold, low=1, high=255))
        if not isinstance(self.align, (bool, np.bool_)):
            raise ParameterError(f"align must be true or false, got {self.align!r}")
        object.__setattr__(self, "align", bool(self.align))
        if self.mask_folder is not None and not isinstance(self.mask_folder, str):
            raise ParameterError(f"mask_folder must be a folder path, got {self.mask_folder!r}")

    @classmethod
    def from_dict(cls, values: Mapping[str, object]) -> PlateParams:
        """Build parameters from a mapping; missing keys take their defaults.

        Raises:
            ParameterError: not a mapping, unknown keys (named), or an invalid value.
        """
        return params_from_dict(cls, values, "clean plate")

    def to_dict(self) -> dict[str, object]:
        """JSON-serialisable dict (the inverse of :meth:`from_dict`)."""
        return dataclasses.asdict(self)


#: Matte methods: chroma keys by screen colour, or the difference against a clean plate.
KEYS = ("green", "blue", "clean_plate", "sky")


@dataclass(frozen=True)
class BackgroundParams:
    """Parameters of a background replacement.

    Attributes:
        key: ``"green"`` / ``"blue"`` (chroma key against that screen), ``"clean_plate"``
            (difference key; the run needs a clean plate) or ``"sky"`` (the matte is a mask
            sequence of the region to replace — the shot's sky, proposed automatically by
            :mod:`engine.ops.sky` or segmented from a drawn outline — and only that region and
            the light wrap's margin change).
        harmonise_strength: 0..1, how far the foreground's colour is moved toward the plate's
            (``"sky"``: how far the new plate's colour is moved toward the shot's own sky, so the
            foreground stays bit-identical).
        light_wrap: 0..1, weight of the plate's blurred light over the foreground's edges.
        regrain: add the shot's grain over the new background.
        temporal_carry: 0..0.95, weight of the previous frame's matte carried along optical flow.

    Raises:
        ParameterError: a value has the wrong type or is out of range.
    """

    key: str = "green"
    harmonise_strength: float = 0.5
    light_wrap: float = 0.3
    regrain: bool = True
    temporal_carry: float = 0.3

    def __post_init__(self) -> None:
        if self.key not in KEYS:
            raise ParameterError(f"key must be one of {', '.join(KEYS)}, got {self.key!r}")
        if not isinstance(self.regrain, (bool, np.bool_)):
            raise ParameterError(f"regrain must be true or false, got {self.regrain!r}")
        object.__setattr__(self, "regrain", bool(self.regrain))
        check_limits(self, {"harmonise_strength": (0.0, 1.0, False), "light_wrap": (0.0, 1.0, False),
                            "temporal_carry": (0.0, 0.95, False)})

    @classmethod
    def from_dict(cls, values: Mapping[str, object]) -> BackgroundParams:
        """Build parameters from a mapping (e.g. a fix request's stored JSON); missing keys take
        their defaults. Raises ParameterError on unknown keys or invalid values."""
        return params_from_dict(cls, values, "background replacement")

    def to_dict(self) -> dict[str, object]:
        """The parameters as a JSON-serialisable dict (the inverse of :meth:`from_dict`)."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class RebuildParams:
    """Parameters of a frame rebuild.

    Attributes:
        missing: frame numbers (counted from 0 at the start of the clip) to rebuild; each
            must lie inside the shot's frame range. Order and repeats do not matter.
        flow_width: optical flow is computed on frames scaled to at most this many pixels
            wide (integer 64..4096); the vectors are scaled back to the full frame.

    Raises:
        ParameterError: a value has the wrong type or is out of range.
    """

    missing: tuple[int, ...] = ()
    flow_width: int = 640

    def __post_init__(self) -> None:
        if isinstance(self.missing, (str, bytes)) or not isinstance(self.missing, Iterable):
            raise ParameterError(f"missing must be a list of frame numbers, got {self.missing!r}")
        numbers = [check_number("missing frame", value, low=0, integer=True) for value in self.missing]
        object.__setattr__(self, "missing", tuple(sorted(set(numbers))))
        object.__setattr__(self, "flow_width", check_number("flow_width", self.flow_width, low=64, high=4096,
                                                            integer=True))

    @classmethod
    def from_dict(cls, values: Mapping[str, object]) -> RebuildParams:
        """Build parameters from a mapping (e.g. a fix request's stored JSON); missing keys take
        their defaults. Raises ParameterError on unknown keys or invalid values."""
        return params_from_dict(cls, values, "frame rebuild")

    def to_dict(self) -> dict[str, object]:
        """The parameters as a JSON-serialisable dict (the inverse of :meth:`from_dict`)."""
        values = dataclasses.asdict(self)
        values["missing"] = list(self.missing)
        return values


@dataclass(frozen=True)
class ContinuityParams:
    """Parameters of a continuity check.

    Attributes:
        samples: frames sampled evenly from each take (integer 3..64).
        difference_threshold: CIELAB ΔE*ab (CIE 1976) beyond which a pixel of the two plates,
            after alignment and colour normalisation, differs (2..100).
        parallax_px: tolerance radius, analysis pixels (``ANALYSIS_WIDTH`` wide), within which
            a matching colour counts as the same (integer 0..16).
        min_area_fraction: smallest region reported, as a fraction of the frame (0..1).
        exposure_threshold_stops: a mean luminance difference beyond this many stops is a
            ``light`` finding (0..10).
        white_balance_threshold: a mean chroma (a*, b*) difference beyond this ΔE*ab is a
            ``light`` finding (0..100).

    Raises:
        ParameterError: a value has the wrong type or is out of range.
    """

    samples: int = 8
    difference_threshold: float = 20.0
    parallax_px: int = 3
    min_area_fraction: float = 0.002
    exposure_threshold_stops: float = 0.5
    white_balance_threshold: float = 6.0

    def __post_init__(self) -> None:
        check_limits(self, {"samples": (3, 64, True), "difference_threshold": (2.0, 100.0, False),
                            "parallax_px": (0, 16, True), "min_area_fraction": (0.0, 1.0, False),
                            "exposure_threshold_stops": (0.0, 10.0, False),
                            "white_balance_threshold": (0.0, 100.0, False)})

    @classmethod
    def from_dict(cls, values: Mapping[str, object]) -> ContinuityParams:
        """Build parameters from a mapping (e.g. a fix request's stored JSON); missing keys take
        their defaults. Raises ParameterError on unknown keys or invalid values."""
        return params_from_dict(cls, values, "continuity check")

    def to_dict(self) -> dict[str, float | int]:
        """The parameters as a JSON-serialisable dict (the inverse of :meth:`from_dict`)."""
        return dataclasses.asdict(self)
