"""Command line of the engine: run a fix on files and print its measurements.

    python -m engine match --reference REF --shot SHOT --out OUT [--method mkl|reinhard|balance] [--reference-box L,T,R,B]
        [--reference-range FIRST:STOP] [--shot-range FIRST:STOP]
        [--strength 1.0] [--sample-stride 4] [--max-std-ratio 4.0] [--pixels-correspond | --align]
    python -m engine look train --pair SOURCE GRADED [--pair SOURCE GRADED ...] [--frames N] --out LOOK.cube
    python -m engine look apply --look LOOK.cube INPUT OUT [--reference GRADED]
    python -m engine relight --reference REF --shot SHOT --out OUT [--pixels-correspond]
        [--reference-range FIRST:STOP] [--shot-range FIRST:STOP] [--smoothing-frames 24]
    python -m engine remove --frames INPUT --masks MASKS --out OUT [--margin PX]
        [--range FIRST:STOP] [--no-regrain] [--model MODEL.pt]
    python -m engine inpaint train --frames IN [--frames IN ...] --out MODEL.pt
        [--range FIRST:STOP] [--steps 600] [--minutes 10] [--frames-per-clip 16]
    python -m engine clean-plate --frames INPUT [--masks MASKS] --out PLATE.png
        [--range FIRST:STOP] [--reference-frame N] [--max-frames 32] [--no-align]

``remove`` fills the object masked in MASKS (a folder of numbered mask images, white =
object; image N masks frame N) by flow-guided video inpainting, changing no pixel outside
each frame's mask dilated by PX (default 4). ``clean-plate`` writes the shot's background
rebuilt from its own frames to PLATE.png (8-bit, or 16-bit for deeper sources; ``--out
PLATE.exr`` writes a deep source's plate as EXR, half or float as the source) and its
confidence map (255 = every sampled frame showed the pixel, 0 = none did) beside it as
PLATE_confidence.png.
    python -m engine rebuild --frames INPUT --missing 12,13,40 --out OUT [--flow-width 640]
    python -m engine rebuild --frames INPUT --retime FACTOR --out OUT [--flow-width 640]
    python -m engine continuity --a SHOT_A --b SHOT_B --out FINDINGS.json
        [--a-range FIRST:STOP] [--b-range FIRST:STOP] [--samples 8] [--threshold 20]
    python -m engine replace-background --frames INPUT --background PLATE [--clean-plate PLATE | --key green|blue|sky]
        --out OUT [--masks MASKS] [--mattes FOLDER] [--harmonise 0.5] [--light-wrap 0.3] [--no-regrain]
    python -m engine watermark embed --payload HEX --frames INPUT --out OUT
    python -m engine watermark detect IMAGE
    python -m engine segment --frames IN --keyframe N --outline POLY.json|MASK.png --out MASKS
        [--keyframe N --outline ... ...] [--soft]
    python -m engine segment --frames IN --sky --out MASKS [--soft]
    python -m engine upscale train --frames IN [--frames IN ...] --out MODEL.pt
        [--frames-per-clip 24] [--iterations 1500] [--scales 2,1.5]
    python -m engine upscale apply --model MODEL.pt --scale 2 --frames IN --out OUT
    python -m engine reframe --frames IN --box X,Y,W,H [--keyframes BOXES.json] --size WxH
        [--model MODEL.pt] --out OUT [--range FIRST:STOP] [--no-sharpness-match] [--no-regrain]

``segment`` carries an object's mask, outlined on keyframe N (a JSON polygon ``[[x, y], ...]``
or list of polygons, in pixels, or a mask image, white = object), through the whole clip and
writes MASKS, a folder of numbered PNG masks (0 outside, 255 inside; ``--soft``: the 8-bit
soft matte) that ``remove --masks`` takes (:mod:`engine.ops.segment`). Repeat ``--keyframe``
and ``--outline`` in pairs for several keyframes. ``segment --sky`` proposes the shot's sky
itself (:mod:`engine.ops.sky`: smooth, bright, connected to the top of the frame, on a keyframe
every 24 frames) and carries it the same way; a shot without a sky fails with exit status 2 and
"no sky found …", writing nothing. ``replace-background --key sky`` composites the new plate
inside the sky: MASKS (``segment --sky`` or ``segment`` output, 255 = replace, soft greys
allowed), or the automatic sky proposal without ``--masks``; the plate is harmonised toward the
shot's sky and every pixel outside the matte and the light wrap's reach is the source's.

``upscale train`` learns a production's super-resolution from its own clips (pairs degraded
with the footage's own blur and noise) and prints its held-out PSNR beside Lanczos;
``upscale apply`` upscales every frame of a clip by SCALE. ``reframe`` renders the box of a
wider take (fixed, or keyframed in BOXES.json: ``[{"frame": N, "box": [x, y, w, h]}, …]``,
eased like a camera move) at the delivery size WxH, with the model's upscale (Lanczos without
one) and the production's sharpness, vignetting and grain.

``watermark embed`` adds the invisible forensic watermark carrying the 32-bit payload HEX to
every frame; ``watermark detect`` reads it from a (leaked, degraded) image and prints
``{"payload": "<8 hex digits>" or null, "confidence": <sync peak, σ>, "scale": <size ÷ marked>}``.

REF and SHOT are video files (H.264/HEVC 8/10-bit, ProRes, DNxHR, …) or folders of numbered
images (PNG, JPEG, TIFF, DPX, EXR); OUT is a folder of frames named by frame number — at the
source's precision: 8-bit PNG, 16-bit PNG for deeper integer sources, EXR for EXR sources —
or a ``.mp4``/``.mov`` file (``.mov`` ProRes 4444 for sources deeper than 8 bits). Ranges
are half-open (``0:61`` is frames 0–60); ``FIRST:`` runs to the end of the clip.

Every command takes ``--input-colorspace NAME``: the OCIO colour space of its input clips
(a name or alias of the ACES studio config, or ``Rec.709``); by default the one the file's
metadata names, else Rec.709 (:mod:`engine.media.colour`).

Standard output gets exactly one line: a JSON object with the fix's measurements and
``frame_count``. Progress goes to standard error when it is a terminal. Exit status:
0 on success, 2 on a bad input or parameter (``error: <message>`` on standard error),
130 when interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import itertools
import sys
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from engine.errors import EngineError, FrameSourceError, ParameterError
from engine.fixes import background, clean_plate, continuity, look, match, rebuild, relight, remove
from engine.media.decode import FrameSource
from engine.media.encode import FrameWriter
from engine.models import inpaint as inpaint_model
from engine.models import look as look_model
from engine.ops import region, segment, sky, watermark

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def parse_range(text: str) -> tuple[int, int | None]:
    """Parse ``FIRST:STOP`` (stop exclusive; empty stop = end of clip).

    Raises:
        ParameterError: the text is not two integers separated by ``:``.
    """
    first_text, sep, stop_text = text.partition(":")
    try:
        if not sep:
            raise ValueError
        first = int(first_text)
        stop = int(stop_text) if stop_text.strip() else None
    except ValueError:
        raise ParameterError(
            f"frame range {text!r} is not FIRST:STOP (e.g. 0:61 for frames 0–60, stop exclusive)"
        ) from None
    return first, stop


def _source(args: argparse.Namespace, path: str, frame_range: str | None = None) -> FrameSource:
    first, stop = parse_range(frame_range) if frame_range else (0, None)
    return FrameSource(Path(path), first=first, stop=stop, input_colorspace=args.input_colorspace)


def _box(text: str | None) -> list[str] | None:
    """``L,T,R,B`` → four strings (MatchParams checks them and names what is wrong)."""
    return text.split(",") if text else None


def _writer(out: str, shot: FrameSource) -> FrameWriter:
    """A writer of the output at the shot's frame rate, encoding and colour space."""
    return FrameWriter(Path(out), frame_rate=shot.clip_probe.frame_rate, encoding=shot.encoding,
                       colorspace=shot.colorspace)


