"""Command line of the engine: run a fix on files and print its measurements.

    python -m engine match --reference REF --shot SHOT --out OUT
        [--reference-range FIRST:STOP] [--shot-range FIRST:STOP]
        [--strength 1.0] [--sample-stride 4] [--max-std-ratio 4.0]

REF and SHOT are video files or folders of numbered images; OUT is a folder of PNG
frames (``000123.png``, named by frame number) or a ``.mp4``/``.mov`` file. Ranges
are half-open (``0:61`` is frames 0–60); ``FIRST:`` runs to the end of the clip.

Standard output gets exactly one line: a JSON object with the fix's measurements and
``frame_count``. Progress goes to standard error when it is a terminal. Exit status:
0 on success, 2 on a bad input or parameter (``error: <message>`` on standard error),
130 when interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from engine import color
from engine.errors import EngineError, ParameterError
from engine.io import FrameSource, FrameWriter

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


def _source(path: str, frame_range: str | None) -> FrameSource:
    first, stop = parse_range(frame_range) if frame_range else (0, None)
    return FrameSource(Path(path), first=first, stop=stop)


def _progress(done: int, total: int) -> None:
    if sys.stderr.isatty():
        end = "\n" if done == total else ""
        print(f"\rrendering frame {done}/{total}", end=end, file=sys.stderr, flush=True)


def _match(args: argparse.Namespace) -> dict[str, float | int]:
    params = color.MatchParams(
        sample_stride=args.sample_stride, strength=args.strength, max_std_ratio=args.max_std_ratio
    )
    shot = _source(args.shot, args.shot_range)
    reference = _source(args.reference, args.reference_range)
    with FrameWriter(Path(args.out), frame_rate=shot.clip_probe.frame_rate) as writer:
        result = color.run(
            shot,
            reference,
            params=params,
            sink=lambda number, _before, after: writer.write(number, after),
            progress=_progress,
        )
    return {**result.measurements, "frame_count": result.frame_count}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m engine``."""
    parser = argparse.ArgumentParser(prog="python -m engine", description="Run a Loupe engine fix on files.")
    commands = parser.add_subparsers(dest="command", required=True)
    match = commands.add_parser(
        "match",
        help="shot match: transfer the reference's colour to the shot (Reinhard et al. 2001, CIELAB)",
    )
    match.add_argument("--reference", required=True, help="reference clip: video file or folder of numbered images")
    match.add_argument("--shot", required=True, help="shot clip: video file or folder of numbered images")
    match.add_argument("--out", required=True, help="output: folder of PNG frames, or a .mp4/.mov file")
    match.add_argument("--reference-range", metavar="FIRST:STOP", help="frames of the reference (stop exclusive)")
    match.add_argument("--shot-range", metavar="FIRST:STOP", help="frames of the shot (stop exclusive)")
    defaults = color.MatchParams()
    match.add_argument("--strength", type=float, default=defaults.strength, help="0..1 (default %(default)s)")
    match.add_argument(
        "--sample-stride", type=int, default=defaults.sample_stride, help="frames between samples (default %(default)s)"
    )
    match.add_argument(
        "--max-std-ratio",
        type=float,
        default=defaults.max_std_ratio,
        help="bound on the per-channel deviation ratio (default %(default)s)",
    )
    match.set_defaults(handler=_match)
    return parser


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
