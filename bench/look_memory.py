"""Peak memory of applying a look to a long 1080p clip, against a short one (prints; not a test).

    .venv/bin/python bench/look_memory.py [--frames 10000] [--short 250]

Builds a long 1080p H.264 clip by looping the packets of the real aerial clip (footage/clips/
harmonizer_aerial_dusk_lowlight.mp4, 1920x1080) into a temporary folder, then applies the real
Lustre grade (footage/luts/ocio_lustre_33x33x33.3dl) with engine.fixes.look.apply_look in a fresh
process for the short and the long clip, and prints each run's peak resident memory
(ru_maxrss) and their ratio. Streaming means the ratio stays near 1 and the long run under
1 GB. The temporary clip is removed afterwards.
"""
import argparse
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from footage import loop_packets  # noqa: E402  (bench/footage.py)

FOOTAGE = Path(os.environ.get("LOUPE_FOOTAGE") or REPO.parent / "shared" / "footage")


def build_clip(path: Path, frames: int) -> None:
    loop_packets(FOOTAGE / "clips" / "harmonizer_aerial_dusk_lowlight.mp4", path, frames)


def apply_once(path: str) -> None:
    """Child process: apply the look, print this process's peak RSS in MiB."""
    from engine.fixes.look import apply_look
    from engine.media.decode import FrameSource

    apply_look(FrameSource(Path(path)), FOOTAGE / "luts" / "ocio_lustre_33x33x33.3dl", sink=lambda *frame: None)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        apply_once(sys.argv[2])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--short", type=int, default=250)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="loupe-bench-") as folder:
        peaks = {}
        for frames in (args.short, args.frames):
            clip = Path(folder) / f"aerial_{frames}.mp4"
            build_clip(clip, frames)
            output = subprocess.run([sys.executable, __file__, "--child", str(clip)], check=True,
                                    capture_output=True, text=True).stdout
            peaks[frames] = float(output.strip().splitlines()[-1])
            print(f"{frames:>6} frames of 1080p: peak RSS {peaks[frames]:.0f} MiB")
            clip.unlink()
    ratio = peaks[args.frames] / peaks[args.short]
    print(f"peak memory, {args.frames} / {args.short} frames: {ratio:.2f}x "
          f"(under 1 GB for the long clip: {'met' if peaks[args.frames] < 1024 else 'NOT met'})")


if __name__ == "__main__":
    main()