def _progress(done: int, total: int) -> None:
    if sys.stderr.isatty():
        end = "\n" if done == total else ""
        print(f"\rrendering frame {done}/{total}", end=end, file=sys.stderr, flush=True)


def _match(args: argparse.Namespace) -> dict[str, float | int]:
    params = match.MatchParams(
        sample_stride=args.sample_stride,
        strength=args.strength,
        max_std_ratio=args.max_std_ratio,
        method=args.method,
        pixels_correspond=args.pixels_correspond,
        align=args.align,
        reference_box=_box(args.reference_box),
        shot_box=_box(args.shot_box),
    )
    shot = _source(args, args.shot, args.shot_range)
    reference = _source(args, args.reference, args.reference_range)
    with _writer(args.out, shot) as writer:
        result = match.run(
            shot,
            reference,
            params=params,
            sink=lambda number, _before, after: writer.write(number, after),
            progress=_progress,
        )
    return {**result.measurements, "frame_count": result.frame_count}


def _look_train(args: argparse.Namespace) -> dict[str, object]:
    params = look_model.LookTrainParams(frames_per_pair=args.frames)
    pairs = [(_source(args, source), _source(args, graded)) for source, graded in args.pair]
    trained = look_model.train_look(pairs, params=params, title=Path(args.out).stem)
    trained.write_cube(args.out)
    return {**trained.measurements, "lut_size": trained.lut.size, "out": str(args.out), "lineage": trained.lineage}


def _look_apply(args: argparse.Namespace) -> dict[str, float | int]:
    shot = _source(args, args.input)
    reference = _source(args, args.reference) if args.reference else None
    with _writer(args.out, shot) as writer:
        result = look.apply_look(
            shot,
            args.look,
            sink=lambda number, _before, after: writer.write(number, after),
            progress=_progress,
            reference=reference,
        )
    return {**result.measurements, "frame_count": result.frame_count}


