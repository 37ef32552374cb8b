"""The fixes the portal offers, by fix kind: how their parameters are checked, which engine
module runs them and what they store beside their frames. Adding a fix kind means adding an
entry here."""
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from engine import color, look, relight
from engine.errors import ParameterError
from engine.io import FrameSource

from .errors import ServiceError
from .models import FixKind


@dataclass(frozen=True)
class FixInputs:
    """What a job hands to a fix: frames, the reference, parameters, the production's look
    file when the fix applies one, and the engine's callbacks."""

    shot: FrameSource
    reference: FrameSource | None
    params: Any
    look_path: Path | None
    sink: Callable
    progress: Callable
    should_cancel: Callable


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
    needs_look_model: bool = False
    # Files stored beside the proposal's frames, made from the engine's result.
    extra_files: Callable[[Any], dict[str, bytes]] = field(default=lambda result: {})


def _engine_callbacks(inputs: FixInputs) -> dict:
    return {"sink": inputs.sink, "progress": inputs.progress, "should_cancel": inputs.should_cancel}


FIXES: dict[str, FixSpec] = {
    FixKind.COLOR_MATCH: FixSpec(
        params_type=color.MatchParams,
        run=lambda i: color.run(shot=i.shot, reference=i.reference, params=i.params, **_engine_callbacks(i)),
        method="engine.color shot match — MKL (Pitié & Kokaram 2007) or Reinhard et al. 2001, in CIELAB",
        needs_reference=True,
    ),
    FixKind.RELIGHT: FixSpec(
        params_type=relight.RelightParams,
        run=lambda i: relight.run(shot=i.shot, reference=i.reference, params=i.params, **_engine_callbacks(i)),
        method="engine.relight — exposure, CAT02 white balance and contrast as an ASC CDL v1.2",
        needs_reference=True,
        extra_files=lambda result: {"grade.cc": result.cdl.to_cc_xml("loupe_relight").encode()},
    ),
    FixKind.LOOK_TRANSFER: FixSpec(
        params_type=LookTransferParams,
        run=lambda i: look.apply_look(i.shot, i.look_path, **_engine_callbacks(i)),
        method="engine.look — the production's look model, a 3D LUT applied through a dense 8-bit table",
        needs_reference=False,
        needs_look_model=True,
    ),
}


def fix_spec(kind: str) -> FixSpec:
    try:
        return FIXES[kind]
    except KeyError:
        raise ServiceError(f"Unknown fix kind {kind!r}; choose one of {', '.join(FIXES)}.") from None


def clean_parameters(kind: str, parameters: dict) -> dict:
    """Validate ``parameters`` for ``kind`` through the fix's parameter type and return them
    complete (defaults filled in). Raises ``ServiceError`` naming what is wrong."""
    try:
        return fix_spec(kind).params_type.from_dict(parameters or {}).to_dict()
    except ParameterError as error:
        raise ServiceError(f"Parameters: {error}") from None
