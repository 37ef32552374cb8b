"""Colour management through OpenColorIO 2: which colour space a clip is in, and transforms
between colour spaces and to a display.

- The config: by default the ACES studio config built into OCIO (:data:`DEFAULT_CONFIG`,
  ``ocio://studio-config-latest``: ACES 2.0 output transforms, camera log spaces — ARRI LogC3/4,
  Sony S-Log3, RED Log3G10, … — ACEScct, ACEScg); a production may name its own config file.
- A clip's input colour space (:func:`input_colorspace`): the name given (``--input-colorspace``,
  the supervisor's choice at ingest), else the one its file names (EXR ``colorInteropID``,
  movie metadata ``ocio_colorspace``), else one implied by its ITU-T H.273 transfer tag (sRGB,
  linear), else Rec.709 (:data:`DEFAULT_INPUT`: the BT.1886 display encoding of Rec.709 video).
- Working spaces: each fix declares the space it computes in (``WORKING_SPACE`` of its module;
  None = the clip's input colour space): grading-type fixes a log space (shot match: ACEScct,
  the ``color_timing`` role), blending and compositing scene-linear ACEScg (the ``scene_linear``
  role: removal, clean plate, background replacement of deep sources; 8-bit sources keep their
  code-value paths, ``WORKING_SPACE_8BIT``).
- Measurements that stand for what a viewer sees (ΔE2000) are taken after the display
  transform (:func:`display_transform`): display ``sRGB - Display`` with the ACES 2.0 SDR view
  for scene-referred spaces, the colorimetric video view for display-referred video encodings
  (:func:`measurement_view` names it).
- Review pictures: any display of the config through its default view for the frame's colour
  space (:func:`resolve_view`, the config's viewing rules) or a view named; the portal renders
  each of a short list (``LOUPE_REVIEW_VIEWS``) on the worker.

Frames are float32 [H, W, 3] RGB; OCIO's CPU processor works on them in place (a copy is made),
in strips of rows on the cores the process may use (:func:`apply_cpu`).
"""

from __future__ import annotations

import contextlib
import functools
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import PyOpenColorIO as ocio

from engine.errors import ParameterError
from engine.media.images import quantise

#: The ACES studio config built into OpenColorIO 2.
DEFAULT_CONFIG = "ocio://studio-config-latest"
#: Loupe's name for Rec.709 video (and the input colour space when nothing else says).
REC709 = "Rec.709"
#: What ``Rec.709`` stands for in the studio config: BT.709 primaries, BT.1886 (gamma 2.4) encoding.
DEFAULT_INPUT = "Gamma 2.4 Encoded Rec.709"
#: The log working space of grading-type fixes (the studio config's ``color_timing`` role).
GRADING_SPACE = "ACEScct"
#: The scene-linear working space of blending and compositing (the ``scene_linear`` role).
COMPOSITING_SPACE = "ACEScg"
#: The display ΔE is measured on, and its views (scene-referred, display-referred video).
MEASUREMENT_DISPLAY = "sRGB - Display"
SCENE_VIEW = "ACES 2.0 - SDR 100 nits (Rec.709)"
VIDEO_VIEW = "Video (colorimetric)"

#: ITU-T H.273 transfer names (as ClipProbe gives them) that imply a colour space.
_TRANSFER_SPACES = {"iec61966-2-1": "sRGB Encoded Rec.709 (sRGB)", "linear": "Linear Rec.709 (sRGB)"}


#: Frames with fewer pixels than this go through OCIO's CPU processor in one call.
PARALLEL_MIN_PIXELS = 1 << 18


@functools.lru_cache(maxsize=1)
def _strip_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=_workers(), thread_name_prefix="ocio-strips")


def _workers() -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(8, cores))


def apply_cpu(cpu: ocio.CPUProcessor, pixels: np.ndarray) -> np.ndarray:
    """Apply an OCIO CPU processor in place to C-contiguous float32 [..., 3] RGB ``pixels``,
    in strips of rows on a thread pool of one thread per core the process may use (at most 8;
    OCIO releases the GIL in ``applyRGB``, and its processor is per pixel, so the result is
    bit for bit that of one call). Returns ``pixels``.

    Raises:
        ValueError: ``pixels`` is not C-contiguous float32 with 3 channels last.
    """
    if pixels.dtype != np.float32 or not pixels.flags.c_contiguous or pixels.shape[-1] != 3:
        raise ValueError(f"OCIO works in place on C-contiguous float32 [..., 3], not {pixels.dtype} {pixels.shape}")
    flat = pixels.reshape(-1, 3)
    workers = _workers()
    if workers == 1 or len(flat) < PARALLEL_MIN_PIXELS:
        cpu.applyRGB(flat)
    else:
        list(_strip_pool().map(cpu.applyRGB, np.array_split(flat, workers)))
    return pixels


