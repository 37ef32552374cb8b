"""The fixes the portal offers, by fix kind: how their parameters are checked and which engine
module runs them. Adding a fix kind means adding an entry here."""
from dataclasses import dataclass
from typing import Any, Callable

from engine import color
from engine.errors import ParameterError

from .errors import ServiceError
from .models import FixKind


@dataclass(frozen=True)
class FixSpec:
    params_type: Any  # a dataclass with from_dict() / to_dict()
    run: Callable[..., Any]
    method: str  # shown with every proposal
    needs_reference: bool


FIXES: dict[str, FixSpec] = {
    FixKind.COLOR_MATCH: FixSpec(
        params_type=color.MatchParams,
        run=color.run,
        method="engine.color shot match — Reinhard et al. 2001 mean/std transfer in CIELAB",
        needs_reference=True,
    ),
}


def fix_spec(kind: str) -> FixSpec:
    try:
        return FIXES[kind]
    except KeyError:
        raise ServiceError(f"Unknown fix kind {kind!r}; choose one of {', '.join(FIXES)}.") from None


def clean_parameters(kind: str, parameters: dict) -> dict:
    """Validate ``parameters`` for ``kind`` through the engine's own parameter type and return
    them complete (defaults filled in). Raises ``ServiceError`` naming what is wrong."""
    try:
        return fix_spec(kind).params_type.from_dict(parameters or {}).to_dict()
    except ParameterError as error:
        raise ServiceError(f"Parameters: {error}") from None
