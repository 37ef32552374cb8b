"""Object removal by flow-guided video inpainting, regrained; nothing outside the region changes.

The method follows the classical flow-guided video completion pipeline of Gao, Saraf, Huang
& Kopf, "Flow-edge Guided Video Completion" (FGVC, ECCV 2020) and of Huang et al.,
"Temporally Coherent Completion of Dynamic Video" (SIGGRAPH Asia 2016), without learned
parts:

1. **Region.** Each frame's object mask (:mod:`engine.ops.region`: a folder of PNGs, or a box
   tracked through the shot) is dilated by ``margin_px``: the *hole*. Only hole pixels may
   change; the union of the holes is the region the fix declares.
2. **Flow, completed.** DIS optical flow (:mod:`engine.ops.flow`) between consecutive frames,
   both ways, on frames scaled to at most :data:`FLOW_MAX_SIDE` pixels. Inside the hole the
   measured flow is the object's, not the background's: it is replaced by a smooth
   continuation of the flow around it (:func:`engine.ops.flow.complete`).
3. **Propagation.** Every hole pixel is followed along the completed flow, forwards and
   backwards, frame after frame, landing on pixels that frames show (outside their holes)
   up to :data:`CANDIDATES` times each way; each step must pass the forward–backward
   consistency check (Sundaram et al. 2010), or the trail ends (an occlusion). The
   candidate colours are combined robustly: those far from their per-channel median (a
   moving person who crossed the landing spot in one source frame, a flow error) are
   dropped and the rest averaged with weights 1/(temporal distance) — the robust temporal
   median of clean-plate methods, applied along the completed flow. Where most
   candidates disagree, what lies behind the hole is changing (something moving): such
   pixels are filled from their own frame's surroundings by fast-marching diffusion
   (Telea, "An Image Inpainting Technique Based on the Fast Marching Method", 2004).
4. **What no frame shows** is filled spatially on one *keyframe* — the frame with most such
   pixels — from the hole's edge (the self-checked mix of Telea 2004, Navier–Stokes —
   Bertalmio et al. 2001 — and the membrane, see 6), and then propagated from that keyframe
   to the other frames like the known pixels (FGVC §3.4). Already finished frames (the
   previous window) serve the same way, so the fill continues across windows.
5. **Seamless blend.** Pixels just outside the hole are propagated too; the difference
   between the plate and the propagated colour there (a change of exposure, a shadow) is
   spread smoothly over the hole and added — the membrane form of Poisson image editing
   (Pérez, Gangnet & Blake, SIGGRAPH 2003; Farbman et al., "Coordinates for Instant Image
   Cloning", SIGGRAPH 2009).
6. **Confidence-aware fusion** (:mod:`engine.ops.fusion`). Per hole pixel, the
   inverse-variance weighted mean of what each source knows: the colour carried along the
   flow where its candidates agree; the temporal median of the same pixel over the buffer's
   frames that show it (right where the camera is locked off); the classical spatial fill;
   and, when the production has one that beat the classical fill on its held-out frames, the
   production's learned inpainting model (:mod:`engine.models.inpaint`). Each source's error
   is measured where the truth is known. The spatial fills (Telea, Navier–Stokes, the
   membrane, the model) are *self-checked*: the hole's own shape is placed where the frame is
   known, filled there by each, and compared with the frame, per depth into the hole
   (:func:`engine.ops.fusion.self_check`); per depth the best-measured mix of them is taken,
   with the error it measured (pooled over the shot's frames). The flow-carried colour's
   error is measured on the ring it also carried from frames that show it; a colour carried
   from a finished frame or keyframe was made up there, and is given the spatial fill's
   measured error instead (the ring says nothing about it). The median's is measured on a
   band just outside the hole. A source that is wrong in a shot (the median under a moving
   camera, a diffusion that draws edges wrongly deep into a hole) measures badly there and
   weighs little, so the fill does not fall below the best of them.
7. **Temporal smoothing.** Each hole pixel is blended with the previous output frame
   carried one step along the flow (weight TEMPORAL_BLEND where the fusion took it from
   frames that show it, up to SPATIAL_TEMPORAL_BLEND by the share it took from made-up
   sources), where that step passes the forward–backward check: a recursive filter along motion trajectories (Bonneel et al.,
   "Blind Video Temporal Consistency", SIGGRAPH Asia 2015) that damps the frame-to-frame
   flicker of a fill taken from changing source frames.
8. **Regrain** (:mod:`engine.ops.grain`): grain estimated on the plate (spatially, and scaled by
   the share of it that changes between consecutive frames along the flow — fixed fine
   texture is not grain), synthesised and added inside the hole to the deviation the
   fill lacks — as the estimate reads the fill as written (8-bit codes for 8-bit sources),
   :func:`engine.ops.grain.regrain`'s rule, the same for every fix.

Sources deeper than 8 bits (10/12-bit ProRes, DNxHR, 10-bit H.264/HEVC, DPX, 16-bit PNG/TIFF,
EXR) are filled at source precision in scene-linear ACEScg, the working space
:data:`WORKING_SPACE` (blending is done on light, not on a camera's log or a display encoding):
each decoded frame (float32 in the clip's input colour space) is converted through OpenColorIO
to ACEScg and held as float32 in 8-bit units (ACEScg value × 255, not rounded, nothing
clipped); propagation, the fusion, the seamless blend, the temporal smoothing and the grain are
computed there, and only the hole's pixels are converted back to the input colour space.
Outside each hole the output is the source frame as decoded — bit identical at the source's
depth, since those pixels never go through a conversion. The analysis steps (optical flow,
mask tracking, the stability measurement) look at an 8-bit grey view of the clip's own
encoding, as for 8-bit sources, and a production's inpainting model (trained on encoded
frames) fills in the clip's encoding, its fill converted to ACEScg for the fusion.
8-bit sources keep their exact code-value path in the clip's own encoding
(:data:`WORKING_SPACE_8BIT`): their fills are rounded to 8-bit codes, and a conversion to a
linear space and back would move codes that stay, as well as cost the speed of the uint8 path.

Memory is bounded: frames are read once, in order, and held in a sliding buffer of
``window_frames + 2 · context_frames`` frames (plus their flows at the flow scale), whatever
the shot's length.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from engine.errors import Cancelled, ParameterError
from engine.fixes.result import FixResult
from engine.media.colour import COMPOSITING_SPACE, colorspace_transform
from engine.media.decode import FrameSource
from engine.ops import flow, fusion, grain, region
from engine.fixes.params import RemovalParams  # noqa: F401  (moved there: importable without torch or OpenCV)

log = logging.getLogger(__name__)

#: Removal of deep sources blends in scene-linear ACEScg (see the module docstring).
WORKING_SPACE = COMPOSITING_SPACE
#: 8-bit sources are filled on their own code values (None: the clip's input colour space).
WORKING_SPACE_8BIT = None

#: Optical flow is computed on frames scaled down to at most this many pixels along the
#: longer side (DIS at 1080p costs ~1 s a pair on this class of CPU; 640 px ~0.05 s).
FLOW_MAX_SIDE = 640
#: The hole is grown by this many pixels (at flow scale) before the flow is completed in it:
#: DIS's coarse-to-fine pyramid drags the flow around an object along with the object well
#: beyond its outline (measured on bmx-trees, tennis and schoolgirls: growing 3 → 32 px
#: raised the fill's PSNR against the truth by 2–4 dB; with the robust candidates and the
#: camera fitted outside FLOW_FIT_GROW_PX, 32 → 96 px by a further 0–1.5 dB on the bench's
#: four pairs; 16 px lost 0.8–2 dB, 128 px stayed within 0.4 dB of 96).
FLOW_HOLE_GROW_PX = 96
#: The camera's homography is fitted to the flow outside the hole grown by this many pixels
#: only (RANSAC drops the odd dragged vector): a hole grown by FLOW_HOLE_GROW_PX may leave
#: too little of a small frame to fit on (fitted outside 128 px, two of four pairs fell
#: below Telea).
FLOW_FIT_GROW_PX = 32
#: A thin hole (a wire) drags the flow around it much less than a body does: the flow is
#: completed in the hole grown by at most this many times its largest inscribed radius (at
#: flow scale), and never less than FLOW_HOLE_MIN_GROW_PX (tuning split: a 3 px wire grown by
#: 96 px took the whole 432x240 frame's flow with it).
FLOW_GROW_PER_RADIUS = 4.0
FLOW_HOLE_MIN_GROW_PX = 8
#: Width (pixels) of the band outside the hole on which each source's error is measured for
#: the confidence-aware fusion (engine.ops.fusion).
FUSION_BAND_PX = 6
#: The spatial fill's error grows with the depth into the hole: its squared error measured on
#: the band (mean depth FUSION_BAND_PX / 2) is scaled by (depth + this) / (band depth + this).
SPATIAL_DEPTH_PX = 4.0
#: The spatial fills are measured on up to this many holes of the frame's hole shape placed
#: where the frame is known (engine.ops.fusion.self_check). Tuning split: 3 → 6 raised a static
#: tennis hole (tests/engine/test_removal_fusion.py) from 18.87 to 19.54 dB, within ±0.06 dB
#: on dog and cups.
SELF_CHECK_HOLES = 6
#: A colour carried from a finished frame or a keyframe was made up there: its expected squared
#: error is the spatial fill's (measured on the synthetic holes) times this (tuning split,
#: static holes: 1 against leaving it out (+inf): tennis +1.0 dB, dog −0.15, cups −0.4; 2 in
#: between; 1 kept, it also keeps what stays put in the output).
MADE_UP_ERROR = 1.0
#: Scale the self-check's expected error by the hole's own surroundings (_local_level). Tuning
#: split, cups with a moving hole on a locked-off shot: 43.05 dB without, 44.03 with (the
#: temporal median 44.55); other tuning cases within ±0.2 dB.
SELF_CHECK_LOCAL = True
#: The self-check's measurements of earlier frames count at this weight per frame (a mix that
#: jumps from frame to frame flickers; 0 and 0.7 scored the same on cups, the schoolgirls
#: warping error ratio 1.36 without the pool, 1.27 with it).
SELF_CHECK_CARRY = 0.7
#: The temporal median of a pixel needs at least this many frames that show it; it is taken
#: over at most MEDIAN_FRAMES frames of the buffer, the nearest first.
MEDIAN_MIN_FRAMES = 3
MEDIAN_FRAMES = 16
#: Width (pixels) of the ring outside the hole on which the seamless blend is measured.
BLEND_RING_PX = 3
#: The stability measurement (warping error of the output) runs at most this wide (pixels).
STABILITY_MAX_SIDE = 320
#: Weight of the previous output frame, carried along the flow, in each hole pixel (0.5 → 0.3
#: raised the PSNR on three of the bench's four pairs by 0.1–0.3 dB and lost 0.1 on one; the
#: warping error inside the region stays well under the one outside).
TEMPORAL_BLEND = 0.3
#: The same weight for hole pixels the fusion filled from their own frame (spatial fills and
#: the temporal median, not carried along the flow): a per-frame spatial fill of a moving hole
#: changes from frame to frame, so the recursion leans on the previous output much more there
#: (schoolgirls' real removal: warping error ratio 10.9 with 0.3). Colours carried from a
#: keyframe or finished frame count as made up here too, since the fusion mixes them with
#: this frame's spatial fill (schoolgirls: ratio 2.91 with 0.3 there, 1.27 with 0.8). A hole
#: pixel's weight goes from TEMPORAL_BLEND to this by the share the fusion gave made-up sources
#: there (a pixel the temporal median knows is not dragged towards the resampled previous
#: output; tuning split, cups at 1280x720 with a moving hole: −6.71 → −4.60 dB against the
#: median; 432x240 tuning cases within ±0.2 dB; schoolgirls ratio 1.26).
SPATIAL_TEMPORAL_BLEND = 0.8
#: Landings collected per hole pixel in each direction along the flow (up to 2x this many
#: candidate colours from different frames; measured on the video-completion protocol of
#: bench/inpaint.py: 1 → 5 raised the PSNR by 0.6–1.6 dB on all four pairs, most where a
#: moving person crosses the landing spots).
CANDIDATES = 5
#: Candidates further than this (RGB length, code values) from their median are outliers.
CANDIDATE_TOLERANCE = 30.0
#: A pixel whose candidates mostly disagree (fewer than this share near their median) shows
#: changing content behind the hole — something moving — and is filled from its own frame's
#: surroundings (Telea's fast-marching diffusion) rather than from other frames (0.5 → 0.65,
#: i.e. with ten candidates six agreeing or fewer rather than four: on the bench's four pairs
#: +0.12 dB on tennis under the schoolgirls' masks, where the hidden player moves, +0.03 to
#: +0.06 dB on two, −0.07 dB on bmx-trees; SSIM −0.0001 to −0.0014; warping error lower on all
#: four; 0.6 gained nothing, 0.7 the same as 0.65 on the weak pair).
DYNAMIC_AGREEMENT = 0.65
#: Pairs of consecutive frames on which the share of the plate's grain that changes from frame
#: to frame is measured (one full-resolution optical flow each; the median is taken).
GRAIN_PAIRS = 3
#: Inside the hole the forward–backward check compares two completed (interpolated) flows;
#: its tolerance there is this many times the measured-flow tolerance of engine.ops.flow.
COMPLETED_FB_SLACK = 3.0


def _nearest(mask: np.ndarray, points: np.ndarray) -> np.ndarray:
    """bool [N]: ``mask`` at the pixel nearest to each float [N, 2] (x, y) point (clamped)."""
    xi = np.clip(np.rint(points[:, 0]).astype(np.intp), 0, mask.shape[1] - 1)
    yi = np.clip(np.rint(points[:, 1]).astype(np.intp), 0, mask.shape[0] - 1)
    return mask[yi, xi]


def _robust_mean(values: np.ndarray, distance: np.ndarray,
                 found: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per point, the colour its candidates agree on.

    ``values`` float32 [N, M, 3] are M candidate colours per point (from M landings along
    the flow, both directions), ``distance`` [N, M] their distances in frames and ``found``
    [N, M] which exist. Candidates further than CANDIDATE_TOLERANCE (RGB length, code
    values) from the per-channel median of a point's candidates are dropped — a moving
    thing that crossed the landing spot in one source frame, a flow error — and the rest
    averaged with weights 1/distance (a robust temporal median, as clean plates use).

    Returns (float32 [N, 3] colours, bool [N] found — at least one candidate, bool [N]
    dynamic — two or more candidates, fewer than DYNAMIC_AGREEMENT of them near their
    median: what lies behind the hole there changes from frame to frame)."""
    count = found.sum(axis=1)
    any_found = count > 0
    # Per-channel median of the found candidates: missing ones sort last (as +inf).
    ordered = np.sort(np.where(found[..., None], values, np.inf), axis=1)
    rows = np.arange(len(values))
    low, high = np.maximum(count - 1, 0) // 2, np.minimum(count // 2, values.shape[1] - 1)
    median = 0.5 * (ordered[rows, low] + ordered[rows, high])
    median[~any_found] = 0.0
    close = np.linalg.norm(values - median[:, None], axis=2) <= CANDIDATE_TOLERANCE
    weight = np.where(found & close, 1.0 / np.maximum(distance, 1.0), 0.0).astype(np.float32)
    # A point whose candidates all disagree keeps its nearest candidates' mean.
    fallback = any_found & (weight.sum(axis=1) == 0)
    weight[fallback] = np.where(found[fallback], 1.0 / np.maximum(distance[fallback], 1.0), 0.0)
    agreeing = (found & close).sum(axis=1)
    total = (values * weight[..., None]).sum(axis=1)
    sums = weight.sum(axis=1)
    total[any_found] /= sums[any_found, None]
    # Dynamic: several candidates, most of which disagree with their median.
    dynamic = (count >= 2) & (agreeing < DYNAMIC_AGREEMENT * count)
    return total, any_found, dynamic


