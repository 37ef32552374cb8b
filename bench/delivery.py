"""Speed of rendering deliverables, against a plain PyAV encode of the same frames (prints; not a test).

    .venv/bin/python bench/delivery.py [--frames 62] [--deep-frames 24] [--repeats 2]
                                       [--formats prores_4444,prores_422_hq,dnxhr_hqx]

The frames of the real 1080p aerial clip (footage/clips/harmonizer_aerial_dusk_lowlight.mp4,
1920x1080, 62 frames) are decoded once into memory; then, in one run and on the same frames,
frames/s of:

- Loupe's deliverable (reviews.deliverables.deliverable_write) of an 8-bit source (uint8 RGB):
  ProRes 4444 in QuickTime with its tmcd track and reel, colour tags, written to a temporary name
  and renamed;
- the deep case: the first ``--deep-frames`` frames as a 10-bit camera original gives them to
  the delivery (float32 RGB at source precision, converted in the bench through OCIO to ARRI
  LogC3 so that they hold more than 256 codes), delivered as 10-bit ProRes 4444 (16-bit RGB into
  yuv444p10le, the source's colour space recorded);
- each beside its baseline: a plain PyAV encode with the same encoder, profile and pixel format
  (prores_ks 4444, yuv444p10le, BT.709 conversion) from the same frames (rgb24; for the deep case
  rgb48le, the float frames rounded to 16 bits in the loop) and nothing else;

and their ratio (1.0: the deliverable costs nothing beyond the encoder). ``--formats`` adds the
other QuickTime formats (8-bit case), each beside its own plain encode. The best of ``--repeats``
runs counts. Deep frames are held as float32 (24 frames of 1080p: 600 MB).
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

from engine.media import colour  # noqa: E402
from engine.media.decode import FrameSource  # noqa: E402
from reviews.deliverables import DELIVERY_FORMATS, SourceColour, deliverable_write  # noqa: E402

FOOTAGE = Path(os.environ.get("LOUPE_FOOTAGE") or Path(__file__).resolve().parents[2] / "shared" / "footage")
CLIP = FOOTAGE / "clips" / "harmonizer_aerial_dusk_lowlight.mp4"
RATE = Fraction(30)
LOGC3 = "ARRI LogC3 (EI800)"
DEEP = SourceColour(bit_depth=10, sample_type="uint", primaries="bt709", transfer="bt709", matrix="bt709",
                    range="limited", colorspace=LOGC3)


def plain_encode(frames: list[np.ndarray], out: Path, name: str) -> None:
    """The baseline: the format's encoder on the same frames (uint8, or float32 rounded to
    16 bits), nothing else."""
    spec = DELIVERY_FORMATS[name]
    height, width = frames[0].shape[:2]
    with av.open(str(out), mode="w", format="mov") as container:
        stream = container.add_stream(spec.codec, rate=RATE)
        stream.width, stream.height, stream.pix_fmt = width, height, spec.pixel_format
        stream.options = dict(spec.options)
        for index, frame in enumerate(frames):
            if frame.dtype == np.float32:
                picture = av.VideoFrame.from_ndarray(
                    np.clip(np.rint(frame * np.float32(65535)), 0, 65535).astype(np.uint16), format="rgb48le")
            else:
                picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
            picture = picture.reformat(
                format=spec.pixel_format, dst_colorspace=Colorspace.ITU709, dst_color_range=ColorRange.MPEG)
            picture.pts = index
            for packet in stream.encode(picture):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def deliverable(frames: list[np.ndarray], folder: Path, name: str, source: SourceColour | None = None) -> None:
    height, width = frames[0].shape[:2]
    deliverable_write(folder=folder, name=f"bench_{name}", delivery_format=DELIVERY_FORMATS[name], frames=iter(frames),
                      width=width, height=height, frame_rate=RATE, start_timecode="01:00:00:00", reel="A001C001",
                      source=source)


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
    parser.add_argument("--deep-frames", type=int, default=24, help="frames of the deep (10-bit) case (at most 62)")
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
            print(f"{name:<14} 8-bit  deliverable {ours:6.1f} frames/s   plain PyAV {plain:6.1f} frames/s   "
                  f"ratio {ours / plain:.2f}")
        to_logc = colour.colorspace_transform(colour.REC709, LOGC3)
        deep = [to_logc(frame.astype(np.float32) / np.float32(255)) for frame in frames[:args.deep_frames]]
        codes = len(np.unique(np.rint(deep[0][..., 1] * 1023)))
        print(f"deep case: {len(deep)} frames as a 10-bit LogC3 source (float32; {codes} distinct 10-bit codes "
              f"in frame 0's green)")
        plain = best_rate(lambda: plain_encode(deep, folder / "plain_deep.mov", "prores_4444"), deep, args.repeats)
        ours = best_rate(lambda: deliverable(deep, folder, "prores_4444", DEEP), deep, args.repeats)
        print(f"{'prores_4444':<14} 10-bit deliverable {ours:6.1f} frames/s   plain PyAV {plain:6.1f} frames/s   "
              f"ratio {ours / plain:.2f}")


if __name__ == "__main__":
    main()
