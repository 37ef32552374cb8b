"""The fixes the portal offers, by fix kind: what each needs, how its parameters are checked and
the method it names. Adding a fix kind means adding an entry here and its run in
``reviews.worker.fixes``.

Web processes import this module, so it imports no engine module that needs torch or OpenCV:
the parameter types come from ``engine.fixes.params`` (docs/adr/0010-light-web-processes.md),
and a reframe's from ``engine.fixes.reframe``, whose module imports none of them at the top.
"""
from dataclasses import dataclass, field
from typing import Any, Callable

from engine.errors import ParameterError
from engine.fixes.params import (BackgroundParams, ContinuityParams, MatchParams, PlateParams, RebuildParams,
                                 RelightParams, RemovalParams)
from engine.fixes.reframe import METHOD as REFRAME_METHOD
from engine.fixes.reframe import ReframeParams

from .errors import ServiceError
from .models import FixKind


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
    method: str  # shown with every proposal
    needs_reference: bool
    # What a supervisor filing this fix gives it, in a sentence (shown beside the kind).
    needs: str = ""
    needs_look_model: bool = False
    # The region comes from the mask drawn on the fix request (never from parameters, which
    # could name server folders): required when True.
    needs_mask: bool = False
    # The drawn mask can be segmented through the frames as a per-pixel mask sequence (a "mask"
    # job, corrected by strokes) that the fix then uses instead of the tracked outline.
    uses_mask_sequence: bool = False
    # Whether these (cleaned) parameters take a mask sequence (default: whenever the kind uses one).
    mask_sequence_applies: Callable[[dict], bool] = field(default=lambda parameters: True)
    # Whether the mask job proposes the region itself when no outline is drawn (the sky:
    # ``engine.ops.sky``), given the cleaned parameters.
    proposes_mask: Callable[[dict], bool] = field(default=lambda parameters: False)
    # Whether the mask sequence is stored as 8-bit soft mattes (0..255) rather than 0/255 masks.
    soft_mask: Callable[[dict], bool] = field(default=lambda parameters: False)
    # Whether these (cleaned) parameters need the shot's clean plate (a clean_plate proposal).
    needs_clean_plate: Callable[[dict], bool] = field(default=lambda parameters: False)
    # Checks the parameters against the fix request's frames [frame_in, frame_out); raises ParameterError.
    check_frames: Callable[[Any, int, int], None] = field(default=lambda params, frame_in, frame_out: None)
    # The fix reports continuity findings instead of rendering frames (no proposal is made).
    reports_findings: bool = False
    # What ran, given the cleaned parameters, when ``method`` names alternatives (stored with the proposal).
    method_ran: Callable[[dict], str] | None = None
    # The kind of the production's learned model the fix uses (``LearnedModel.kind``), if any: a
    # fix request may pin one by id in its ``learned_model`` parameter.
    learned_model_kind: str | None = None

    def method_for(self, parameters: dict) -> str:
        """The method that runs with these (cleaned) parameters, in words."""
        return self.method_ran(parameters) if self.method_ran else self.method


#: Parameters that name a mask source; in the portal the mask is drawn on the fix request instead.
MASK_PARAMETERS = frozenset({"mask_folder", "box", "polygon", "mask_frame"})
#: Parameters that would name a file on the server (a model file the engine loads); refused from
#: people. A reframe or a removal names one of the production's learned models by id instead
#: (``learned_model``); the worker gives the engine its file.
PATH_PARAMETERS = frozenset({"model", "inpaint_model"})
#: The parameter pinning one of the production's learned models (``LearnedModel``) by id.
LEARNED_MODEL_PARAMETER = "learned_model"


def mask_outlines(mask: dict | list | None) -> list[dict]:
    """The outlines ``{"frame", "shape", "points"}`` of a fix request's stored mask, in frame
    order: one, or several on keyframes; [] for no mask."""
    if mask is None:
        return []
    return list(mask) if isinstance(mask, list) else [mask]