def _relight(args: argparse.Namespace) -> dict[str, object]:
    params = relight.RelightParams(smoothing_frames=args.smoothing_frames, pixels_correspond=args.pixels_correspond)
    shot = _source(args, args.shot, args.shot_range)
    reference = _source(args, args.reference, args.reference_range)
    with _writer(args.out, shot) as writer:
        result = relight.run(
            shot,
            reference,
            params=params,
            sink=lambda number, _before, after: writer.write(number, after),
            progress=_progress,
        )
    return {**result.measurements, "frame_count": result.frame_count, "cdl": result.cdl.to_dict()}


# --------------------------------------------------------------------------- remove, clean-plate


def _remove(args: argparse.Namespace) -> dict[str, object]:
    params = remove.RemovalParams(mask_folder=args.masks, margin_px=args.margin, regrain=not args.no_regrain,
                                  inpaint_model=args.model)
    shot = _source(args, args.frames, args.range)
    with _writer(args.out, shot) as writer:
        result = remove.run(shot=shot, params=params,
                             sink=lambda number, _before, after: writer.write(number, after), progress=_progress)
    return {**result.measurements, "frame_count": result.frame_count}


def _inpaint_train(args: argparse.Namespace) -> dict[str, object]:
    params = inpaint_model.InpaintTrainParams(steps=args.steps, time_budget_s=60.0 * args.minutes,
                                              frames_per_clip=args.frames_per_clip)
    shots = [_source(args, path, args.range) for path in args.frames]
    model = inpaint_model.train_inpaint(shots, params, progress=_progress)
    model.save(args.out)
    return {"out": str(args.out), "heldout": model.heldout, "lineage": model.lineage}


def _clean_plate(args: argparse.Namespace) -> dict[str, object]:
    out = Path(args.out)
    if out.suffix.lower() not in (".png", ".exr"):
        raise ParameterError(f"--out must name a .png file for the plate (or .exr for a deep source), got {out.name}")
    shot = _source(args, args.frames, args.range)
    if out.suffix.lower() == ".exr" and shot.encoding.is_8bit:
        raise ParameterError(f"--out {out.name}: an 8-bit source's plate is an 8-bit .png")
    params = clean_plate.PlateParams(mask_folder=args.masks, reference_frame=args.reference_frame,
                               max_frames=args.max_frames, align=not args.no_align)
    result = clean_plate.run(shot=shot, params=params, progress=_progress)
    confidence_path = out.with_name(f"{out.stem}_confidence.png")
    clean_plate.write_plate(out, result.plate, shot.encoding, shot.colorspace)
    clean_plate.write_confidence(confidence_path, result.confidence)
    return {**result.measurements, "reference_frame": result.reference_frame, "out": str(out),
            "confidence": str(confidence_path)}


def _add_removal_commands(commands) -> None:
    remove_cmd = commands.add_parser("remove", help="object removal: flow-guided video inpainting inside masks, regrained")
    remove_cmd.add_argument("--frames", required=True, help="input clip: video file or folder of numbered images")
    remove_cmd.add_argument("--masks", required=True, help="folder of numbered mask images (white = object; image N masks frame N)")
    remove_cmd.add_argument("--out", required=True, help="output: folder of PNG frames, or a .mp4/.mov file")
    remove_cmd.add_argument("--margin", type=int, default=remove.RemovalParams().margin_px,
                        help="pixels the masks are dilated by; nothing outside changes (default %(default)s)")
    remove_cmd.add_argument("--range", metavar="FIRST:STOP", help="frames of the input (stop exclusive)")
    remove_cmd.add_argument("--no-regrain", action="store_true", help="do not add grain matching the plate")
    remove_cmd.add_argument("--model", help="the production's inpainting model (python -m engine inpaint train); "
                            "used where it beats the classical fill")
    remove_cmd.set_defaults(handler=_remove)
    inpaint_cmd = commands.add_parser("inpaint", help="inpainting model learned from a production's own frames")
    inpaint_commands = inpaint_cmd.add_subparsers(dest="inpaint_command", required=True)
    inpaint_train = inpaint_commands.add_parser("train", help="train a gated-convolution inpainting model")
    inpaint_train.add_argument("--frames", action="append", required=True,
                               help="a clip of the production: video file or folder of numbered images; repeatable")
    inpaint_train.add_argument("--out", required=True, help="output model file (.pt)")
    inpaint_train.add_argument("--range", metavar="FIRST:STOP", help="frames of each clip used (stop exclusive)")
    defaults = inpaint_model.InpaintTrainParams()
    inpaint_train.add_argument("--steps", type=int, default=defaults.steps, help="Adam steps (default %(default)s)")
    inpaint_train.add_argument("--frames-per-clip", type=int, default=defaults.frames_per_clip,
                               help="frames sampled from each clip, evenly spaced (default %(default)s)")
    inpaint_train.add_argument("--minutes", type=float, default=defaults.time_budget_s / 60,
                               help="stop after this many minutes even if fewer steps were taken (default %(default)s)")
    inpaint_train.set_defaults(handler=_inpaint_train)
    clean = commands.add_parser("clean-plate", help="clean plate: the background rebuilt from the shot's own frames")
    clean.add_argument("--frames", required=True, help="input clip: video file or folder of numbered images")
    clean.add_argument("--masks", help="folder of numbered mask images of what to leave out (white = leave out)")
    clean.add_argument("--out", required=True, help="output PNG file; its confidence map goes beside it")
    clean.add_argument("--range", metavar="FIRST:STOP", help="frames of the input (stop exclusive)")
    clean.add_argument("--reference-frame", type=int, help="frame whose framing the plate takes (default: the middle)")
    clean.add_argument("--max-frames", type=int, default=clean_plate.PlateParams().max_frames,
                       help="frames sampled, evenly spaced (default %(default)s)")
    clean.add_argument("--no-align", action="store_true", help="the camera is locked off: do not align frames")
    clean.set_defaults(handler=_clean_plate)