@dataclass
class _Slot:
    """One frame in the sliding buffer."""

    frame: np.ndarray            # uint8 [H, W, 3]: the source, or the finished output
    source: np.ndarray           # uint8 [H, W, 3]: the source
    hole: np.ndarray             # bool [H, W]: mask + margin
    seen: np.ndarray             # bool [H, W]: source pixels safe to sample (outside the hole, eroded)
    small: np.ndarray            # uint8 [h, w]: grey at flow scale
    small_hole: np.ndarray       # bool [h, w]: where the flow is completed, at flow scale
    fit_hole: np.ndarray         # bool [h, w]: left out of the camera-motion fit, at flow scale
    finished: bool = False       # every pixel final (an output frame or a keyframe)


@dataclass
class _Fill:
    """The fill of one frame's hole while the window is worked on."""

    points: np.ndarray           # float32 [N, 2] (x, y) of the hole pixels
    values: np.ndarray           # float32 [N, 3]
    done: np.ndarray             # bool [N]
    ring_points: np.ndarray      # float32 [M, 2] of the ring outside the hole
    ring_values: np.ndarray      # float32 [M, 3]
    ring_done: np.ndarray        # bool [M]
    dynamic: np.ndarray          # bool [N]: propagated, but the candidates disagree
    propagated: np.ndarray       # bool [N]: filled from the frames that show it (not later)
    keyframe: bool = False
    made_up_share: np.ndarray | None = None  # float32 [N]: share of made-up sources in the fusion