def _check_missing_frames(params: RebuildParams, frame_in: int, frame_out: int) -> None:
    """The frames to rebuild lie in the fix request's frames, and not all of them."""
    outside = [number for number in params.missing if not frame_in <= number < frame_out]
    if outside:
        raise ParameterError(f"missing frame(s) {', '.join(map(str, outside))} lie outside the fix request's "
                             f"frames {frame_in}–{frame_out - 1}")
    if not params.missing:
        raise ParameterError("missing: name the frames to rebuild")
    if len(params.missing) == frame_out - frame_in:
        raise ParameterError("every frame of the fix request is missing: there is nothing to rebuild from")


FIXES: dict[str, FixSpec] = {
    FixKind.COLOR_MATCH: FixSpec(
        params_type=MatchParams,
        method="engine.fixes.match shot match — MKL (Pitié & Kokaram 2007) or Reinhard et al. 2001, in CIELAB "
               "(ACEScct at source precision for sources deeper than 8 bits)",
        method_ran=lambda parameters: "engine.fixes.match shot match in CIELAB (ACEScct for sources deeper than "
                                      "8 bits) — " + {
            "mkl": "MKL, the linear Monge–Kantorovich colour transfer (Pitié & Kokaram 2007)",
            "reinhard": "Reinhard et al. 2001 (per-channel mean and spread)",
            "balance": "exposure and white balance in ACEScct (from the chosen region, if any), then MKL for the "
                       "rest"}[parameters.get("method", "mkl")],
        needs_reference=True,
        needs='A reference shot to match. Parameters: {"method": "mkl" | "reinhard" | "balance", '
              '"reference_box": [left, top, right, bottom] (fractions, balance only)}.',
    ),
    FixKind.RELIGHT: FixSpec(
        params_type=RelightParams,
        method="engine.fixes.relight — exposure, CAT02 white balance and contrast as an ASC CDL v1.2",
        needs_reference=True,
        needs="A reference shot whose light to match.",
    ),
    FixKind.LOOK_TRANSFER: FixSpec(
        params_type=LookTransferParams,
        method="engine.fixes.look — the production's look model, a 3D LUT applied through a dense 8-bit table "
               "(at source precision for sources deeper than 8 bits)",
        needs_reference=False,
        needs="Parameters: {\"look_model\": id} of one of the production's look models.",
        needs_look_model=True,
    ),
    FixKind.OBJECT_REMOVAL: FixSpec(
        params_type=RemovalParams,
        method="engine.fixes.remove — flow-guided video inpainting (DIS flow, propagation both ways, exemplar fill, "
               "regrain); pixels outside mask + margin untouched",
        needs_reference=False,
        needs='A mask: outline the object on one frame, and again on later frames where it moves or turns '
              '(keyframes); it is tracked through the frames. '
              'Parameters: {"margin_px": 4}, optionally {"learned_model": id} of one of the production\'s '
              'inpainting models (else the newest that beat the classical fill).',
        needs_mask=True,
        learned_model_kind="inpaint",
        uses_mask_sequence=True,
    ),
    FixKind.CLEAN_PLATE: FixSpec(
        params_type=PlateParams,
        method="engine.fixes.clean_plate — frames aligned by homography, robust temporal median without masked or moving pixels",
        needs_reference=False,
        needs="Optionally a mask of what to leave out of the plate on every frame.",
        uses_mask_sequence=True,
    ),
    FixKind.BACKGROUND_REPLACE: FixSpec(
        params_type=BackgroundParams,
        method="engine.fixes.background — chroma, clean-plate difference or sky key, guided-filter edges (He et al. "
               "2010), mattes carried along flow; Porter–Duff over with MKL harmonisation, light wrap and regrain",
        needs_reference=True,
        needs='A reference shot: the new background plate (or sky). Parameters: {"key": "green" | "blue" | '
              '"clean_plate" | "sky"} (clean_plate needs a clean plate of this shot; sky replaces inside the '
              'fix request\'s mask sequence — the sky proposed automatically, or segmented from an outline of '
              'it, corrected by strokes — and leaves every other pixel as it is).',
        needs_clean_plate=lambda parameters: parameters["key"] == "clean_plate",
        uses_mask_sequence=True,
        mask_sequence_applies=lambda parameters: parameters.get("key") == "sky",
        proposes_mask=lambda parameters: parameters.get("key") == "sky",
        soft_mask=lambda parameters: parameters.get("key") == "sky",
        method_ran=lambda parameters: "engine.fixes.background — " + {
            "green": "green-screen chroma key", "blue": "blue-screen chroma key",
            "clean_plate": "clean-plate difference key",
            # (Proposal.method holds 200 characters.)
            "sky": "sky matte (mask sequence, or engine.ops.sky's proposal); the new sky harmonised to the "
                   "shot's (MKL), Porter–Duff over inside the matte only, light wrap, regrain"}.get(parameters.get("key"), "key") + (
            "" if parameters.get("key") == "sky" else
            ", guided-filter edges (He et al. 2010), mattes carried along flow; Porter–Duff over with MKL "
            "harmonisation, light wrap and regrain"),
    ),
    FixKind.FRAME_REBUILD: FixSpec(
        params_type=RebuildParams,
        method="engine.fixes.rebuild — motion-compensated interpolation: bidirectional DIS flow, forward splatting "
               "with occlusion reasoning (Baker et al. 2011), Super SloMo blend (Jiang et al. 2018)",
        needs_reference=False,
        needs='Parameters: {"missing": [frame, ...]}, clip frames inside the fix\'s frames.',
        check_frames=_check_missing_frames,
    ),
    FixKind.REFRAME: FixSpec(
        params_type=ReframeParams,
        method=REFRAME_METHOD,
        needs_reference=False,
        needs='Parameters: {"box": [x, y, w, h]} of the new framing in the take\'s pixels, {"size": [w, h]} the '
              'delivery size (same aspect), optionally {"keyframes": [{"frame": N, "box": [x, y, w, h]}, ...]} '
              'eased like a camera move; optionally {"learned_model": id} of one of the production\'s upscale '
              'models (else the newest that beat Lanczos at the scale).',
        learned_model_kind="upscale",
    ),
    FixKind.CONTINUITY_CHECK: FixSpec(
        params_type=ContinuityParams,
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
    if paths:
        raise ServiceError(f"Parameters: {', '.join(sorted(paths))} cannot be set here: it would name a file on the "
                           f"server. Name one of the production's learned models by id instead: "
                           f"{{\"{LEARNED_MODEL_PARAMETER}\": id}}.")
    parameters = dict(parameters or {})
    pinned = parameters.pop(LEARNED_MODEL_PARAMETER, None)
    if pinned is not None and spec.learned_model_kind is None:
        raise ServiceError(f"Parameters: {LEARNED_MODEL_PARAMETER} applies only to fix kinds that use a learned "
                           f"model ({', '.join(k for k, s in FIXES.items() if s.learned_model_kind)}), not {kind}.")
    if pinned is not None and (isinstance(pinned, bool) or not isinstance(pinned, int)):
        raise ServiceError(f"Parameters: {LEARNED_MODEL_PARAMETER} must be the id of one of the production's "
                           f"learned models, got {pinned!r}.")
    try:
        params = spec.params_type.from_dict(parameters)
        spec.check_frames(params, frame_in, frame_out)
    except ParameterError as error:
        raise ServiceError(f"Parameters: {error}") from None
    cleaned = params.to_dict()
    if pinned is not None:
        cleaned[LEARNED_MODEL_PARAMETER] = pinned
    return cleaned


def engine_parameters(parameters: dict) -> tuple[dict, int | None]:
    """A fix request's stored parameters split into the engine's and the pinned learned model's id."""
    parameters = dict(parameters)
    return parameters, parameters.pop(LEARNED_MODEL_PARAMETER, None)