# --- rebuild (engine.fixes.rebuild): missing frames by motion-compensated interpolation, retiming ---


def _frame_numbers(text: str) -> tuple[int, ...]:
    """Parse ``12,13,40`` into frame numbers. Raises ParameterError naming the bad item."""
    numbers = []
    for item in text.split(","):
        try:
            numbers.append(int(item))
        except ValueError:
            raise ParameterError(f"--missing takes frame numbers separated by commas (e.g. 12,13,40), got {item!r}") from None
    return tuple(numbers)


def _rebuild(args: argparse.Namespace) -> dict[str, float | int]:
    shot = _source(args, args.frames)
    with _writer(args.out, shot) as writer:
        def sink(number, _before, after):
            writer.write(number, after)

        if args.retime is not None:
            result = rebuild.retime(shot=shot, factor=args.retime, sink=sink, flow_width=args.flow_width,
                                    progress=_progress)
        else:
            params = rebuild.RebuildParams(missing=_frame_numbers(args.missing), flow_width=args.flow_width)
            result = rebuild.run(shot=shot, params=params, sink=sink, progress=_progress)
    return {**result.measurements, "frame_count": result.frame_count}


def _add_rebuild(commands) -> None:
    parser = commands.add_parser(
        "rebuild",
        help="rebuild missing/damaged frames, or retime, by motion-compensated interpolation (bidirectional flow)",
    )
    parser.add_argument("--frames", required=True, help="input clip: video file or folder of numbered images")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--missing", help="frame numbers to rebuild, comma-separated (e.g. 12,13,40)")
    which.add_argument("--retime", type=float, metavar="FACTOR",
                       help="output frames per input frame (2 = twice as many frames, half speed)")
    parser.add_argument("--out", required=True, help="output: folder of PNG frames, or a .mp4/.mov file")
    parser.add_argument("--flow-width", type=int, default=rebuild.RebuildParams().flow_width,
                        help="optical flow computed at most this wide, pixels (default %(default)s)")
    parser.set_defaults(handler=_rebuild)


# --- continuity (engine.fixes.continuity): findings between two takes or shots ---


def _continuity(args: argparse.Namespace) -> dict[str, object]:
    params = continuity.ContinuityParams(samples=args.samples, difference_threshold=args.threshold)
    result = continuity.run(shot=_source(args, args.b, args.b_range), reference=_source(args, args.a, args.a_range),
                            params=params, progress=_progress)
    continuity.write_findings(result, args.out)
    return {**result.measurements, "out": str(args.out)}


def _add_continuity(commands) -> None:
    parser = commands.add_parser(
        "continuity",
        help="continuity check: what appeared, disappeared, moved or changed light between two takes or shots",
    )
    parser.add_argument("--a", required=True, help="take/shot A: video file or folder of numbered images")
    parser.add_argument("--b", required=True, help="take/shot B (boxes are in its pixels)")
    parser.add_argument("--out", required=True, help="FINDINGS.json; the crops are written beside it")
    parser.add_argument("--a-range", metavar="FIRST:STOP", help="frames of A (stop exclusive)")
    parser.add_argument("--b-range", metavar="FIRST:STOP", help="frames of B (stop exclusive)")
    defaults = continuity.ContinuityParams()
    parser.add_argument("--samples", type=int, default=defaults.samples,
                        help="frames sampled from each take (default %(default)s)")
    parser.add_argument("--threshold", type=float, default=defaults.difference_threshold,
                        help="CIELAB difference counted as a change, ΔE*ab (default %(default)s)")
    parser.set_defaults(handler=_continuity)


