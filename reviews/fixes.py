"""The fixes the portal offers, by fix kind: how their parameters are checked, which engine
module runs them and what they store beside their frames. Adding a fix kind means adding an
entry here."""
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

from engine.errors import ParameterError
from engine.fixes import background, clean_plate, continuity, look, match, rebuild, relight, reframe, remove
from engine.media.decode import FrameSource
from engine.ops import region

from .errors import ServiceError
from .models import FixKind


@dataclass(frozen=True)
class FixInputs:
    """What a job hands to a fix: frames, the reference, parameters, the production's look
    file when the fix applies one, the fix request's drawn mask, and the engine's callbacks."""

    shot: FrameSource
    reference: FrameSource | None
    params: Any
    look_path: Path | None
    sink: Callable
    progress: Callable
    should_cancel: Callable
    mask: dict | list | None = None  # FixRequest.mask: one outline {"frame", "shape", "points"} or a list (keyframes)
    clean_plate: FrameSource | None = None  # the shot's clean plate, for fixes that need one
    matte_sink: Callable | None = None  # matte_sink(frame, alpha uint8 [H, W]) stores a matte per frame
    mask_sink: Callable | None = None  # mask_sink(frame, hole uint8 [H, W]) stores the region a frame may change


@dataclass(frozen=True)
class LookTransferParams:
    """Parameters of a look transfer: which of the production's look models to apply."""

    look_model: int

    @classmethod
    def from_dict(cls, values: dict) -> "LookTransferParams":
        unknown = set(values) - {"look_model"}
        if unknown:
            raise ParameterError(f"unknown parameter(s) {', '.join(sorted(unknown))}; expected look_model")
        if not isinstance(values.get("look_model"), int) or isinstance(values.get("look_model"), bool):
            raise ParameterError("look_model must be the id of one of the production's look models")
        return cls(look_model=values["look_model"])

    def to_dict(self) -> dict:
        return {"look_model": self.look_model}


@dataclass(frozen=True)
class FixSpec:
    params_type: Any  # a dataclass with from_dict() / to_dict()
    run: Callable[[FixInputs], Any]  # returns an engine FixResult
    method: str  # shown with every proposal
    needs_reference: bool
    # What a supervisor filing this fix gives it, in a sentence (shown beside the kind).
    needs: str = ""
    needs_look_model: bool = False
    # The region comes from the mask drawn on the fix request (never from parameters, which
    # could name server folders): required when True.
    needs_mask: bool = False
    # Files stored beside the proposal's frames, made from the engine's result.
    extra_files: Callable[[Any], dict[str, bytes]] = field(default=lambda result: {})
    # Whether these (cleaned) parameters need the shot's clean plate (a clean_plate proposal).
    needs_clean_plate: Callable[[dict], bool] = field(default=lambda parameters: False)
    # Checks the parameters against the fix request's frames [frame_in, frame_out); raises ParameterError.
    check_frames: Callable[[Any, int, int], None] = field(default=lambda params, frame_in, frame_out: None)
    # The fix reports continuity findings instead of rendering frames (no proposal is made).
    reports_findings: bool = False
    # What ran, given the cleaned parameters, when ``method`` names alternatives (stored with the proposal).
    method_ran: Callable[[dict], str] | None = None

    def method_for(self, parameters: dict) -> str:
        """The method that runs with these (cleaned) parameters, in words."""
        return self.method_ran(parameters) if self.method_ran else self.method


def _engine_callbacks(inputs: FixInputs) -> dict:
    return {"sink": inputs.sink, "progress": inputs.progress, "should_cancel": inputs.should_cancel}


#: Parameters that name a mask source; in the portal the mask is drawn on the fix request instead.
MASK_PARAMETERS = frozenset({"mask_folder", "box", "polygon", "mask_frame"})
#: Parameters that would name a file on the server; refused from people (a reframe's ``model``
#: will be one of the production's upscale model versions, by id, once the portal keeps them).
PATH_PARAMETERS = frozenset({"model"})


def mask_outlines(mask: dict | list | None) -> list[dict]:
    """The outlines ``{"frame", "shape", "points"}`` of a fix request's stored mask, in frame
    order: one, or several on keyframes; [] for no mask."""
    if mask is None:
        return []
    return list(mask) if isinstance(mask, list) else [mask]


def _drawn_polygon(outline: dict) -> np.ndarray:
    """float32 [K, 2] (x, y) of a drawn outline (a rectangle is two opposite corners)."""
    points = np.float32(outline["points"])
    if outline["shape"] == "rectangle":
        (x0, y0), (x1, y1) = points
        return region.box_polygon([x0, y0, x1 - x0, y1 - y0])
    return points


