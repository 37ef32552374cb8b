"""Speed of making browser review proxies, against plain decoding (prints; not a test).

    .venv/bin/python bench/ingest.py [--frames 300]

For a 720p clip (footage/clips/sam2_02_cups.mp4, 1280x720 H.264) and a 1080p one (the aerial
clip footage/clips/harmonizer_aerial_dusk_lowlight.mp4 looped to ``--frames`` frames by
remuxing its packets), in one run: frames/s of decoding every frame (PyAV on FFmpeg's threads,
keeping nothing — the ceiling for any proxy) and of making the review proxy (engine.media.proxy.write_review_proxy:
decode, resize to review width, H.264 through PyAV's libx264), and their ratio. Target:
proxies of 1080p at least at real time, 24 frames/s, on this 2-core machine.
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import av

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.media.decode import FrameSource  # noqa: E402
from engine.media.proxy import write_review_proxy  # noqa: E402
from footage import loop_packets  # noqa: E402  (bench/footage.py)

FOOTAGE = Path(os.environ.get("LOUPE_FOOTAGE") or Path(__file__).resolve().parents[2] / "shared" / "footage")
REVIEW_WIDTH = 960  # the portal's default LOUPE_REVIEW_WIDTH


def decode_rate(path: Path) -> float:
    """Frames/s of decoding every frame on FFmpeg's threads, keeping nothing."""
    started = time.perf_counter()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        count = sum(1 for _ in container.decode(stream))
    return count / (time.perf_counter() - started)


def proxy_rate(path: Path, out: Path) -> float:
    source = FrameSource(path)
    started = time.perf_counter()
    count = write_review_proxy(source, out, max_width=REVIEW_WIDTH)
    return count / (time.perf_counter() - started)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=300, help="length of the looped 1080p clip")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="loupe-bench-") as folder:
        folder = Path(folder)
        long_1080p = folder / "aerial_1080p.mp4"
        loop_packets(FOOTAGE / "clips" / "harmonizer_aerial_dusk_lowlight.mp4", long_1080p, args.frames)
        rates = {}
        for label, path in (("720p", FOOTAGE / "clips" / "sam2_02_cups.mp4"), ("1080p", long_1080p)):
            decode = decode_rate(path)
            proxy = proxy_rate(path, folder / f"proxy_{label}.mp4")
            rates[label] = proxy
            print(f"{label:>5}: decode {decode:6.1f} frames/s, review proxy {proxy:6.1f} frames/s "
                  f"({proxy / decode:.2f}x of decoding alone)")
    verdict = "met" if rates["1080p"] >= 24 else "NOT met"
    print(f"1080p proxy at real time (24 frames/s): {verdict} ({rates['1080p'] / 24:.2f}x real time)")


if __name__ == "__main__":
    main()