# --- replace-background (engine.fixes.background, engine.ops.matte): matte and composite over a new plate ---


def _replace_background(args: argparse.Namespace) -> dict[str, object]:
    key = "clean_plate" if args.clean_plate else args.key
    params = background.BackgroundParams(key=key, harmonise_strength=args.harmonise, light_wrap=args.light_wrap,
                                        regrain=not args.no_regrain)
    shot = _source(args, args.frames)
    plate_source = _source(args, args.clean_plate) if args.clean_plate else None
    if args.masks and key != "sky":
        raise ParameterError("--masks is the sky matte of --key sky; the chroma and clean-plate keys make their own")
    sky_mattes = region.MaskFolder(args.masks).alphas(shot.frame_range) if args.masks else None
    with contextlib.ExitStack() as stack:
        writer = stack.enter_context(_writer(args.out, shot))
        mattes = stack.enter_context(FrameWriter(Path(args.mattes))) if args.mattes else None
        result = background.run(
            shot=shot, reference=_source(args, args.background), params=params, clean_plate=plate_source,
            sink=lambda number, _before, after: writer.write(number, after),
            # Mattes as PNGs with R = G = B = alpha (255 = foreground).
            matte_sink=(lambda number, alpha: mattes.write(number, np.repeat(alpha[..., None], 3, axis=2)))
            if mattes is not None else None,
            mattes=sky_mattes,
            progress=_progress,
        )
    return {**result.measurements, "frame_count": result.frame_count, "region_fraction": float(result.region.mean())}


def _add_replace_background(commands) -> None:
    parser = commands.add_parser(
        "replace-background",
        help="background replacement: chroma or clean-plate key, guided-filter edges, composite over a new plate",
    )
    parser.add_argument("--frames", required=True, help="input clip: video file or folder of numbered images")
    parser.add_argument("--background", required=True, help="new background plate: clip, folder or one image's folder")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--clean-plate", help="the shot's framing without the foreground (difference key)")
    which.add_argument("--key", choices=("green", "blue", "sky"), default="green",
                       help="screen colour, or sky: replace inside the sky matte (default %(default)s)")
    parser.add_argument("--masks", help="with --key sky: folder of numbered mattes of the region to replace "
                                        "(255 = replace, soft greys allowed; image N is frame N); "
                                        "default: the automatic sky proposal")
    parser.add_argument("--out", required=True, help="output: folder of PNG frames, or a .mp4/.mov file")
    parser.add_argument("--mattes", help="also write the mattes to this folder (8-bit PNGs, R = G = B = alpha, 255 = foreground)")
    defaults = background.BackgroundParams()
    parser.add_argument("--harmonise", type=float, default=defaults.harmonise_strength,
                        help="0..1, foreground colour moved toward the plate's (default %(default)s)")
    parser.add_argument("--light-wrap", type=float, default=defaults.light_wrap,
                        help="0..1, the plate's light over the foreground's edges (default %(default)s)")
    parser.add_argument("--no-regrain", action="store_true", help="do not add the shot's grain over the new plate")
    parser.set_defaults(handler=_replace_background)


def _watermark_embed(args: argparse.Namespace) -> dict[str, object]:
    payload = watermark.payload_from_hex(args.payload)
    frames = FrameSource(Path(args.frames))
    psnr_min = float("inf")
    with FrameWriter(Path(args.out), frame_rate=frames.clip_probe.frame_rate) as writer:
        for count, (number, frame) in enumerate(frames.frames(), start=1):
            marked = watermark.embed(frame, payload)
            psnr_min = min(psnr_min, cv2.PSNR(frame, marked, 255.0 if frame.dtype == np.uint8 else 1.0))
            writer.write(number, marked)
            _progress(count, len(frames))
    return {"payload": f"{payload:08x}", "frame_count": len(frames), "psnr_min_db": round(psnr_min, 2)}