#: The config of this process's current work when none is named (``use_config``): a worker runs
#: one job at a time, in the config of the job's production.
_current_source: str | None = None


@contextlib.contextmanager
def use_config(source: str | os.PathLike | None):
    """Within the block, functions given no config use the one at ``source`` (None: the
    default). Process-wide, for a process doing one piece of work at a time (a worker's job);
    code serving many productions at once passes ``config_source`` instead."""
    global _current_source
    previous, _current_source = _current_source, (str(source) if source else None)
    try:
        yield
    finally:
        _current_source = previous


def chosen_config(source: str | os.PathLike | None = None) -> str:
    """The config meant: ``source``, else the one ``use_config`` set, else :data:`DEFAULT_CONFIG`."""
    return str(source or _current_source or DEFAULT_CONFIG)


def load_config(source: str | os.PathLike | None = None) -> ocio.Config:
    """The OCIO config at ``source`` (a file or an ``ocio://`` URI); when None, the one
    :func:`use_config` set, else :data:`DEFAULT_CONFIG`.

    Raises:
        ParameterError: the config cannot be read (the message gives OCIO's reason).
    """
    return _load_config(chosen_config(source))


@functools.lru_cache(maxsize=8)
def _load_config(source: str) -> ocio.Config:
    try:
        return ocio.Config.CreateFromFile(source)
    except ocio.Exception as exc:
        raise ParameterError(f"OCIO config {source} cannot be read: {exc}") from exc


def colorspace_names(config: ocio.Config | None = None) -> list[str]:
    """The names offered for a clip's input colour space: :data:`REC709`, then the active
    scene-referred colour spaces of ``config`` (the studio config when None: camera log and
    linear spaces, ACES spaces, encoded video and sRGB) in the config's order."""
    config = config or load_config()
    return [REC709, *config.getColorSpaceNames(ocio.SEARCH_REFERENCE_SPACE_SCENE, ocio.COLORSPACE_ACTIVE)]


def resolve_colorspace(name: str, config: ocio.Config | None = None) -> str:
    """The config's own name for a colour space named by its name, an alias or its interop ID;
    ``Rec.709`` is :data:`DEFAULT_INPUT`.

    Raises:
        ParameterError: the config has no such colour space (the message lists some it has).
    """
    config = config or load_config()
    if not isinstance(name, str) or not name.strip():
        raise ParameterError(f"a colour space must be a non-empty OCIO name, got {name!r}")
    name = name.strip()
    space = config.getColorSpace(DEFAULT_INPUT if name == REC709 else name)
    if space is None:
        known = ", ".join(list(config.getColorSpaceNames())[9:17])
        raise ParameterError(f"unknown colour space {name!r} in OCIO config {config.getName()} (e.g. {known}, …)")
    return space.getName()


def input_colorspace(clip_probe, override: str | None = None, config: ocio.Config | None = None) -> str:
    """The colour space a clip is read in (see the module docstring for the order).

    Args:
        clip_probe: the clip's :class:`engine.media.probe.ClipProbe`.
        override: a name chosen by a person (``--input-colorspace``), or None.

    Raises:
        ParameterError: ``override`` is not a colour space of the config.
    """
    config = config or load_config()
    if override:
        return resolve_colorspace(override, config)
    tag = clip_probe.colorspace_tag
    if tag and config.getColorSpace(tag) is not None:
        return config.getColorSpace(tag).getName()
    implied = _TRANSFER_SPACES.get(clip_probe.color_transfer or "")
    return implied if implied is not None else DEFAULT_INPUT


def is_display_video(name: str, config: ocio.Config | None = None) -> bool:
    """True for display-referred video encodings (Rec.709, sRGB): what a monitor shows as coded."""
    space = (config or load_config()).getColorSpace(name)
    return space is not None and space.getEncoding() == "sdr-video"


