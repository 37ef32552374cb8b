"""Background replacement: a shot's foreground, pulled by a matte (:mod:`engine.ops.matte`), composited
over a new background plate.

Per frame:

1. **Matte** — chroma key (green/blue screen) or difference key against a clean plate, cleaned,
   refined by the guided filter and carried along optical flow (:class:`engine.ops.matte.MatteSequence`);
   or, with ``key="sky"``, a mask sequence of the region to replace (the shot's sky: given as
   ``mattes``, e.g. a fix request's corrected mask sequence, else proposed by
   :func:`engine.ops.sky.sky_alphas`), the foreground's alpha being ``1 − sky``.
2. **Foreground** — spill suppressed (chroma key), then colour-harmonised to the new plate: the
   shot match's MKL transfer (Pitié & Kokaram 2007, :func:`engine.fixes.match.fit_colour_transfer`)
   from the foreground's colours (alpha > 0.95) to the plate's, fitted once on the first frame
   with at least 100 such pixels,
   applied with ``harmonise_strength`` (0 keeps the foreground's own colour) through a 33³
   lattice and trilinear interpolation (:mod:`engine.ops.lut3d`).
3. **Composite** — Porter & Duff "over" ("Compositing Digital Images", SIGGRAPH 1984):
   ``out = α·F + (1 − α)·B``.
4. **Light wrap** — the plate's light spilling round the foreground's edges: a blurred copy of
   the plate is blended in over the inner edge band of the matte (``α·(1 − blur(α))``) with weight
   ``light_wrap``.
5. **Regrain** — the shot's own grain over the new background, through :mod:`engine.ops.grain`:
   Immerkær's noise deviation per luma bin and channel and the grain size (its spatial
   correlation), measured once on the flat pixels of the shot's solid foreground (alpha > 0.95;
   the whole first frame if it has none) and once on the plate; the deviation the plate lacks,
   ``sqrt(max(σ_shot² − σ_plate², 0))`` as the estimate reads it, is added by the rule of every
   fix's regrain (:func:`engine.ops.grain.regrain_gain`: unit grain the estimate reads as 1,
   scaled per luma bin and channel so that the first plate frame as written — 8-bit codes for
   8-bit shots — reads the shot's grain) as grain of the shot's size (seeded by the frame number)
   to the plate before the blend, so the new background (weighted by 1 − α) does not look
   cleaner than the foreground.

Shots deeper than 8 bits (10/12-bit, half/float EXR) are composited in scene-linear ACEScg,
the working space :data:`WORKING_SPACE` (Porter–Duff over and the light wrap add light, which a
log or display encoding does not): the foreground (float32 at source precision, despilled and
harmonised in the clip's own encoding — grading-type steps, as the shot match's transfer is
fitted there) and the plate (from its own input colour space) are converted through OpenColorIO
to ACEScg, composited there in float, and converted back to the shot's input colour space; the
grain the plate lacks is added after that, in the clip's encoding where it was measured,
weighted by 1 − α as in the 8-bit path. The keys, the matte's refinement and the grain
estimates look at 8-bit views (the plate's converted to the shot's encoding). Where the matte
is 1 and the light wrap cannot reach (the foreground outside the declared region), the output
is the decoded source itself — bit identical at the source's depth, not a round trip through
ACEScg. A clean plate for the difference key is read as the shot's own encoding (it is the
shot's framing, as ``clean-plate`` writes it). 8-bit shots keep their code-value path
(:data:`WORKING_SPACE_8BIT`) with 8-bit plates.

Everything taken from a still plate (its float copy, its blurred light-wrap copy, its grain
deviation map) is computed once, not per frame; the harmonisation lattice is looked up once per
distinct colour.

**Sky replacement** (``key="sky"``) is the same compositor with the roles of harmonisation turned
round: the new plate (sky) is moved toward the shot's own sky (the MKL transfer fitted from the
plate's colours to the shot's pixels with sky alpha > 0.95 on the first frame that has 100 of
them, ``harmonise_strength``), so the foreground keeps its colours; light wrap and regrain as
above. Every pixel outside the matte (sky alpha 0) and the light wrap's reach is the decoded
source itself, bit-identical at the source's depth (copied, not recomputed). The articles'
example — a cloud that sneaks into one shot of a sequence that must match the others — is a sky
replacement with the clear sky of a neighbouring shot as the plate.

The region the fix changes: with a clean-plate key or the sky key and no harmonisation of the
foreground (the sky key never harmonises it), where the matte is
below 1 in any frame (the background), grown by the light wrap's reach into the foreground; with a
chroma key (despill) or ``harmonise_strength`` > 0 the foreground's colour changes too, so the
whole frame. Mattes go to ``matte_sink`` so the portal can store them with the proposal.
"""
from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator

