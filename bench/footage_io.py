"""Decoding and encoding camera-original footage at source precision, and looks on float frames
(prints; not a test).

    .venv/bin/python bench/footage_io.py [--frames 24]

From a real 1080p clip (footage/clips/harmonizer_aerial_dusk_lowlight.mp4), converted through
OCIO to ARRI LogC3 where a camera original would be log, in one run:

- frames/s decoding and encoding 8-bit H.264 (the engine's 8-bit path: uint8 frames), 10-bit
  ProRes 4444 (float32 frames through 16-bit RGB) and a half-float EXR sequence (float32 frames
  through OpenImageIO), each to and from the engine's frame type;
- peak traced memory (tracemalloc: NumPy's and OpenImageIO's buffers) decoding the clip once and
  four times over, so that a memory that grows with the clip's length shows;
- frames/s applying the 33³ Lustre grade (footage/luts/ocio_lustre_33x33x33.3dl) to float32
  1080p frames: the engine's deep path (:func:`engine.fixes.look.look_function`: the same OCIO
  processor applied in strips of rows on the process's cores, :func:`engine.media.colour.apply_cpu`)
  against OpenColorIO's own float CPU processor with the same LUT (one ``applyRGB`` call, as
  OpenColorIO's Python binding gives it), and the engine's trained-look path (a
  :class:`engine.ops.lut3d.Lut3D`, here the same LUT sampled to 33³) — with ratios to
  OpenColorIO, and a check that the engine's output is OpenColorIO's bit for bit. (The 8-bit path's figures against OpenColorIO's uint8 processor are
  bench/look.py's.)
"""

import argparse
import os
import sys
import tempfile
import time
import timeit
import tracemalloc
from pathlib import Path

import numpy as np
import PyOpenColorIO as ocio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.fixes.look import look_function  # noqa: E402
from engine.media import colour  # noqa: E402
from engine.media.decode import FrameSource  # noqa: E402
from engine.media.encode import FrameWriter  # noqa: E402
from engine.media.probe import Encoding  # noqa: E402
from engine.ops.lut3d import load_look  # noqa: E402

FOOTAGE = Path(os.environ.get("LOUPE_FOOTAGE") or Path(__file__).resolve().parents[2] / "shared" / "footage")
CLIP = FOOTAGE / "clips" / "harmonizer_aerial_dusk_lowlight.mp4"
LUT = FOOTAGE / "luts" / "ocio_lustre_33x33x33.3dl"
LOGC3 = "ARRI LogC3 (EI800)"


def encode(frames: list[np.ndarray], out: Path, encoding: Encoding) -> float:
    """Frames/s writing ``frames`` (float32 for deep encodings, uint8 for 8-bit) to ``out``."""
    started = time.perf_counter()
    with FrameWriter(out, encoding=encoding, colorspace=None if encoding.is_8bit else LOGC3) as writer:
        for number, frame in enumerate(frames):
            writer.write(number, frame)
    return len(frames) / (time.perf_counter() - started)


def decode(path: Path, as_float: bool, passes: int = 1) -> tuple[float, float]:
    """(frames/s, peak traced MiB) decoding ``path`` ``passes`` times."""
    source = FrameSource(path)
    tracemalloc.start()
    started = time.perf_counter()
    count = 0
    for _ in range(passes):
        for _, frame in source.frames(as_float=as_float):
            count += 1
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return count / seconds, peak


def rate(fn, frame: np.ndarray) -> float:
    """Calls per second of ``fn(frame)`` (timeit's autorange: at least 0.2 s of calls)."""
    fn(frame)
    count, seconds = timeit.Timer(lambda: fn(frame)).autorange()
    return count / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=24)
    args = parser.parse_args()
    source = FrameSource(CLIP, 0, args.frames)
    print(f"source: {CLIP.name}, {source.clip_probe.width}x{source.clip_probe.height}, {args.frames} frames")
    to_logc = colour.colorspace_transform(colour.REC709, LOGC3)
    rec709 = [frame for _, frame in source.frames()]
    logc = [to_logc(frame.astype(np.float32) / 255) for frame in rec709]
    with tempfile.TemporaryDirectory(prefix="loupe-bench-io-") as folder:
        folder = Path(folder)
        rows = [
            ("H.264 8-bit (uint8)", folder / "h264.mp4", Encoding(8, "uint"), rec709, False),
            ("ProRes 4444 10-bit (float32)", folder / "prores.mov", Encoding(10, "uint"), logc, True),
            ("EXR half (float32)", folder / "exr", Encoding(16, "half"), logc, True),
        ]
        print(f"{'format':32} {'encode f/s':>11} {'decode f/s':>11} {'peak MiB 1×':>12} {'peak MiB 4×':>12}")
        baseline = None
        for name, out, encoding, frames, as_float in rows:
            encode_fps = encode(frames, out, encoding)
            decode_fps, peak_once = decode(out, as_float)
            _, peak_four = decode(out, as_float, passes=4)
            baseline = baseline or (encode_fps, decode_fps)
            print(f"{name:32} {encode_fps:11.1f} {decode_fps:11.1f} {peak_once:12.1f} {peak_four:12.1f}"
                  f"   ({encode_fps / baseline[0]:.2f}× / {decode_fps / baseline[1]:.2f}× H.264)")
    frame = np.ascontiguousarray(logc[0])
    processor = ocio.Config.CreateRaw().getProcessor(ocio.FileTransform(src=str(LUT), interpolation=ocio.INTERP_LINEAR))
    cpu = processor.getDefaultCPUProcessor()

    def ocio_float(image: np.ndarray) -> np.ndarray:
        out = image.copy()
        cpu.applyRGB(out)
        return out

    engine_file = look_function(LUT)
    engine_lut = look_function(load_look(LUT).to_lut3d(33))
    assert np.array_equal(engine_file(frame), ocio_float(frame)), "the engine's look is not OpenColorIO's output"
    reference = rate(ocio_float, frame)
    print(f"look on float32 1080p: OpenColorIO float CPU {reference:.1f} f/s; "
          f"engine (LUT file) {rate(engine_file, frame) / reference:.2f}×; "
          f"engine (trained-look path, a 33³ Lut3D) {rate(engine_lut, frame) / reference:.2f}×; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