def _tracked(i: FixInputs) -> region.TrackedOutlines:
    """The drawn outlines tracked through the shot (between two keyframes, both)."""
    outlines = {outline["frame"]: _drawn_polygon(outline) for outline in mask_outlines(i.mask)}
    return region.track_keyframes(i.shot, outlines, should_cancel=i.should_cancel)


def _remove_object(i: FixInputs):
    """Object removal of the drawn object, tracked through the shot from the frames it was drawn on."""
    return remove.run(shot=i.shot, params=i.params, masks=_tracked(i), mask_sink=i.mask_sink, **_engine_callbacks(i))


def _clean_plate(i: FixInputs):
    """A clean plate; one drawn outline marks what to leave out on every frame (a locked-off
    shot), outlines on several keyframes are tracked through the shot."""
    outlines = mask_outlines(i.mask)
    if len(outlines) > 1:
        leave_out = _tracked(i)
    elif outlines:
        probe = i.shot.clip_probe
        leave_out = region.rasterise(_drawn_polygon(outlines[0]), (probe.height, probe.width))
    else:
        leave_out = None
    return clean_plate.run(shot=i.shot, params=i.params, masks=leave_out, **_engine_callbacks(i))


def _replace_background(i: FixInputs):
    """Background replacement: the reference shot is the new background plate."""
    return background.run(shot=i.shot, reference=i.reference, params=i.params, clean_plate=i.clean_plate,
                         matte_sink=i.matte_sink, **_engine_callbacks(i))


def _check_missing_frames(params: rebuild.RebuildParams, frame_in: int, frame_out: int) -> None:
    """The frames to rebuild lie in the fix request's frames, and not all of them."""
    outside = [number for number in params.missing if not frame_in <= number < frame_out]
    if outside:
        raise ParameterError(f"missing frame(s) {', '.join(map(str, outside))} lie outside the fix request's "
                             f"frames {frame_in}–{frame_out - 1}")
    if not params.missing:
        raise ParameterError("missing: name the frames to rebuild")
    if len(params.missing) == frame_out - frame_in:
        raise ParameterError("every frame of the fix request is missing: there is nothing to rebuild from")


def _png(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image)
    if not ok:
        raise RuntimeError("OpenCV could not encode a PNG")
    return data.tobytes()