import cv2
import numpy as np
import torch

from engine.device import single_thread
from engine.errors import ParameterError, check_cancel
from engine.fixes.match import fit_colour_transfer
from engine.fixes.result import FixResult
from engine.media.colour import COMPOSITING_SPACE, colorspace_transform
from engine.media.decode import FrameSource
from engine.media.images import quantise
from engine.ops import grain as grain_module
from engine.ops import matte as matte_module
from engine.ops import sky as sky_module
from engine.ops.lut3d import Lut3D, trilinear
from engine.fixes.params import BackgroundParams, KEYS  # noqa: F401  (moved there: importable without torch or OpenCV)

log = logging.getLogger(__name__)

#: The space deep shots are composited in: scene-linear ACEScg (see the module docstring).
WORKING_SPACE = COMPOSITING_SPACE
#: 8-bit shots are composited on their own code values (None: the clip's input colour space).
WORKING_SPACE_8BIT = None

_check_cancel = functools.partial(check_cancel, fix="background replacement")


def _held(frames, size: tuple[int, int]):
    """Yield a plate's frames resized to ``size`` (width, height), repeating its last frame forever."""
    last = None
    for _, frame in frames:
        if (frame.shape[1], frame.shape[0]) != size:
            frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
        last = frame
        yield last
    while True:
        yield last


