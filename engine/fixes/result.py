"""What every fix returns: the region it may change, its measurements, the frames it produced."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class FixResult:
    """What a fix did.

    Attributes:
        region: bool [H, W]; True where the fix may change pixels (the whole frame for
            a shot match). Pixels outside it are left bit-for-bit as they were.
        measurements: flat dict of named floats (see each fix's ``run``).
        frame_count: number of frames the fix produced.
    """

    region: np.ndarray
    measurements: dict[str, float]
    frame_count: int
