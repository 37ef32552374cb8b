"""Speed of rendering deliverables, against a plain PyAV encode of the same frames (prints; not a test).

    .venv/bin/python bench/delivery.py [--frames 62] [--repeats 2] [--formats prores_4444,prores_422_hq,dnxhr_hqx]

The frames of the real 1080p aerial clip (footage/clips/harmonizer_aerial_dusk_lowlight.mp4,
1920x1080, 62 frames) are decoded once into memory (uint8 RGB); then, in one run and on the same
frames, frames/s of:

- Loupe's deliverable (reviews.deliverables.deliverable_write): ProRes 4444 in QuickTime with its
  tmcd track and reel, colour tags, written to a temporary name and renamed;
- the baseline: a plain PyAV encode with the same encoder, profile and pixel format
  (prores_ks 4444, yuv444p10le, BT.709 conversion) and nothing else;

and their ratio (1.0: the deliverable costs nothing beyond the encoder). ``--formats`` adds the
other QuickTime formats, each beside its own plain encode. The best of ``--repeats`` runs counts.
"""
import argparse
import os
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import ColorRange, Colorspace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.media.decode import FrameSource  # noqa: E402
from reviews.deliverables import DELIVERY_FORMATS, deliverable_write  # noqa: E402

FOOTAGE = Path(os.environ.get("LOUPE_FOOTAGE") or Path(__file__).resolve().parents[2] / "shared" / "footage")
CLIP = FOOTAGE / "clips" / "harmonizer_aerial_dusk_lowlight.mp4"
RATE = Fraction(30)


def plain_encode(frames: list[np.ndarray], out: Path, name: str) -> None:
    """The baseline: the format's encoder on the same frames, nothing else."""
    spec = DELIVERY_FORMATS[name]
    height, width = frames[0].shape[:2]
    with av.open(str(out), mode="w", format="mov") as container:
        stream = container.add_stream(spec.codec, rate=RATE)
        stream.width, stream.height, stream.pix_fmt = width, height, spec.pixel_format
        stream.options = dict(spec.options)
        for index, frame in enumerate(frames):
            picture = av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(
                format=spec.pixel_format, dst_colorspace=Colorspace.ITU709, dst_color_range=ColorRange.MPEG)
            picture.pts = index
            for packet in stream.encode(picture):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def deliverable(frames: list[np.ndarray], folder: Path, name: str) -> None:
    height, width = frames[0].shape[:2]
    deliverable_write(folder=folder, name=f"bench_{name}", delivery_format=DELIVERY_FORMATS[name], frames=iter(frames),
                      width=width, height=height, frame_rate=RATE, start_timecode="01:00:00:00", reel="A001C001")


def best_rate(run, frames: list[np.ndarray], repeats: int) -> float:
    best = 0.0
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        best = max(best, len(frames) / (time.perf_counter() - started))
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=62, help="frames of the 1080p clip to encode (at most 62)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--formats", default="prores_4444", help="comma-separated QuickTime delivery formats")
    args = parser.parse_args()
    frames = [frame for _, frame in FrameSource(CLIP, 0, min(args.frames, 62)).frames()]
    print(f"{len(frames)} frames of {CLIP.name}, {frames[0].shape[1]}x{frames[0].shape[0]}, in memory")
    with tempfile.TemporaryDirectory(prefix="loupe-bench-") as folder:
        folder = Path(folder)
        for name in args.formats.split(","):
            plain = best_rate(lambda: plain_encode(frames, folder / f"plain_{name}.mov", name), frames, args.repeats)
            ours = best_rate(lambda: deliverable(frames, folder, name), frames, args.repeats)
            print(f"{name:<14} deliverable {ours:6.1f} frames/s   plain PyAV {plain:6.1f} frames/s   "
                  f"ratio {ours / plain:.2f}")


if __name__ == "__main__":
    main()