FIXES: dict[str, FixSpec] = {
    FixKind.COLOR_MATCH: FixSpec(
        params_type=match.MatchParams,
        run=lambda i: match.run(shot=i.shot, reference=i.reference, params=i.params, **_engine_callbacks(i)),
        method="engine.fixes.match shot match — MKL (Pitié & Kokaram 2007) or Reinhard et al. 2001, in CIELAB "
               "(ACEScct at source precision for sources deeper than 8 bits)",
        method_ran=lambda parameters: "engine.fixes.match shot match in CIELAB (ACEScct for sources deeper than "
                                      "8 bits) — " + {
            "mkl": "MKL, the linear Monge–Kantorovich colour transfer (Pitié & Kokaram 2007)",
            "reinhard": "Reinhard et al. 2001 (per-channel mean and spread)"}[parameters.get("method", "mkl")],
        needs_reference=True,
        needs='A reference shot to match. Parameters: {"method": "mkl" | "reinhard"}.',
    ),
    FixKind.RELIGHT: FixSpec(
        params_type=relight.RelightParams,
        run=lambda i: relight.run(shot=i.shot, reference=i.reference, params=i.params, **_engine_callbacks(i)),
        method="engine.fixes.relight — exposure, CAT02 white balance and contrast as an ASC CDL v1.2",
        needs_reference=True,
        needs="A reference shot whose light to match.",
        extra_files=lambda result: {"grade.cc": result.cdl.to_cc_xml("loupe_relight").encode()},
    ),
    FixKind.LOOK_TRANSFER: FixSpec(
        params_type=LookTransferParams,
        run=lambda i: look.apply_look(i.shot, i.look_path, **_engine_callbacks(i)),
        method="engine.fixes.look — the production's look model, a 3D LUT applied through a dense 8-bit table "
               "(at source precision for sources deeper than 8 bits)",
        needs_reference=False,
        needs="Parameters: {\"look_model\": id} of one of the production's look models.",
        needs_look_model=True,
    ),
    FixKind.OBJECT_REMOVAL: FixSpec(
        params_type=remove.RemovalParams,
        run=_remove_object,
        method="engine.fixes.remove — flow-guided video inpainting (DIS flow, propagation both ways, exemplar fill, "
               "regrain); pixels outside mask + margin untouched",
        needs_reference=False,
        needs='A mask: outline the object on one frame, and again on later frames where it moves or turns '
              '(keyframes); it is tracked through the frames. '
              'Parameters: {"margin_px": 4}.',
        needs_mask=True,
    ),
    FixKind.CLEAN_PLATE: FixSpec(
        params_type=clean_plate.PlateParams,
        run=_clean_plate,
        method="engine.fixes.clean_plate — frames aligned by homography, robust temporal median without masked or moving pixels",
        needs_reference=False,
        needs="Optionally a mask of what to leave out of the plate on every frame.",
        extra_files=lambda result: {"plate.png": _png(result.plate),
                                    "confidence.png": _png(np.round(result.confidence * 255).astype(np.uint8))},
    ),
    FixKind.BACKGROUND_REPLACE: FixSpec(
        params_type=background.BackgroundParams,
        run=_replace_background,
        method="engine.fixes.background — chroma or clean-plate difference key, guided-filter edges (He et al. 2010), "
               "mattes carried along flow; Porter–Duff over with MKL harmonisation, light wrap and regrain",
        needs_reference=True,
        needs='A reference shot: the new background plate. Parameters: {"key": "green" | "blue" | "clean_plate"} '
              '(clean_plate needs a clean plate of this shot).',
        needs_clean_plate=lambda parameters: parameters["key"] == "clean_plate",
        method_ran=lambda parameters: "engine.fixes.background — " + {
            "green": "green-screen chroma key", "blue": "blue-screen chroma key",
            "clean_plate": "clean-plate difference key"}.get(parameters.get("key"), "key") +
            ", guided-filter edges (He et al. 2010), mattes carried along flow; Porter–Duff over with MKL "
            "harmonisation, light wrap and regrain",
    ),
    FixKind.FRAME_REBUILD: FixSpec(
        params_type=rebuild.RebuildParams,
        run=lambda i: rebuild.run(shot=i.shot, params=i.params, **_engine_callbacks(i)),
        method="engine.fixes.rebuild — motion-compensated interpolation: bidirectional DIS flow, forward splatting "
               "with occlusion reasoning (Baker et al. 2011), Super SloMo blend (Jiang et al. 2018)",
        needs_reference=False,
        needs='Parameters: {"missing": [frame, ...]}, clip frames inside the fix\'s frames.',
        check_frames=_check_missing_frames,
    ),
    FixKind.REFRAME: FixSpec(
        params_type=reframe.ReframeParams,
        run=lambda i: reframe.run(shot=i.shot, params=i.params, **_engine_callbacks(i)),
        method=reframe.METHOD,
        needs_reference=False,
        needs='Parameters: {"box": [x, y, w, h]} of the new framing in the take\'s pixels, {"size": [w, h]} the '
              'delivery size (same aspect), optionally {"keyframes": [{"frame": N, "box": [x, y, w, h]}, ...]} '
              'eased like a camera move.',
        # The box track rendered, beside the frames: the proposal's lineage with its parameters and shot.
        extra_files=lambda result: {"box_track.json": json.dumps(
            {"box_track": {str(n): box for n, box in result.box_track.items()}}).encode()},
    ),
    FixKind.CONTINUITY_CHECK: FixSpec(
        params_type=continuity.ContinuityParams,
        run=lambda i: continuity.run(shot=i.shot, reference=i.reference, params=i.params,
                                     progress=i.progress, should_cancel=i.should_cancel),
        method="engine.fixes.continuity — takes aligned by homography, temporal-median plates without what moves, "
               "MKL colour normalisation, CIELAB difference with parallax tolerance",
        needs_reference=True,
        needs="A reference shot: the other take (this shot is take B). Findings appear on the shot's page.",
        reports_findings=True,
    ),
}


def fix_spec(kind: str) -> FixSpec:
    try:
        return FIXES[kind]
    except KeyError:
        raise ServiceError(f"Unknown fix kind {kind!r}; choose one of {', '.join(FIXES)}.") from None


def clean_parameters(kind: str, parameters: dict, *, frame_in: int, frame_out: int) -> dict:
    """Validate ``parameters`` for ``kind`` on frames ``[frame_in, frame_out)`` through the fix's
    parameter type and return them complete (defaults filled in). Raises ``ServiceError``
    naming what is wrong."""
    spec = fix_spec(kind)
    named = MASK_PARAMETERS & set(parameters or {})
    if named and kind != FixKind.REFRAME:  # a reframe's box is its framing, not a mask
        raise ServiceError(f"Parameters: {', '.join(sorted(named))} cannot be set here; draw the mask on the "
                           f"fix request instead.")
    paths = {name for name in PATH_PARAMETERS if (parameters or {}).get(name) is not None}
    if paths and kind == FixKind.REFRAME:
        raise ServiceError(f"Parameters: {', '.join(sorted(paths))} cannot be set here; the portal does not "
                           f"keep upscale model versions yet, so a reframe upscales by Lanczos.")
    try:
        params = spec.params_type.from_dict(parameters or {})
        spec.check_frames(params, frame_in, frame_out)
    except ParameterError as error:
        raise ServiceError(f"Parameters: {error}") from None
    return params.to_dict()