def _read_image(path: Path) -> np.ndarray:
    """An image file (JPEG, PNG, TIFF, …) as uint8 [H, W, 3] RGB. Raises ``FrameSourceError``."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR) if path.is_file() else None
    if image is None:
        raise FrameSourceError(f"{path} is not an image file OpenCV can read")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _watermark_detect(args: argparse.Namespace) -> dict[str, object]:
    found = watermark.detect(_read_image(Path(args.image)))
    return {"payload": None if found.payload is None else f"{found.payload:08x}",
            "confidence": round(found.confidence, 2), "scale": round(found.scale, 3)}


def _add_watermark(commands) -> None:
    parser = commands.add_parser("watermark", help="forensic watermark: embed a session's payload, or read it from a leak")
    actions = parser.add_subparsers(dest="watermark_command", required=True)
    embed = actions.add_parser("embed", help="add the invisible watermark carrying PAYLOAD to every frame")
    embed.add_argument("--payload", required=True, metavar="HEX", help="32-bit payload, up to 8 hexadecimal digits")
    embed.add_argument("--frames", required=True, help="clip: video file or folder of numbered images")
    embed.add_argument("--out", required=True, help="output: folder of PNG frames, or a .mp4/.mov file")
    embed.set_defaults(handler=_watermark_embed)
    detect = actions.add_parser("detect", help="read the watermark's payload from an image (JPEG, PNG, …)")
    detect.add_argument("image", help="the image, e.g. a leaked frame or screen capture")
    detect.set_defaults(handler=_watermark_detect)


def _segment(args: argparse.Namespace) -> dict[str, object]:
    if args.sky:
        if args.keyframe or args.outline:
            raise ParameterError("--sky proposes the sky itself; give either --sky or --keyframe/--outline pairs")
        return _segment_sky(args)
    keys, outlines = args.keyframe or [], args.outline or []
    if not keys:
        raise ParameterError("give --keyframe N --outline POLY.json|MASK.png (or --sky for the shot's sky)")
    if len(keys) != len(outlines):
        raise ParameterError(f"give one --outline per --keyframe: {len(keys)} keyframe(s), {len(outlines)} outline(s)")
    shot = _source(args, args.frames)
    size = (shot.clip_probe.height, shot.clip_probe.width)
    keyframes = {key: segment.read_outline(Path(path), size) for key, path in zip(keys, outlines)}
    if len(keyframes) != len(keys):
        raise ParameterError("each --keyframe may be given once")
    segmentation = segment.Segmentation(shot, keyframes)
    covered = 0.0
    with FrameWriter(Path(args.out), frame_rate=shot.clip_probe.frame_rate) as writer:
        for count, (number, alpha) in enumerate(segmentation.alphas(), start=1):
            grey = np.rint(alpha * 255.0).astype(np.uint8) if args.soft else np.where(alpha >= 0.5, 255, 0).astype(np.uint8)
            covered += float((alpha >= 0.5).mean())
            writer.write(number, np.repeat(grey[..., None], 3, axis=2))
            _progress(count, len(shot))
    return {"frame_count": len(shot), "keyframes": sorted(keyframes), "mean_mask_fraction": covered / len(shot),
            "out": str(args.out)}


def _segment_sky(args: argparse.Namespace) -> dict[str, object]:
    shot = _source(args, args.frames)
    alphas = sky.sky_alphas(shot)  # raises NoSkyFound before the folder is made
    first = next(alphas)
    covered = 0.0
    with FrameWriter(Path(args.out), frame_rate=shot.clip_probe.frame_rate) as writer:
        for count, (number, alpha) in enumerate(itertools.chain([first], alphas), start=1):
            grey = np.rint(alpha * 255.0).astype(np.uint8) if args.soft else np.where(alpha >= 0.5, 255, 0).astype(np.uint8)
            covered += float((alpha >= 0.5).mean())
            writer.write(number, np.repeat(grey[..., None], 3, axis=2))
            _progress(count, len(shot))
    return {"frame_count": len(shot), "sky": True, "keyframes": sky.key_frames(shot.frame_range),
            "mean_mask_fraction": covered / len(shot), "out": str(args.out)}


def _add_segment(commands) -> None:
    parser = commands.add_parser(
        "segment", help="video object segmentation: an outline or mask on keyframes carried through the clip as per-pixel masks")
    parser.add_argument("--frames", required=True, help="input clip: video file or folder of numbered images")
    parser.add_argument("--keyframe", type=int, action="append", metavar="N",
                        help="frame the outline is drawn on (repeat with --outline for several keyframes)")
    parser.add_argument("--outline", action="append", metavar="POLY.json|MASK.png",
                        help="the object on the keyframe: JSON polygon(s) in pixels, or a mask image (white = object)")
    parser.add_argument("--out", required=True, help="output folder of numbered PNG masks (0/255; image N masks frame N)")
    parser.add_argument("--soft", action="store_true", help="write the 8-bit soft matte instead of 0/255")
    parser.add_argument("--sky", action="store_true",
                        help="the shot's sky, proposed automatically (no --keyframe/--outline); 'no sky found' fails")
    parser.set_defaults(handler=_segment)


# --- upscale (engine.models.upscale) and reframe (engine.fixes.reframe): the missing cutaway ---


def _scales(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(item) for item in text.split(","))
    except ValueError:
        raise ParameterError(f"--scales takes factors separated by commas (e.g. 2,1.5), got {text!r}") from None


def _upscale_train(args: argparse.Namespace) -> dict[str, object]:
    from engine.models import upscale

    params = upscale.UpscaleTrainParams(frames_per_clip=args.frames_per_clip, iterations=args.iterations,
                                        scales=_scales(args.scales))
    clips = []
    for path in args.frames:
        source = _source(args, path)
        step = max(1, len(source) // params.frames_per_clip)
        frames = list(source.frames(step=step, as_float=True))[:params.frames_per_clip]
        clips.append((Path(path).name, frames))
    trained = upscale.train_upscale(clips, params=params, progress=_progress)
    trained.save(args.out)
    return {**trained.held_out, "out": str(args.out), "lineage": trained.lineage}


def _upscale_apply(args: argparse.Namespace) -> dict[str, object]:
    from engine.models import upscale

    if not 1.0 < args.scale <= 4.0:
        raise ParameterError(f"--scale must be above 1 and at most 4, got {args.scale}")
    model = upscale.load(args.model)
    shot = _source(args, args.frames)
    size = (round(shot.clip_probe.width * args.scale), round(shot.clip_probe.height * args.scale))
    with _writer(args.out, shot) as writer:
        for count, (number, frame) in enumerate(shot.frames(as_float=True), start=1):
            out = np.clip(model.upscale(frame, size), 0.0, 1.0 if shot.encoding.is_8bit else None)
            writer.write(number, np.rint(out * 255).astype(np.uint8) if shot.encoding.is_8bit else out)
            _progress(count, len(shot))
    return {"frame_count": len(shot), "width": size[0], "height": size[1]}


def _reframe(args: argparse.Namespace) -> dict[str, object]:
    from engine.fixes import reframe

    keyframes = reframe.read_keyframes(args.keyframes) if args.keyframes else ()
    params = reframe.ReframeParams(box=args.box, size=args.size, keyframes=keyframes, model=args.model,
                                   match_sharpness=not args.no_sharpness_match, regrain=not args.no_regrain)
    shot = _source(args, args.frames, args.range)
    with _writer(args.out, shot) as writer:
        result = reframe.run(shot=shot, params=params, sink=lambda number, _before, after: writer.write(number, after),
                             progress=_progress)
    return {**result.measurements, "frame_count": result.frame_count}


def _add_upscale_and_reframe(commands) -> None:
    parser = commands.add_parser("upscale", help="upscale model: super-resolution learned from the production's frames")
    actions = parser.add_subparsers(dest="upscale_command", required=True)
    train = actions.add_parser("train", help="train an upscale model on clips of the production")
    train.add_argument("--frames", action="append", required=True, help="a clip (video file or folder); repeatable")
    train.add_argument("--out", required=True, help="output model file (MODEL.pt)")
    train.add_argument("--frames-per-clip", type=int, default=24, help="frames sampled per clip (default %(default)s)")
    train.add_argument("--iterations", type=int, default=2000, help="training steps per scale (default %(default)s)")
    train.add_argument("--scales", default="2,1.5", help="scales a network is trained for (default %(default)s)")
    train.set_defaults(handler=_upscale_train)
    apply = actions.add_parser("apply", help="upscale every frame of a clip")
    apply.add_argument("--model", required=True, help="model file from 'upscale train'")
    apply.add_argument("--scale", type=float, required=True, help="upscale factor, e.g. 2 or 1.5")
    apply.add_argument("--frames", required=True, help="input clip: video file or folder of numbered images")
    apply.add_argument("--out", required=True, help="output: folder of PNG frames, or a .mp4/.mov file")
    apply.set_defaults(handler=_upscale_apply)
    crop = commands.add_parser("reframe", help="punch-in reframe of a wider take at the delivery size, "
                                               "learned upscale, the production's lens and grain")
    crop.add_argument("--frames", required=True, help="the wider take: video file or folder of numbered images")
    crop.add_argument("--box", required=True, metavar="X,Y,W,H", help="the new framing in the take's pixels")
    crop.add_argument("--keyframes", metavar="BOXES.json",
                      help='animated framing: [{"frame": N, "box": [x, y, w, h]}, …], eased between keyframes')
    crop.add_argument("--size", required=True, metavar="WxH", help="delivery size, e.g. 1920x1080")
    crop.add_argument("--model", metavar="MODEL.pt", help="the production's upscale model (default: Lanczos)")
    crop.add_argument("--out", required=True, help="output: folder of frames, or a .mp4/.mov file")
    crop.add_argument("--range", metavar="FIRST:STOP", help="frames of the take (stop exclusive)")
    crop.add_argument("--no-sharpness-match", action="store_true", help="do not bring MTF50 to the footage's")
    crop.add_argument("--no-regrain", action="store_true", help="do not add the take's grain back")
    crop.set_defaults(handler=_reframe)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m engine``."""
    parser = argparse.ArgumentParser(prog="python -m engine", description="Run a Loupe engine fix on files.")
    commands = parser.add_subparsers(dest="command", required=True)
    match_cmd = commands.add_parser(
        "match",
        help="shot match: transfer the reference's colour to the shot (MKL, Pitié & Kokaram 2007, or Reinhard 2001)",
    )
    match_cmd.add_argument("--method", choices=match.METHODS, default=match.MatchParams().method,
                       help="colour transfer method (default %(default)s)")
    match_cmd.add_argument("--pixels-correspond", action="store_true",
                       help="the reference has the shot's framing: also measure per-pixel ΔE2000")
    match_cmd.add_argument("--align", action="store_true",
                       help="the reference is another take or angle of the setup: align it first, fit on shared pixels")
    match_cmd.add_argument("--reference", required=True, help="reference clip: video file or folder of numbered images")
    match_cmd.add_argument("--shot", required=True, help="shot clip: video file or folder of numbered images")
    match_cmd.add_argument("--out", required=True, help="output: folder of PNG frames, or a .mp4/.mov file")
    match_cmd.add_argument("--reference-range", metavar="FIRST:STOP", help="frames of the reference (stop exclusive)")
    match_cmd.add_argument("--shot-range", metavar="FIRST:STOP", help="frames of the shot (stop exclusive)")
    defaults = match.MatchParams()
    match_cmd.add_argument("--strength", type=float, default=defaults.strength, help="0..1 (default %(default)s)")
    match_cmd.add_argument(
        "--sample-stride", type=int, default=defaults.sample_stride, help="frames between samples (default %(default)s)"
    )
    match_cmd.add_argument(
        "--max-std-ratio",
        type=float,
        default=defaults.max_std_ratio,
        help="bound on the per-channel deviation ratio (default %(default)s)",
    )
    match_cmd.add_argument("--reference-box", metavar="L,T,R,B",
                           help="balance: measure exposure and white balance on this region of the reference "
                                "(fractions 0..1 of width and height, e.g. a grey card)")
    match_cmd.add_argument("--shot-box", metavar="L,T,R,B",
                           help="balance: the same region in the shot (default: the reference box)")
    match_cmd.set_defaults(handler=_match)

    look_parser = commands.add_parser("look", help="look model: train a 3D LUT from graded pairs, or apply a look")
    look_commands = look_parser.add_subparsers(dest="look_command", required=True)
    train = look_commands.add_parser("train", help="train a 33³ look LUT from (source, graded) clip pairs")
    train.add_argument("--pair", nargs=2, action="append", required=True, metavar=("SOURCE", "GRADED"),
                       help="camera original and its graded version (same size and length); repeatable")
    train.add_argument("--frames", type=int, default=look_model.LookTrainParams().frames_per_pair,
                       help="frames sampled from each pair (default %(default)s)")
    train.add_argument("--out", required=True, help="output .cube file")
    train.set_defaults(handler=_look_train)
    apply = look_commands.add_parser("apply", help="apply a .cube/.3dl/.clf/.cdl/.ccc look to a clip")
    apply.add_argument("--look", required=True, help="look file (read through OpenColorIO)")
    apply.add_argument("--reference", help="the wanted result, same framing: measure per-pixel ΔE2000 against it")
    apply.add_argument("input", help="clip: video file or folder of numbered images")
    apply.add_argument("out", help="output: folder of PNG frames, or a .mp4/.mov file")
    apply.set_defaults(handler=_look_apply)

    light = commands.add_parser("relight", help="lighting harmonisation as an ASC CDL (exposure, CAT02 white balance, contrast)")
    light.add_argument("--reference", required=True, help="reference clip")
    light.add_argument("--shot", required=True, help="shot clip")
    light.add_argument("--out", required=True, help="output: folder of PNG frames, or a .mp4/.mov file")
    light.add_argument("--reference-range", metavar="FIRST:STOP", help="frames of the reference (stop exclusive)")
    light.add_argument("--shot-range", metavar="FIRST:STOP", help="frames of the shot (stop exclusive)")
    light.add_argument("--smoothing-frames", type=float, default=relight.RelightParams().smoothing_frames,
                       help="σ of the temporal smoothing of the CDL, frames (default %(default)s; 0 = one CDL)")
    light.add_argument("--pixels-correspond", action="store_true",
                       help="the reference has the shot's framing: also measure per-pixel ΔE2000")
    light.set_defaults(handler=_relight)

    _add_removal_commands(commands)
    _add_rebuild(commands)
    _add_continuity(commands)
    _add_replace_background(commands)
    _add_watermark(commands)
    _add_segment(commands)


    _add_upscale_and_reframe(commands)
    _add_input_colorspace(parser)
    return parser


def _add_input_colorspace(parser: argparse.ArgumentParser) -> None:
    """Give every command (each parser that runs a handler) ``--input-colorspace``."""
    subcommands = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    if not subcommands:
        parser.add_argument("--input-colorspace", metavar="NAME",
                            help="OCIO colour space of the input clips (default: what the file's metadata "
                                 "names, else Rec.709)")
    for action in subcommands:
        for child in action.choices.values():
            _add_input_colorspace(child)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    args = build_parser().parse_args(argv)
    try:
        result = args.handler(args)
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("error: interrupted; nothing was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