class Transform:
    """One OCIO CPU processor, applied to float32 [H, W, 3] RGB frames (returns a new array).

    The processor is optimised losslessly (``OPTIMIZATION_LOSSLESS``): OCIO's default
    optimisation approximates some curves by LUTs, which loses what high-bit-depth footage has.
    """

    def __init__(self, processor: ocio.Processor) -> None:
        self._cpu = processor.getOptimizedCPUProcessor(ocio.OPTIMIZATION_LOSSLESS)
        self.is_identity = processor.isNoOp()

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        out = np.array(frame, dtype=np.float32, order="C", copy=True)
        if not self.is_identity:
            apply_cpu(self._cpu, out)
        return out


def colorspace_transform(source: str, target: str, config_source: str | None = None) -> Transform:
    """The transform from colour space ``source`` to ``target`` (names resolved as
    :func:`resolve_colorspace`) in the config at ``config_source`` (default: :func:`load_config`'s).

    Raises:
        ParameterError: an unknown colour space.
    """
    return _colorspace_transform(source, target, chosen_config(config_source))


@functools.lru_cache(maxsize=64)
def _colorspace_transform(source: str, target: str, config_source: str) -> Transform:
    config = load_config(config_source)
    source, target = resolve_colorspace(source, config), resolve_colorspace(target, config)
    return Transform(config.getProcessor(source, target))


def display_transform(source: str, display: str = MEASUREMENT_DISPLAY, view: str | None = None,
                      config_source: str | None = None) -> Transform:
    """From colour space ``source`` to what ``display`` shows through ``view`` (display code
    values 0..1). ``view`` None: the config's default view for ``source`` (:func:`resolve_view`).

    Raises:
        ParameterError: an unknown colour space, display or view.
    """
    return _display_transform(source, display, view, chosen_config(config_source))


@functools.lru_cache(maxsize=64)
def _display_transform(source: str, display: str, view: str | None, config_source: str) -> Transform:
    config = load_config(config_source)
    source = resolve_colorspace(source, config)
    view = resolve_view(source, display, view, config_source)
    transform = ocio.DisplayViewTransform(src=source, display=display, view=view)
    return Transform(config.getProcessor(transform))


def resolve_view(source: str, display: str, view: str | None = None, config_source: str | None = None) -> str:
    """The view of ``display`` a frame in colour space ``source`` is shown through: ``view`` when
    given, else the config's default view for that display and colour space (OCIO viewing rules:
    in the studio config the ACES 2.0 SDR view of the display for scene-referred spaces, ``Video
    (colorimetric)`` for display-referred video), else :data:`VIDEO_VIEW` / :data:`SCENE_VIEW`
    for a config without viewing rules.

    Raises:
        ParameterError: an unknown colour space, or the config has no such display and view.
    """
    config = load_config(config_source)
    source = resolve_colorspace(source, config)
    if display not in config.getDisplays():
        raise ParameterError(f"OCIO config {config.getName()} has no display {display!r} "
                             f"(it has {', '.join(config.getDisplays())})")
    if view is None:
        view = config.getDefaultView(display, source) or (
            VIDEO_VIEW if is_display_video(source, config) else SCENE_VIEW)
    if view not in config.getViews(display):
        raise ParameterError(f"OCIO config {config.getName()} has no display {display!r} with view {view!r}")
    return view


def measurement_view(colorspace: str) -> tuple[str, str]:
    """The display and view the fixes' ΔE2000 (and CIELAB figures) are taken in, for a shot in
    ``colorspace`` at any bit depth: frames go through :func:`display_transform` to
    :data:`MEASUREMENT_DISPLAY`, its default view for the space. CIELAB is computed from sRGB
    display codes (IEC 61966-2-1), hence the one display.

    Raises:
        ParameterError: an unknown colour space.
    """
    return MEASUREMENT_DISPLAY, resolve_view(colorspace, MEASUREMENT_DISPLAY)


def display_codes(frame: np.ndarray, colorspace: str, display: str = MEASUREMENT_DISPLAY,
                  view: str | None = None, config_source: str | None = None) -> np.ndarray:
    """uint8 [H, W, 3] display codes of a float32 [H, W, 3] frame in ``colorspace``, through
    :func:`display_transform` — what a review picture shows on that display (a review proxy, the
    reference shot's frames in the review room).

    Raises:
        ParameterError: an unknown colour space, display or view.
    """
    return quantise(display_transform(colorspace, display, view, config_source)(frame), np.uint8)