def run(
    *,
    shot: FrameSource,
    reference: FrameSource,
    params: BackgroundParams | None = None,
    sink: Callable[[int, np.ndarray, np.ndarray], None],
    progress: Callable[[int, int], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    clean_plate: FrameSource | None = None,
    matte_sink: Callable[[int, np.ndarray], None] | None = None,
    mattes: Iterable[tuple[int, np.ndarray]] | None = None,
) -> FixResult:
    """Replace the background of ``shot`` with ``reference`` (see the module docstring).

    Args:
        shot: the frames (foreground in front of a screen, or in front of the clean plate's view).
        reference: the new background plate: a clip (frame i behind shot frame i, its last frame
            held if it is shorter) or a single image; resized to the shot's size.
        params: :class:`BackgroundParams`; defaults when None.
        sink: ``sink(frame_number, before, after)`` per frame, in order ([H, W, 3] RGB: uint8 for
            8-bit shots, float32 at source precision in the shot's input colour space for deeper ones).
        progress: ``progress(done, total)`` after each frame; total is ``len(shot)``.
        should_cancel: polled between frames; True stops the run with :class:`Cancelled`.
        clean_plate: with ``key="clean_plate"``, the shot's framing without the foreground
            (a clip, frame i for shot frame i, last held; or one image); same size as the shot.
        matte_sink: ``matte_sink(frame_number, alpha)`` with alpha uint8 [H, W] (255 = foreground).
        mattes: with ``key="sky"``, ``(frame_number, sky)`` for every frame of the shot in order,
            ``sky`` the region to replace: float32 0..1, uint8 0..255 or bool [H, W] (a mask
            sequence, e.g. :class:`engine.ops.region.MaskStream` ``masks()`` or
            :func:`engine.ops.sky.sky_alphas`); None: the automatic sky proposal.

    Returns:
        :class:`engine.fixes.result.FixResult`; ``measurements``: ``foreground_fraction`` (mean alpha),
        ``matte_temporal_change`` (mean |α_t − α_(t−1)| over the shot, 0..1),
        ``grain_sigma_shot`` and ``grain_sigma_plate`` (:attr:`engine.ops.grain.Grain.mean_sigma`: Immerkær's
        deviation over luma bins and channels, code values),
        ``frames_per_second``.

    Raises:
        ParameterError: invalid params; ``key="clean_plate"`` without a clean plate (or a clean
            plate with a chroma key); a clean plate of another size; no screen colour in a frame;
            ``mattes`` without ``key="sky"``, or a matte of another size or frame number.
        NoSkyFound: ``key="sky"`` without ``mattes`` and the shot has no sky the proposal finds.
        FrameSourceError: a clip cannot be decoded.
        Cancelled: ``should_cancel()`` returned True.
    """
    deep = not shot.encoding.is_8bit
    if not deep:
        reference.require_8bit("background replacement of an 8-bit shot")
    params = params if params is not None else BackgroundParams()
    if not isinstance(params, BackgroundParams):
        raise ParameterError(f"params must be BackgroundParams (use BackgroundParams.from_dict for stored JSON), "
                             f"got {type(params).__name__}")
    if params.key == "clean_plate" and clean_plate is None:
        raise ParameterError("key clean_plate needs a clean plate: the shot's framing without the foreground")
    if params.key != "clean_plate" and clean_plate is not None:
        raise ParameterError(f"a clean plate was given but the key is {params.key}; use key clean_plate")
    if mattes is not None and params.key != "sky":
        raise ParameterError(f"a mask sequence was given but the key is {params.key}; use key sky")
    width, height = shot.clip_probe.width, shot.clip_probe.height
    sky_mattes = None
    if params.key == "sky":
        sky_mattes = iter(mattes if mattes is not None else sky_module.sky_alphas(shot, should_cancel=should_cancel))
    recolours_foreground = params.key in matte_module.SCREENS or (
        params.harmonise_strength > 0 and params.key != "sky")
    if clean_plate is not None and (clean_plate.clip_probe.width, clean_plate.clip_probe.height) != (width, height):
        raise ParameterError(
            f"the clean plate is {clean_plate.clip_probe.width}x{clean_plate.clip_probe.height} but the shot "
            f"{width}x{height}; it must have the shot's framing")
    if deep:
        linear = _Linear(shot.colorspace, reference.colorspace)
        plates = (linear.plate(plate) for plate in _held(reference.frames(as_float=True), (width, height)))
        cleans = (_held((( n, quantise(f, np.uint8)) for n, f in clean_plate.frames(as_float=True)), (width, height))
                  if clean_plate is not None else None)
    else:
        plates = _held(reference.frames(), (width, height))
        cleans = _held(clean_plate.frames(), (width, height)) if clean_plate is not None else None
    sequence = matte_module.MatteSequence(carry=params.temporal_carry)
    sky_plates = _SkyPlates(params.harmonise_strength, linear if deep else None)
    region = np.zeros((height, width), bool)
    harmoniser: _Harmoniser | None = None
    regrain: _Regrain | None = None
    plate_cache: _PlateCache | None = None
    previous_alpha: np.ndarray | None = None
    changes: list[float] = []
    alpha_means: list[float] = []
    done = 0
    started = time.perf_counter()
    for number, source in shot.frames(as_float=deep):
        _check_cancel(should_cancel, f"at frame {number}")
        plate = next(plates)
        frame = quantise(source, np.uint8) if deep else source  # what the keys look at
        if sky_mattes is not None:
            alpha = 1.0 - _sky_matte(sky_mattes, number, (height, width))
            foreground = source
        elif params.key == "clean_plate":
            raw = matte_module.difference_key(frame, next(cleans))
            foreground = source
        else:
            raw = matte_module.chroma_key(frame, params.key)
            foreground = matte_module.despill(source, params.key)
        if sky_mattes is None:
            alpha = sequence.add(frame, matte_module.refine(frame, matte_module.clean(raw)))
        solid = alpha > 0.95
        if sky_mattes is not None:
            plate = sky_plates.plate(plate, frame, alpha, deep)
        elif harmoniser is None and params.harmonise_strength > 0 and np.count_nonzero(solid) >= 100:
            # Fitted on the first frame with some solid foreground (frames before it have none to change).
            harmoniser = _Harmoniser(frame if deep else foreground, solid, plate.view if deep else plate,
                                     params.harmonise_strength)
        if regrain is None:
            regrain = _Regrain(frame, solid, plate.view if deep else plate, quantised=not deep)
        if harmoniser is not None:
            foreground = harmoniser.apply(foreground, alpha > 0)  # only pixels the matte keeps show
        if deep:
            if plate_cache is None or plate_cache.plate is not plate.working:
                plate_cache = _PlateCache(plate.working, params.light_wrap, None)
            after = linear.composite(source, foreground, plate, plate_cache, alpha, params.light_wrap,
                                     regrain if params.regrain else None, seed=number,
                                     recoloured=harmoniser is not None or params.key in matte_module.SCREENS)
        else:
            if plate_cache is None or plate_cache.plate is not plate:  # a clip plate: every frame; a still: once
                plate_cache = _PlateCache(plate, params.light_wrap, regrain if params.regrain else None)
            after = _composite(foreground, plate_cache, alpha, params.light_wrap, seed=number)
            if not recolours_foreground:  # the source itself outside the matte and the light wrap's reach
                kept = ~(_wrap_reach(alpha < 1.0, alpha.shape) if params.light_wrap > 0 else alpha < 1.0)
                after[kept] = source[kept]
        region |= alpha < 1.0
        if previous_alpha is not None:
            changes.append(float(cv2.norm(alpha, previous_alpha, cv2.NORM_L1)) / alpha.size)
        previous_alpha = alpha
        alpha_means.append(float(cv2.mean(alpha)[0]))
        if matte_sink is not None:
            matte_sink(number, (alpha * 255.0 + 0.5).astype(np.uint8))
        sink(number, source, after)
        done += 1
        if progress is not None:
            progress(done, len(shot))
    if recolours_foreground:
        region[:] = True  # the foreground's colour changes too (harmonised, or despilled)
    elif params.light_wrap > 0:
        region = _wrap_reach(region, (height, width))  # the light wrap's reach into the foreground
    elapsed = time.perf_counter() - started
    measurements = {
        "foreground_fraction": float(np.mean(alpha_means)),
        "matte_temporal_change": float(np.mean(changes)) if changes else 0.0,
        "grain_sigma_shot": regrain.shot.mean_sigma if regrain is not None else 0.0,
        "grain_sigma_plate": regrain.plate.mean_sigma if regrain is not None else 0.0,
        "frames_per_second": done / elapsed if elapsed > 0 else 0.0,
    }
    log.info("background replacement %s: %s", shot.path.name, measurements)
    return FixResult(region=region, measurements=measurements, frame_count=done)


def _sky_matte(mattes: Iterator[tuple[int, object]], number: int, size: tuple[int, int]) -> np.ndarray:
    """The next sky matte of ``mattes`` as float32 [H, W] in 0..1, checked to be frame ``number``'s."""
    try:
        given, sky = next(mattes)
    except StopIteration:
        raise ParameterError(f"the mask sequence ends before frame {number}") from None
    if given != number:
        raise ParameterError(f"the mask sequence gives frame {given} where frame {number} was expected")
    sky = np.asarray(sky)
    if sky.shape != size:
        raise ParameterError(f"the mask of frame {number} has shape {sky.shape}; the frames are "
                             f"{size[1]}x{size[0]} (one [H, W] matte a frame)")
    if sky.dtype == bool:
        return sky.astype(np.float32)
    if sky.dtype == np.uint8:
        return sky.astype(np.float32) / 255.0
    return np.clip(sky.astype(np.float32, copy=False), 0.0, 1.0)


class _SkyPlates:
    """Sky replacement's plates moved toward the shot's own sky: the MKL transfer from the plate's
    colours to the shot's pixels with sky alpha > 0.95 (foreground alpha < 0.05), fitted on the
    first frame with at least 100 of them, with ``strength``; a still plate is recoloured once."""

    def __init__(self, strength: float, linear: _Linear | None) -> None:
        self.strength = strength
        self.linear = linear
        self.harmoniser: _Harmoniser | None = None
        self._last: tuple[object, object] | None = None

    def plate(self, plate, frame: np.ndarray, alpha: np.ndarray, deep: bool):
        """``plate`` (uint8 [H, W, 3], or a deep shot's :class:`_LinearPlate`) harmonised, or as it is
        until a frame shows enough sky (or with strength 0)."""
        if self.strength <= 0:
            return plate
        if self.harmoniser is None:
            sky = alpha < 0.05
            if np.count_nonzero(sky) < 100:
                return plate
            view = plate.view if deep else plate
            # The plate's colours are the ones moved: fitted from them to the shot's sky.
            self.harmoniser = _Harmoniser(view, np.ones(view.shape[:2], bool), frame[sky], self.strength)
        if self._last is not None and self._last[0] is plate:
            return self._last[1]
        if deep:
            encoded = self.linear.from_working(plate.working / np.float32(255))
            moved = self.harmoniser.apply(encoded, np.ones(encoded.shape[:2], bool))
            result = _LinearPlate(self.linear.to_working(moved) * np.float32(255), quantise(moved, np.uint8))
        else:
            result = self.harmoniser.apply(plate, np.ones(plate.shape[:2], bool))
        self._last = (plate, result)
        return result


def _wrap_sigma(shape: tuple[int, ...]) -> float:
    """Gaussian σ of the light wrap, pixels: 1/200 of the frame's longer side, at least 2."""
    return max(2.0, max(shape[:2]) / 200)


class _Harmoniser:
    """The foreground's colour moved toward the plate's: the MKL transfer (fitted once) blended with
    the identity by ``strength``, sampled on a 33³ lattice and applied by trilinear interpolation
    (:func:`engine.ops.lut3d.trilinear`) to the pixels the matte keeps."""

    LATTICE = 33

    def __init__(self, foreground: np.ndarray, solid: np.ndarray, plate: np.ndarray, strength: float) -> None:
        # A regular subsample of each side is enough for a mean and a 3×3 covariance.
        colours = foreground[solid]
        plate_colours = plate.reshape(-1, 3)
        identity = torch.from_numpy(Lut3D.identity(self.LATTICE).table.reshape(-1, 3))
        with single_thread(), torch.no_grad():
            transfer = fit_colour_transfer(colours[::max(1, len(colours) // 50_000)],
                                           plate_colours[::max(1, len(plate_colours) // 50_000)])
            table = identity + strength * (transfer(identity) - identity)
        self._lattice = Lut3D(table.reshape(self.LATTICE, self.LATTICE, self.LATTICE, 3)
                              .numpy()).lattice_tensor(torch.device("cpu"))
        self._table: np.ndarray | None = None  # built on first use (see apply)
        self._known: np.ndarray | None = None

    def apply(self, frame: np.ndarray, keep: np.ndarray) -> np.ndarray:
        """[H, W, 3]: the True pixels of ``keep`` harmonised, the others as they were. float32
        frames (0..1 code values of a deep source) go through the lattice pixel by pixel, at
        their precision (inputs clamped to the cube); uint8 frames as follows.

        Each distinct 8-bit colour goes through the lattice once per run: its result is kept in a
        table indexed by the 24-bit colour (48 MiB + 16 MiB, touched only where colours occur),
        so that the output is exactly the per-pixel trilinear interpolation's."""
        out = frame.copy()
        if frame.dtype == np.float32:
            with single_thread(), torch.no_grad():
                out[keep] = trilinear(self._lattice, torch.from_numpy(np.ascontiguousarray(frame[keep]))).numpy()
            return out
        # Pixels as one 3-byte item each (a "V3" view): gathering and scattering them by mask is
        # then one-dimensional, several times faster than on [P, 3] rows.
        pixels = _as_items(frame)[keep].view(np.uint8).reshape(-1, 3)
        codes = pixels[:, 0].astype(np.int32) << 16
        codes |= pixels[:, 1].astype(np.int32) << 8
        codes |= pixels[:, 2]
        if self._table is None:
            self._table = np.zeros((1 << 24, 3), np.uint8)
            self._known = np.zeros(1 << 24, bool)
        new = codes[~self._known[codes]]
        if new.size:
            new = np.unique(new)
            rgb = np.stack([new >> 16, (new >> 8) & 255, new & 255], axis=1).astype(np.float32) / 255.0
            with single_thread(), torch.no_grad():
                moved = trilinear(self._lattice, torch.from_numpy(rgb)).numpy()
            self._table[new] = np.clip(moved * 255.0 + 0.5, 0, 255).astype(np.uint8)
            self._known[new] = True
        _as_items(out)[keep] = _as_items(np.take(self._table, codes, axis=0))
        return out


def _as_items(pixels: np.ndarray) -> np.ndarray:
    """A C-contiguous uint8 [..., 3] array viewed as [...] items of 3 bytes (NumPy ``V3``)."""
    return pixels.view("V3")[..., 0]


class _Regrain:
    """The shot's grain and the plate's (:func:`engine.ops.grain.estimate_grain`), measured once, and
    the gain per luma bin and channel (float32 [BINS, 3], code values) of unit grain
    (:func:`engine.ops.grain.unit_grain`: the estimate reads 1 on it) that brings the first plate
    frame, as delivered, to the shot's grain — :func:`engine.ops.grain.regrain_gain`, the rule every
    fix's regrain follows (the deficit ``sqrt(max(σ_shot² − σ_plate², 0))`` as the estimate reads
    it, calibrated on the frame as written)."""

    def __init__(self, frame: np.ndarray, solid: np.ndarray, plate: np.ndarray, *, quantised: bool) -> None:
        self.shot = grain_module.estimate_grain(frame, exclude=~solid if solid.any() else None)
        self.plate = grain_module.estimate_grain(plate)
        whole = np.ones(plate.shape[:2], bool)
        noise = grain_module.unit_grain(plate.shape, self.shot.size_px, seed=0, fast=True)
        self.missing = grain_module.regrain_gain(plate, whole, self.shot, noise, quantised=quantised)
        # per channel, what makes the frames' own noise (grain_noise, deviation 1) unit grain
        self.unit = (1.0 / np.maximum(grain_module.apparent_deviation(
            grain_module.grain_noise(plate.shape, self.shot.size_px, seed=0, fast=True)), 1e-3)).astype(np.float32)


class _PlateCache:
    """What the composite takes from one plate frame: float32 copy, the light wrap's blurred copy
    (at a quarter of the size and scaled back up: it is wide and smooth), and the grain deviation
    to add per pixel (float32 [H, W, 3], or None for no regrain)."""

    def __init__(self, plate: np.ndarray, light_wrap: float, regrain: _Regrain | None) -> None:
        self.plate = plate
        self.values = plate.astype(np.float32)
        height, width = plate.shape[:2]
        self.wrap = None
        if light_wrap > 0:
            small = (max(1, width // 4), max(1, height // 4))
            self.wrap = cv2.resize(cv2.GaussianBlur(cv2.resize(plate, small, interpolation=cv2.INTER_AREA)
                                                    .astype(np.float32), (0, 0), _wrap_sigma(plate.shape) / 4),
                                   (width, height), interpolation=cv2.INTER_LINEAR)
        self.grain_deviation = None
        self.grain_size = 0.0
        if regrain is not None and regrain.missing.any():
            self.grain_deviation = grain_module.deviation_map(regrain.missing, plate) * regrain.unit
            self.grain_size = regrain.shot.size_px


class _LinearPlate:
    """One plate frame of a deep shot: in ACEScg (8-bit units, float32 [H, W, 3]) and as an 8-bit
    view in the shot's encoding (for the harmonisation fit and the grain estimate)."""

    def __init__(self, working: np.ndarray, view: np.ndarray) -> None:
        self.working, self.view = working, view


class _Linear:
    """The deep path's conversions (OpenColorIO) and its composite in ACEScg."""

    def __init__(self, shot_space: str, plate_space: str) -> None:
        self.to_working = colorspace_transform(shot_space, WORKING_SPACE)
        self.from_working = colorspace_transform(WORKING_SPACE, shot_space)
        self.plate_to_working = colorspace_transform(plate_space, WORKING_SPACE)
        self._last: tuple[np.ndarray, _LinearPlate] | None = None

    def plate(self, frame: np.ndarray) -> _LinearPlate:
        """A plate frame (float32 in its own colour space) in ACEScg; a held still converted once."""
        if self._last is None or self._last[0] is not frame:
            working = self.plate_to_working(frame)
            view = quantise(self.from_working(working), np.uint8)
            self._last = (frame, _LinearPlate(working * np.float32(255), view))
        return self._last[1]

    def composite(self, source: np.ndarray, foreground: np.ndarray, plate: _LinearPlate, cache: _PlateCache,
                  alpha: np.ndarray, light_wrap: float, regrain: _Regrain | None, *, seed: int,
                  recoloured: bool) -> np.ndarray:
        """float32 [H, W, 3] in the shot's input colour space: over and light wrap in ACEScg,
        converted back; grain added in the shot's encoding (weighted by 1 − α); unless the
        foreground was ``recoloured`` (despilled, harmonised), the decoded ``source`` itself
        where the matte is 1 and the light wrap cannot reach."""
        working = self.to_working(foreground) * np.float32(255)
        out = _blend(working, cache, alpha, light_wrap, cache.values.copy())
        changed = _wrap_reach(alpha < 1.0, alpha.shape) if light_wrap > 0 else alpha < 1.0
        if not recoloured:
            after = source.copy()
            after[changed] = self.from_working(out[changed].reshape(1, -1, 3) / np.float32(255)).reshape(-1, 3)
        else:  # despilled or harmonised: every pixel is new
            after = self.from_working(out / np.float32(255))
        if regrain is not None and regrain.missing.any():
            deviation = grain_module.deviation_map(regrain.missing, plate.view) * regrain.unit
            noise = grain_module.grain_noise(source.shape, regrain.shot.size_px, seed=seed, fast=True)
            noise *= deviation
            noise *= (1.0 - alpha)[..., None] / np.float32(255)
            after += noise
        return after


def _wrap_reach(background: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """bool [H, W]: ``background`` grown by the light wrap's reach into the foreground."""
    band = math.ceil(3 * _wrap_sigma(shape)) + 1
    return cv2.dilate(background.astype(np.uint8), np.ones((2 * band + 1, 2 * band + 1), np.uint8)).astype(bool)


def _composite(foreground: np.ndarray, plate: _PlateCache, alpha: np.ndarray, light_wrap: float, *,
               seed: int) -> np.ndarray:
    """Porter–Duff over, light wrap and regrain: uint8 [H, W, 3] (in-place float32 arithmetic).

    Outside the bounding box of the matte's non-zero pixels the result is the (regrained) plate
    itself (α = 0 there, and so is the light wrap's weight), so the blend and the light wrap are
    computed inside that box only."""
    if plate.grain_deviation is not None:  # grain on the plate, so the blend below weighs it by (1 − α)
        out = grain_module.grain_noise(foreground.shape, plate.grain_size, seed=seed, fast=True)
        out *= plate.grain_deviation
        out += plate.values
    else:
        out = plate.values.copy()
    _blend(foreground, plate, alpha, light_wrap, out)
    out += 0.5
    np.clip(out, 0, 255, out=out)
    return out.astype(np.uint8)


def _blend(foreground: np.ndarray, plate: _PlateCache, alpha: np.ndarray, light_wrap: float,
           out: np.ndarray) -> np.ndarray:
    """Porter–Duff over and the light wrap, in place on ``out`` (float32 [H, W, 3], the plate's
    values) and returned; inside the bounding box of the matte's non-zero pixels only."""
    x, y, w, h = cv2.boundingRect((alpha > 0).view(np.uint8))
    if w > 0 and h > 0:
        box = (slice(y, y + h), slice(x, x + w))
        a = alpha[box]
        inside = out[box]  # a view: the blend below writes into out
        blend = foreground[box].astype(np.float32)
        blend -= inside
        blend *= cv2.merge((a, a, a))
        inside += blend  # α·F + (1 − α)·B
        if plate.wrap is not None:
            # The blurred matte is wide and smooth: taken at a quarter of the size and scaled back up.
            height, width = alpha.shape
            small = (max(1, width // 4), max(1, height // 4))
            blurred_alpha = cv2.resize(cv2.GaussianBlur(cv2.resize(alpha, small, interpolation=cv2.INTER_AREA),
                                                        (0, 0), _wrap_sigma(alpha.shape) / 4),
                                       (width, height), interpolation=cv2.INTER_LINEAR)
            weight = cv2.multiply(a, 1.0 - blurred_alpha[box], scale=light_wrap)  # α·(1 − blur(α)): the inner edge
            wrap = cv2.subtract(plate.wrap[box], inside)
            wrap *= cv2.merge((weight, weight, weight))
            inside += wrap
    return out
