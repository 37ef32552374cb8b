"""Fixtures for the engine tests: the real footage in ../shared/footage.

The engine is tested on the production-like clips listed in footage/SOURCES.md, never
on synthetic stand-ins. Set LOUPE_FOOTAGE to point elsewhere. Missing footage is a
failure, not a skip: a green run must mean the engine was exercised.
"""

import os
from pathlib import Path

import pytest

DEFAULT_FOOTAGE = Path(__file__).resolve().parents[3] / "shared" / "footage"


@pytest.fixture(scope="session")
def footage() -> Path:
    """Root of the read-only test footage (clips/, vos/, matting/, …)."""
    root = Path(os.environ.get("LOUPE_FOOTAGE") or DEFAULT_FOOTAGE)
    if not (root / "clips").is_dir():
        pytest.fail(
            f"test footage not found at {root} (expected {root / 'clips'}); "
            f"check out the shared footage next to the repository or set LOUPE_FOOTAGE",
            pytrace=False,
        )
    return root


@pytest.fixture(scope="session")
def cups(footage: Path) -> Path:
    """sam2_02_cups.mp4: 1280x720 H.264, 29.97 fps, 300 frames, keyframes at 0 and 250."""
    return footage / "clips" / "sam2_02_cups.mp4"


@pytest.fixture(scope="session")
def coffee(footage: Path) -> Path:
    """sam2_04_coffee.mp4: 1280x720 H.264, warm indoor light, no timecode tag."""
    return footage / "clips" / "sam2_04_coffee.mp4"


@pytest.fixture(scope="session")
def tennis_frames(footage: Path) -> Path:
    """vos/tennis/frames: a folder of 70 numbered PNGs (00000.png …), 432x240."""
    return footage / "vos" / "tennis" / "frames"