@dataclass
class _Counts:
    hole_pixels: int = 0
    propagated: int = 0
    from_finished: int = 0
    spatial: int = 0
    keyframes: int = 0
    fused_pixels: int = 0
    self_checked: int = 0
    grain_added: list = field(default_factory=list)
    warp_inside: list = field(default_factory=lambda: [0.0, 0])
    warp_outside: list = field(default_factory=lambda: [0.0, 0])


class _Remover:
    """The removal of one shot. Frames are uint8 for 8-bit sources and float32 ACEScg in 8-bit
    units (ACEScg value × 255) for deeper ones (see the module docstring)."""

    def __init__(self, shot: FrameSource, params: RemovalParams, masks: region.MaskStream,
                 sink, progress, should_cancel, mask_sink=None) -> None:
        self.shot, self.params, self.sink, self.mask_sink = shot, params, sink, mask_sink
        self.progress, self.should_cancel = progress, should_cancel
        self.height, self.width = shot.clip_probe.height, shot.clip_probe.width
        self.scale = min(1.0, FLOW_MAX_SIDE / max(self.height, self.width))
        self.small_size = (max(1, round(self.width * self.scale)), max(1, round(self.height * self.scale)))
        #: Trails are followed from cells this many pixels wide (the flow's own pixel).
        self.trace_step = max(1, int(1.0 / self.scale))
        self.deep = not shot.encoding.is_8bit
        self.frames = shot.frames(as_float=self.deep)
        self.originals: dict[int, np.ndarray] = {}  # deep sources: the decoded frame, for the sink
        if self.deep:  # to the working space and back (the hole's pixels only)
            self.to_working = colorspace_transform(shot.colorspace, WORKING_SPACE)
            self.from_working = colorspace_transform(WORKING_SPACE, shot.colorspace)
        self.masks = masks.masks(shot.frame_range)
        self.slots: dict[int, _Slot] = {}
        self.forward: dict[int, np.ndarray] = {}   # n -> flow n → n+1 (flow scale, completed)
        self.backward: dict[int, np.ndarray] = {}  # n -> flow n+1 → n
        self.loaded_stop = shot.frame_range.start
        self.region = np.zeros((self.height, self.width), bool)
        self.counts = _Counts()
        self.plate_grain: grain.Grain | None = None
        self.previous_output: np.ndarray | None = None
        self.previous_hole: np.ndarray | None = None
        self.done = 0
        self.spatial_check: fusion.SpatialCheck | None = None  # pooled over the shot's frames
        self.inpaint = None
        if params.inpaint_model is not None:
            from engine.models.inpaint import InpaintModel  # torch is loaded only when a model is used
            model = InpaintModel.load(params.inpaint_model)
            self.inpaint_heldout = model.heldout
            self.inpaint = model if model.beats_classical else None

    # ----------------------------------------------------------------------- reading

    def _check(self, where: str) -> None:
        if self.should_cancel is not None and self.should_cancel():
            raise Cancelled(f"object removal cancelled {where}")

    def _load_until(self, stop: int) -> None:
        while self.loaded_stop < stop:
            number, frame = next(self.frames)
            mask_number, mask = next(self.masks)
            if mask_number != number:
                raise ParameterError(f"mask for frame {mask_number} arrived for frame {number}")
            if mask.shape != frame.shape[:2]:
                raise ParameterError(
                    f"the mask of frame {number} is {mask.shape[1]}x{mask.shape[0]} but the frame is "
                    f"{frame.shape[1]}x{frame.shape[0]}"
                )
            if self.deep:
                self.originals[number] = frame
                grey = flow.grey8(frame * np.float32(255))  # the clip's own encoding, as for 8-bit
                frame = self._to_working(frame)
            else:
                grey = flow.grey8(frame)
            hole = region.dilate(mask, self.params.margin_px)
            seen = cv2.erode((~hole).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
            small = cv2.resize(grey, self.small_size, interpolation=cv2.INTER_AREA) if self.scale < 1 else grey
            small_hole = self._small_hole(hole)
            fit_hole = self._small_hole(hole, FLOW_FIT_GROW_PX)
            self.slots[number] = _Slot(frame=frame, source=frame, hole=hole, seen=seen, small=small,
                                       small_hole=small_hole, fit_hole=fit_hole)
            self.region |= hole
            if number - 1 in self.slots:
                self._pair_flows(number - 1)
            self.loaded_stop = number + 1

    def _small_hole(self, hole: np.ndarray, grow_px: int | None = None) -> np.ndarray:
        if self.scale < 1:
            hole = cv2.resize(hole.astype(np.uint8), self.small_size, interpolation=cv2.INTER_AREA) > 0
        if grow_px is None:
            radius = float(cv2.distanceTransform(hole.astype(np.uint8), cv2.DIST_L2, 3).max()) if hole.any() else 0.0
            grow_px = int(np.clip(FLOW_GROW_PER_RADIUS * radius, FLOW_HOLE_MIN_GROW_PX, FLOW_HOLE_GROW_PX))
        return region.dilate(hole, grow_px)

    def _pair_flows(self, number: int) -> None:
        a, b = self.slots[number], self.slots[number + 1]
        self.forward[number] = flow.complete(flow.flow(a.small, b.small), a.small_hole, a.fit_hole)
        self.backward[number] = flow.complete(flow.flow(b.small, a.small), b.small_hole, b.fit_hole)

    def _evict_before(self, number: int) -> None:
        for n in [n for n in self.slots if n < number]:
            del self.slots[n]
            self.originals.pop(n, None)
            self.forward.pop(n, None)
            self.backward.pop(n, None)

    # ----------------------------------------------------------------------- propagation

    def _trace(self, t: int, points: np.ndarray, direction: int, finished_only: bool, max_steps: int = 10**9,
               consistency: bool | None = None, hits: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Follow ``points`` of frame t along the completed flow in one direction until each
        has landed ``hits`` times on a usable pixel: a pixel the frame shows
        (``finished_only`` False) or any pixel of a finished frame (True). Steps must pass
        the forward–backward check when looking for pixels a frame shows; content already
        finished (made up once) is carried along the completed flow without it, so that it
        stays put rather than being made up again. Returns (values [N, hits, 3],
        distance [N, hits] in frames, found [N, hits], landing [N, hits, 2] (x, y) positions
        and landing_frame [N, hits] frame numbers)."""
        count = len(points)
        values = np.zeros((count, hits, 3), np.float32)
        distance = np.zeros((count, hits), np.float32)
        found = np.zeros((count, hits), bool)
        landing = np.zeros((count, hits, 2), np.float32)
        landing_frame = np.zeros((count, hits), np.intp)
        landed = np.zeros(count, np.intp)
        position = points.copy()
        active = np.arange(count)
        j = t
        s = self.scale
        while len(active):
            k = j + direction
            if k not in self.slots or abs(k - t) > max_steps:
                break
            if direction > 0:
                ahead, back = self.forward[j], self.backward[j]
            else:
                ahead, back = self.backward[k], self.forward[k]
            p = position[active]
            step = flow.sample(ahead, p * s)            # flow-scale pixels
            q = p + step / s
            returned = flow.sample(back, q * s)
            both = step + returned
            round_trip = np.hypot(both[:, 0], both[:, 1])
            motion = np.hypot(step[:, 0], step[:, 1]) + np.hypot(returned[:, 0], returned[:, 1])
            # Where either vector was completed (not measured) the check compares two
            # interpolations, so it is loosened by COMPLETED_FB_SLACK.
            completed = (_nearest(self.slots[j].small_hole, p * s) | _nearest(self.slots[k].small_hole, q * s))
            slack = np.where(completed, COMPLETED_FB_SLACK, 1.0)
            ok = (q[:, 0] >= 0) & (q[:, 0] <= self.width - 1) & (q[:, 1] >= 0) & (q[:, 1] <= self.height - 1)
            if (not finished_only) if consistency is None else consistency:
                ok &= round_trip < slack * (flow.FB_ABSOLUTE_PX + flow.FB_RELATIVE * motion)
            position[active] = q
            active, q = active[ok], q[ok]
            slot = self.slots[k]
            if finished_only:
                hit = np.full(len(active), slot.finished)
            else:
                hit = _nearest(slot.seen, q)
            chosen = active[hit]
            if len(chosen):
                slot_index = landed[chosen]
                values[chosen, slot_index] = flow.sample(slot.frame, q[hit]).astype(np.float32)
                distance[chosen, slot_index] = abs(k - t)
                found[chosen, slot_index] = True
                landing[chosen, slot_index] = q[hit]
                landing_frame[chosen, slot_index] = k
                landed[chosen] += 1
            active = active[landed[active] < hits]
            j = k
        return values, distance, found, landing, landing_frame

    def _propagate(self, t: int, points: np.ndarray, finished_only: bool) -> tuple[np.ndarray, ...]:
        """Values and found-flags of ``points`` of frame t, from both directions."""
        if finished_only:
            # The nearest finished frame wins: its content is already final.
            forward = [a[:, 0] for a in self._trace(t, points, +1, True)[:3]]
            backward = [a[:, 0] for a in self._trace(t, points, -1, True)[:3]]
            take_back = backward[2] & (~forward[2] | (backward[1] <= forward[1]))
            values = np.where(take_back[:, None], backward[0], forward[0])
            return values, forward[2] | backward[2]
        if self.trace_step > 1:
            return self._propagate_by_cells(t, points)
        both = [np.concatenate(pair, axis=1) for pair in zip(*(self._trace(t, points, d, False, hits=CANDIDATES)[:3]
                                                                  for d in (+1, -1)))]
        return _robust_mean(*both)

    def _propagate_by_cells(self, t: int, points: np.ndarray) -> tuple[np.ndarray, ...]:
        """:meth:`_propagate` for frames larger than the flow: trails are followed from the
        centre of each ``trace_step``-pixel cell (the flow has no finer detail), and each
        pixel of the cell takes the colours at the same offset from where its cell's trail
        landed, if that frame shows them there."""
        step, columns = self.trace_step, self.width // self.trace_step + 1
        cell = (points // step).astype(np.int64)
        keys, inverse = np.unique(cell[:, 1] * columns + cell[:, 0], return_inverse=True)
        centres = (np.stack([keys % columns, keys // columns], axis=1) * step + (step - 1) / 2).astype(np.float32)
        _, distance, found, landing, landing_frame = (
            np.concatenate(pair, axis=1)
            for pair in zip(*(self._trace(t, centres, d, False, hits=CANDIDATES) for d in (+1, -1))))
        offset = points - centres[inverse]
        found = found[inverse]
        values = np.zeros(found.shape + (3,), np.float32)
        for m in range(found.shape[1]):
            frame_of = landing_frame[inverse, m]
            for k in np.unique(frame_of[found[:, m]]):
                chosen = np.nonzero(found[:, m] & (frame_of == k))[0]
                q = landing[inverse[chosen], m] + offset[chosen]
                slot = self.slots[int(k)]
                shown = ((q[:, 0] >= 0) & (q[:, 0] <= self.width - 1) & (q[:, 1] >= 0) & (q[:, 1] <= self.height - 1))
                shown &= _nearest(slot.seen, q)
                values[chosen[shown], m] = flow.sample(slot.frame, q[shown]).astype(np.float32)
                found[chosen[~shown], m] = False
        return _robust_mean(values, distance[inverse], found)

    # ----------------------------------------------------------------------- one window

    def _start_fill(self, t: int) -> _Fill:
        slot = self.slots[t]
        ys, xs = np.nonzero(slot.hole)
        points = np.stack([xs, ys], axis=1).astype(np.float32)
        ring = region.dilate(slot.hole, BLEND_RING_PX) & ~slot.hole
        ry, rx = np.nonzero(ring)
        ring_points = np.stack([rx, ry], axis=1).astype(np.float32)
        # One pass for the hole and its ring: the same trails, half the calls.
        both_values, both_done, both_dynamic = self._propagate(t, np.concatenate([points, ring_points]), False)
        values, ring_values = both_values[:len(points)], both_values[len(points):]
        done, ring_done = both_done[:len(points)], both_done[len(points):]
        dynamic = both_dynamic[:len(points)]
        self.counts.hole_pixels += len(points)
        self.counts.propagated += int(done.sum())
        return _Fill(points, values, done, ring_points, ring_values, ring_done, dynamic, done.copy())

    def _compose(self, t: int, fill: _Fill) -> np.ndarray:
        """The frame with its propagated pixels, blended by the ring's correction; pixels
        not yet filled keep the source's values (to be filled spatially)."""
        slot = self.slots[t]
        out = slot.source.copy()
        if not len(fill.points):
            return out
        values = fill.values.copy()
        dynamic = fill.done & fill.dynamic
        if not fill.keyframe and fill.ring_done.any() and fill.done.any():
            values[fill.done] += self._correction(t, fill)[fill.done]
        xs, ys = fill.points[:, 0].astype(np.intp), fill.points[:, 1].astype(np.intp)
        keep = fill.done
        out[ys[keep], xs[keep]] = self._stored(values[keep])
        if dynamic.any() and not fill.keyframe:
            # Filled spatially from the surroundings (not from pixels still to be made).
            unsure = dynamic | ~fill.done
            mask = np.zeros((self.height, self.width), np.uint8)
            mask[ys[unsure], xs[unsure]] = 1
            if self.deep:  # OpenCV's Telea takes float images one channel at a time
                diffused = np.dstack([cv2.inpaint(np.ascontiguousarray(out[..., c]), mask, 3, cv2.INPAINT_TELEA)
                                      for c in range(3)])
            else:
                diffused = cv2.inpaint(out, mask, 3, cv2.INPAINT_TELEA)
            out[ys[dynamic], xs[dynamic]] = diffused[ys[dynamic], xs[dynamic]]
        return out

    def _from_working(self, values: np.ndarray) -> np.ndarray:
        """float32 [N, 3] working-space pixels (ACEScg × 255) → float32 [N, 3] in the clip's
        input colour space (source values, 0..1 for integer encodings)."""
        return self.from_working(values.reshape(1, -1, 3) / np.float32(255)).reshape(-1, 3)

    def _to_working(self, frame: np.ndarray) -> np.ndarray:
        return self.to_working(frame) * np.float32(255)

    def _model_fill(self, image: np.ndarray, where: np.ndarray) -> np.ndarray:
        """The production's inpainting model's fill of ``image`` (the frames' type and units)
        inside ``where``: on the clip's own encoding, as the model was trained."""
        white = np.float32(255.0)
        if not self.deep:
            return self.inpaint.fill(image.astype(np.float32) / white, where) * white
        encoded = self.from_working(image / white)
        return self._to_working(self.inpaint.fill(encoded, where))

    def _stored(self, values: np.ndarray) -> np.ndarray:
        """Float values in the frames' type: rounded 8-bit codes, or float32 as they are (deep)."""
        return values.astype(np.float32) if self.deep else np.clip(values + 0.5, 0, 255).astype(np.uint8)

    def _correction(self, t: int, fill: _Fill) -> np.ndarray:
        """Per hole pixel float32 [N, 3]: the plate − propagated difference on the ring,
        spread smoothly over the hole (membrane interpolation)."""
        slot = self.slots[t]
        all_points = np.concatenate([fill.points, fill.ring_points])
        x0, y0 = all_points.min(axis=0).astype(int)
        x1, y1 = all_points.max(axis=0).astype(int) + 1
        residual = np.zeros((y1 - y0, x1 - x0, 3), np.float32)
        known = np.zeros((y1 - y0, x1 - x0), bool)
        rx = fill.ring_points[fill.ring_done, 0].astype(np.intp)
        ry = fill.ring_points[fill.ring_done, 1].astype(np.intp)
        residual[ry - y0, rx - x0] = slot.source[ry, rx].astype(np.float32) - fill.ring_values[fill.ring_done]
        known[ry - y0, rx - x0] = True
        xs, ys = fill.points[:, 0].astype(np.intp), fill.points[:, 1].astype(np.intp)
        if self.scale == 1:
            return flow.smooth_fill(residual, known)[ys - y0, xs - x0]
        # The membrane is smooth: solved at flow scale (ring samples averaged into coarse
        # pixels with their weights), then read back bilinearly at the hole's pixels.
        size = (max(1, round((x1 - x0) * self.scale)), max(1, round((y1 - y0) * self.scale)))
        weight = cv2.resize(known.astype(np.float32), size, interpolation=cv2.INTER_AREA)
        summed = cv2.resize(residual, size, interpolation=cv2.INTER_AREA)
        coarse_known = weight > 0
        summed[coarse_known] /= weight[coarse_known, None]
        spread = flow.smooth_fill(summed, coarse_known)
        ratio = np.float32([size[0] / (x1 - x0), size[1] / (y1 - y0)])
        coarse_points = (fill.points - np.float32([x0, y0]) + 0.5) * ratio - 0.5
        return flow.sample(spread, coarse_points)

    def _window(self, first: int, stop: int) -> None:
        fills: dict[int, _Fill] = {}
        for t in range(first, stop):
            self._check(f"while propagating frame {t}")
            fills[t] = self._start_fill(t)
        # What no frame shows: first from frames already finished (the previous window's
        # output, earlier keyframes), else from a new keyframe filled spatially.
        while True:
            for t, fill in fills.items():
                left = ~fill.done
                if left.any() and not fill.keyframe:
                    values, found = self._propagate(t, fill.points[left], True)
                    index = np.nonzero(left)[0][found]
                    fill.values[index] = values[found]
                    fill.done[index] = True
                    self.counts.from_finished += len(index)
            remaining = {t: int((~f.done).sum()) for t, f in fills.items()}
            if not any(remaining.values()):
                break
            key = max(remaining, key=remaining.get)
            self._check(f"while filling keyframe {key}")
            self._make_keyframe(key, fills[key])
        for t in range(first, stop):
            self._check(f"after {self.done} frames")
            self._finish(t, fills[t])

    def _make_keyframe(self, t: int, fill: _Fill) -> None:
        composed = self._compose(t, fill)
        left = ~fill.done
        hole = np.zeros((self.height, self.width), bool)
        hole[fill.points[left, 1].astype(np.intp), fill.points[left, 0].astype(np.intp)] = True
        filled = composed.copy()
        filled[hole] = self._stored(self._spatial(composed, hole, self.slots[t].hole, pool=False)[0])
        xs, ys = fill.points[:, 0].astype(np.intp), fill.points[:, 1].astype(np.intp)
        fill.values = filled[ys, xs].astype(np.float32)
        fill.done[:] = True
        fill.keyframe = True
        self.counts.spatial += int(left.sum())
        self.counts.keyframes += 1
        slot = self.slots[t]
        slot.frame = filled
        slot.finished = True

    def _finish(self, t: int, fill: _Fill) -> None:
        slot = self.slots[t]
        composed = self._fuse(t, fill, slot.frame if fill.keyframe else self._compose(t, fill))
        output = composed if fill.keyframe else self._smooth_in_time(t, fill, composed)
        if self.params.regrain and slot.hole.any():
            if self.plate_grain is None:
                self.plate_grain = self._estimate_grain()
            output, added = grain.regrain(output, slot.hole, self.plate_grain, seed=t)
            self.counts.grain_added.append(added)
        # The guarantee: outside the hole, the source's pixels, bit for bit.
        output = np.where(slot.hole[..., None], output, slot.source)
        if self.deep:  # the hole back to the input colour space; outside it the decoded frame itself
            original = self.originals[t]
            written = original.copy()
            written[slot.hole] = self._from_working(output[slot.hole])
            self._measure_stability(written * np.float32(255), slot.hole)
        else:
            self._measure_stability(output, slot.hole)
        slot.frame = output
        slot.finished = True
        if self.mask_sink is not None:
            self.mask_sink(t, slot.hole.astype(np.uint8) * 255)
        if self.deep:
            self.sink(t, original, written)
        else:
            self.sink(t, slot.source, output)
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, len(self.shot))

    def _fuse(self, t: int, fill: _Fill, composed: np.ndarray) -> np.ndarray:
        """Per hole pixel, the inverse-variance weighted mean (:func:`engine.ops.fusion.fuse`)
        of what each source knows: the colour carried along the flow (where its candidates
        agree), the temporal median of the same pixel over the buffer's frames that show it
        (right where the camera is locked off), and the self-checked spatial fill
        (:meth:`_spatial`). Each source's squared error is measured on pixels whose truth is
        known — the flow's on the blend ring it also carried (a colour made up on a finished
        frame or keyframe takes the spatial fill's error times MADE_UP_ERROR), the median's on
        a band of FUSION_BAND_PX outside the hole, the spatial fill's on synthetic holes of
        the same shape, per depth."""
        slot = self.slots[t]
        if not len(fill.points):
            return composed
        hole = slot.hole
        source = slot.source.astype(np.float32)
        ys, xs = fill.points[:, 1].astype(np.intp), fill.points[:, 0].astype(np.intp)
        band = region.dilate(hole, FUSION_BAND_PX) & ~hole
        self.counts.fused_pixels += len(ys)
        # Flow: the colours carried along it where their candidates agreed — from frames that
        # show them, or from a finished frame or keyframe (what no frame shows, made up once and
        # carried so that it stays put rather than being made up again in every frame).
        carried = composed[ys, xs].astype(np.float32)
        carried[~(fill.done & ~fill.dynamic)] = np.nan
        ring = np.zeros(hole.shape, bool)
        ring_error = np.zeros(hole.shape, np.float32)
        rx = fill.ring_points[fill.ring_done, 0].astype(np.intp)
        ry = fill.ring_points[fill.ring_done, 1].astype(np.intp)
        ring[ry, rx] = True
        ring_error[ry, rx] = ((fill.ring_values[fill.ring_done] - source[ry, rx]) ** 2).mean(axis=1)
        carried_error = fusion.spread_error(ring_error, ring, hole)
        # Temporal median of the same pixel over the frames that show it.
        by, bx = np.nonzero(band)
        median, median_band = self._temporal_median(t, np.concatenate([ys, by]), np.concatenate([xs, bx]))
        band_error = np.zeros(hole.shape, np.float32)
        shown = np.isfinite(median_band[:, 0])
        band_error[by, bx] = np.where(shown, ((median_band - source[by, bx]) ** 2).mean(axis=1), 0)
        measured = np.zeros(hole.shape, bool)
        measured[by[shown], bx[shown]] = True
        median_error = fusion.spread_error(band_error, measured, hole)
        # The spatial fills (Telea, Navier-Stokes, the membrane; the production's model when it
        # has one), mixed and weighed by what they scored on holes of this shape placed where
        # this frame's truth is known (fusion.self_check): as deep as the hole is, which a band
        # just outside it does not tell.
        spatial, spatial_error = self._spatial(slot.source, hole)
        # A colour carried from a finished frame or a keyframe was made up there (no frame shows
        # it): its error is a spatial fill's, not the ring's (the ring is carried from frames that
        # show it). It is offered with the spatial fill's measured error times MADE_UP_ERROR.
        made_up = fill.done & ~fill.propagated & ~fill.dynamic
        carried_error = np.where(made_up, spatial_error * MADE_UP_ERROR, carried_error)
        values = [spatial, carried, median]
        errors = [spatial_error, carried_error, median_error]
        fused = fusion.fuse(values, errors)
        # What the fusion took from sources made up in some frame (the spatial fill, colours
        # carried from keyframes or finished frames) rather than from frames that show the pixel.
        shares = fusion.weights(values, errors)
        fill.made_up_share = shares[0] + np.where(made_up, shares[1], 0)
        out = composed.copy()
        out[ys, xs] = self._stored(fused)
        return out

    def _spatial(self, image: np.ndarray, hole: np.ndarray, untrusted: np.ndarray | None = None,
                 pool: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """The spatial fill of ``hole`` in ``image`` (float32 [N, 3], hole pixels in
        ``np.nonzero`` order) and its expected squared error (float32 [N]): the mix of the
        fillers (Telea, Navier–Stokes, the membrane; the production's model when it has one)
        measured best, per depth, on SELF_CHECK_HOLES holes of the same shape placed where the
        frame is known (:func:`engine.ops.fusion.self_check`; ``untrusted``: pixels of
        ``image`` that are not the truth, default ``hole``). With ``pool``, the measurements
        are pooled with the shot's earlier frames' at weight SELF_CHECK_CARRY per frame. When
        no such place fits in the frame, the filler measured best on a band of FUSION_BAND_PX
        outside the hole (hidden from it), its error grown with depth by SPATIAL_DEPTH_PX."""
        fillers = [lambda frame, where: fusion.diffusion_fills(frame, where, methods=(cv2.INPAINT_TELEA,))[0],
                   lambda frame, where: fusion.diffusion_fills(frame, where, methods=(cv2.INPAINT_NS,))[0],
                   fusion.membrane_fill]
        if self.inpaint is not None:
            fillers.append(self._model_fill)
        check = fusion.self_check(image, hole, fillers, copies=SELF_CHECK_HOLES, clear_px=FUSION_BAND_PX,
                                  untrusted=untrusted)
        if check is not None:
            if pool:
                check = self.spatial_check = check.pooled(self.spatial_check, SELF_CHECK_CARRY)
            self.counts.self_checked += 1
            values, errors = check.apply([filler(image, hole) for filler in fillers], hole)
            if untrusted is None and SELF_CHECK_LOCAL:
                errors = errors * self._local_level(image, hole, fillers, check)
            return values, errors
        untrusted = hole if untrusted is None else untrusted
        band = region.dilate(untrusted, FUSION_BAND_PX) & ~untrusted
        by, bx = np.nonzero(band)
        truth = image[by, bx].astype(np.float32)
        scored = [(((filler(image, hole | band)[by, bx] - truth) ** 2).mean(axis=1), filler) for filler in fillers]
        band_error, filler = min(scored, key=lambda pair: pair[0].mean())
        measured = np.zeros(hole.shape, np.float32)
        measured[by, bx] = band_error
        depth = cv2.distanceTransform(hole.astype(np.uint8), cv2.DIST_L2, 3)[hole]
        growth = (depth + SPATIAL_DEPTH_PX) / (FUSION_BAND_PX / 2 + SPATIAL_DEPTH_PX)
        return filler(image, hole)[hole], fusion.spread_error(measured, band, hole) * growth

    def _local_level(self, image: np.ndarray, hole: np.ndarray, fillers, check: fusion.SpatialCheck) -> np.ndarray:
        """float32 [N]: per hole pixel, how much harder (> 1) or easier the hole's own
        surroundings are to fill than the synthetic holes were: the self-checked mix's squared
        error on a band of FUSION_BAND_PX outside the hole (filled with the hole, hidden), spread
        over the hole, over what the check expected on the same band. The copies give the error's
        growth with depth; its level is read where the hole is, on the same footing as the
        temporal median's error (measured on that band) and the flow's (on the ring), so that a
        copy landing on an easy, flat part of the frame does not make the spatial fill outweigh
        them."""
        band = region.dilate(hole, FUSION_BAND_PX) & ~hole
        grown = hole | band
        if not band.any():
            return np.ones(int(hole.sum()), np.float32)
        values, expected = check.apply([filler(image, grown) for filler in fillers], grown)
        on_band = band[grown]
        measured = ((values[on_band] - image[band].astype(np.float32)) ** 2).mean(axis=1)
        level = np.zeros(hole.shape, np.float32)
        level[band] = measured / np.maximum(float(np.mean(expected[on_band])), fusion.ERROR_FLOOR)
        return fusion.spread_error(level, band, hole)

    def _temporal_median(self, t: int, ys: np.ndarray, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """float32 [N, 3]: per pixel (ys, xs) the median over up to MEDIAN_FRAMES other frames of
        the buffer (the nearest first) that show it; NaN where fewer than MEDIAN_MIN_FRAMES do.
        Returned split at the hole's length (hole pixels, band pixels) as :meth:`_fuse` asks."""
        others = sorted((k for k in self.slots if k != t), key=lambda k: abs(k - t))[:MEDIAN_FRAMES]
        count = len(ys)
        values = np.full((len(others), count, 3), np.nan, np.float32)
        for index, k in enumerate(others):
            other = self.slots[k]
            visible = ~other.hole[ys, xs]
            values[index, visible] = other.source[ys[visible], xs[visible]]
        enough = np.isfinite(values[..., 0]).sum(axis=0) >= MEDIAN_MIN_FRAMES
        median = np.full((count, 3), np.nan, np.float32)
        if enough.any():
            median[enough] = np.nanmedian(values[:, enough], axis=0)
        split = int(self.slots[t].hole.sum())
        return median[:split], median[split:]

    def _estimate_grain(self) -> grain.Grain:
        """The plate's grain, measured once, on the first frame in the buffer, and its share
        that changes from frame to frame on up to GRAIN_PAIRS pairs of consecutive frames
        spread over the buffer (a repeated frame at the head of a shot teaches nothing)."""
        numbers = sorted(self.slots)
        starts = [n for n in numbers if n + 1 in self.slots]
        chosen = [starts[round(i)] for i in np.linspace(0, len(starts) - 1, min(GRAIN_PAIRS, len(starts)))]
        pairs = [(self.slots[n].source, self.slots[n].hole, self.slots[n + 1].source, self.slots[n + 1].hole)
                 for n in dict.fromkeys(chosen)]
        first = self.slots[numbers[0]]
        return grain.estimate_grain(first.source, exclude=first.hole, pairs=pairs)

    def _smooth_in_time(self, t: int, fill: _Fill, composed: np.ndarray) -> np.ndarray:
        """Blend the hole with the previous output frame carried along the flow (weight
        TEMPORAL_BLEND where the fusion took the pixel from frames that show it — the colour
        carried from them, the temporal median — up to SPATIAL_TEMPORAL_BLEND where it was made
        up: on this frame, a keyframe or a finished frame; by the made-up sources' share), where that one step passes the forward–backward check: a recursive
        filter along motion trajectories that damps frame-to-frame changes of the fill
        (cf. Bonneel et al., "Blind Video Temporal Consistency", SIGGRAPH Asia 2015)."""
        if t - 1 not in self.slots or not self.slots[t - 1].finished or not len(fill.points):
            return composed
        previous, _, found = (a[:, 0] for a in self._trace(t, fill.points, -1, True, max_steps=1,
                                                            consistency=True)[:3])
        if not found.any():
            return composed
        xs, ys = fill.points[found, 0].astype(np.intp), fill.points[found, 1].astype(np.intp)
        out = composed.copy()
        if fill.made_up_share is not None:
            made_up = fill.made_up_share[found]
        else:
            made_up = (~(fill.propagated & ~fill.dynamic)[found]).astype(np.float32)
        weight = (TEMPORAL_BLEND + (SPATIAL_TEMPORAL_BLEND - TEMPORAL_BLEND) * made_up).astype(np.float32)[:, None]
        mixed = (1.0 - weight) * composed[ys, xs].astype(np.float32) + weight * previous[found]
        out[ys, xs] = self._stored(mixed)
        return out

    def _measure_stability(self, output: np.ndarray, hole: np.ndarray) -> None:
        """Warping error (Lai et al. 2018) between this output frame and the previous one,
        inside the previous frame's hole and outside it. The flow is measured afresh on the
        output (DIS, forward–backward checked) at most STABILITY_MAX_SIDE pixels wide — not
        the completed flow the fill was carried along, which would grade the fill by its own
        construction."""
        scale = min(1.0, STABILITY_MAX_SIDE / max(self.height, self.width))
        size = (max(1, round(self.width * scale)), max(1, round(self.height * scale)))
        small = output if scale == 1 else cv2.resize(output, size, interpolation=cv2.INTER_AREA)
        small_hole = hole if scale == 1 else cv2.resize(hole.astype(np.uint8), size,
                                                        interpolation=cv2.INTER_NEAREST) > 0
        if self.previous_output is not None:
            pair = flow.flow_pair(self.previous_output, small)
            for where, total in ((self.previous_hole, self.counts.warp_inside),
                                 (~self.previous_hole, self.counts.warp_outside)):
                error, count = flow.warping_error(self.previous_output, small, pair, where)
                total[0] += error
                total[1] += count
        self.previous_output, self.previous_hole = small, small_hole

    # ----------------------------------------------------------------------- the shot

    def run(self) -> FixResult:
        frames = self.shot.frame_range
        window, context = self.params.window_frames, self.params.context_frames
        first = frames.start
        while first < frames.stop:
            stop = min(frames.stop, first + window)
            self._check(f"after {self.done} frames")
            self._load_until(min(frames.stop, stop + context))
            self._window(first, stop)
            self._evict_before(stop - context)
            first = stop
        return FixResult(region=self.region, measurements=self._measurements(), frame_count=self.done)

    def _measurements(self) -> dict[str, float]:
        c = self.counts
        holes = max(c.hole_pixels, 1)
        inside = c.warp_inside[0] / c.warp_inside[1] if c.warp_inside[1] else float("nan")
        outside = c.warp_outside[0] / c.warp_outside[1] if c.warp_outside[1] else float("nan")
        return {
            "region_fraction": float(self.region.mean()),
            "hole_fraction_mean": c.hole_pixels / (self.height * self.width * max(self.done, 1)),
            "filled_by_propagation_fraction": c.propagated / holes,
            "filled_from_finished_frames_fraction": c.from_finished / holes,
            "filled_spatially_fraction": c.spatial / holes,
            "keyframes": float(c.keyframes),
            "grain_sigma_plate": self.plate_grain.mean_sigma if self.plate_grain is not None else 0.0,
            "grain_sigma_added": float(np.mean(c.grain_added)) if c.grain_added else 0.0,
            "grain_changing_share": float(self.plate_grain.changing.mean()) if self.plate_grain is not None else 0.0,
            "warping_error_inside": inside,
            "warping_error_outside": outside,
            "warping_error_ratio": inside / outside if outside and math.isfinite(outside) else float("nan"),
            "margin_px": float(self.params.margin_px),
            "inpaint_model_used": float(self.inpaint is not None),
        }


def run(
    *,
    shot: FrameSource,
    params: RemovalParams | None = None,
    masks: region.MaskInput | None = None,
    sink: Callable[[int, np.ndarray, np.ndarray], None],
    progress: Callable[[int, int], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    mask_sink: Callable[[int, np.ndarray], None] | None = None,
) -> FixResult:
    """Remove an object from a shot by flow-guided video inpainting (see the module docstring).

    Args:
        shot: the frames (any depth; see the module docstring).
        params: :class:`RemovalParams`; defaults when None.
        masks: the object masks, when ``params`` names none: a folder of mask images, a
            :class:`engine.ops.region.MaskStream`, a callable ``mask(frame_number) -> bool [H, W]``
            or one bool [H, W] array for every frame (True = object).
        sink: called as ``sink(frame_number, before, after)`` for every frame, in order;
            [H, W, 3] RGB, uint8 for 8-bit sources, float32 at source precision for deeper
            ones (``FrameSource.frames(as_float=True)``); ``after`` equals ``before`` bit for
            bit outside that frame's hole (mask dilated by ``params.margin_px``).
        progress: ``progress(done, total)`` after each sink call; total is ``len(shot)``.
        should_cancel: polled between frames; True stops the run with :class:`Cancelled`.
        mask_sink: called as ``mask_sink(frame_number, hole)`` before ``sink`` for every frame:
            uint8 [H, W], 255 where that frame may change (its mask dilated by the margin),
            0 where it is the source's bit for bit.

    Returns:
        :class:`engine.fixes.result.FixResult`: ``region`` bool [H, W], the union over frames of the
        holes; ``measurements`` (floats):

        - ``region_fraction``: share of the frame in the region; ``hole_fraction_mean``:
          mean share of a frame in its own hole;
        - ``filled_by_propagation_fraction``, ``filled_from_finished_frames_fraction``,
          ``filled_spatially_fraction``: how the hole pixels were filled (sum to 1);
          ``keyframes``: frames filled spatially;
        - ``grain_sigma_plate``, ``grain_sigma_added``: the plate's grain deviation and the
          deviation of the grain added (RMS inside the hole, mean over frames; 0..255 code values); ``grain_changing_share``: the share of
          the plate's deviation that changes from frame to frame (:attr:`engine.ops.grain.Grain.changing`;
          the rest is fixed fine texture, which fresh grain every frame would make boil);
        - ``warping_error_inside``, ``warping_error_outside``, ``warping_error_ratio``:
          temporal stability of the output — Lai et al. 2018 warping error (mean squared
          RGB difference, 0..1 scale, between consecutive output frames along their
          flow, non-occluded pixels) inside the holes, outside them, and their ratio;
        - ``margin_px``; ``inpaint_model_used``: 1.0 when the production's inpainting model
          took part in the fusion (given, and better than the classical fill on its held-out
          frames), else 0.0.

    Raises:
        ParameterError: invalid parameters; no masks or masks given twice; a mask of another
            size than the frames; a mask folder with too few images.
        FrameSourceError: the shot or a mask folder cannot be decoded.
        Cancelled: ``should_cancel()`` returned True.
        Anything ``sink`` or ``progress`` raise propagates unchanged.
    """
    params = params if params is not None else RemovalParams()
    if not isinstance(params, RemovalParams):
        raise ParameterError(f"params must be RemovalParams, got {type(params).__name__}")
    named = params.mask_stream(shot, should_cancel=should_cancel)
    if named is not None and masks is not None:
        raise ParameterError("masks given twice: in the parameters and as an argument")
    if named is None and masks is None:
        raise ParameterError("object removal needs masks: a folder of mask images, or a box on a frame")
    stream = named if named is not None else region.mask_stream(masks)
    result = _Remover(shot, params, stream, sink, progress, should_cancel, mask_sink).run()
    log.info("object removal %s: %s", shot.path.name, result.measurements)
    return result
