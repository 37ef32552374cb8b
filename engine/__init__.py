"""Loupe's engine: the post-production fixes, as a plain Python library.

The engine reads a production's own footage (video files or folders of numbered
images), proposes a fix, and reports the region the fix may change together with
objective measurements such as ``delta_e2000`` to a reference. It imports nothing
from Django or Celery: the portal's Celery tasks call it, and ``python -m engine``
runs a fix directly on files.

Modules:

- :mod:`engine.errors` — the exception types every public function raises.
- :mod:`engine.device` — the one place the torch device (CUDA or CPU) is chosen.
- :mod:`engine.io` — probing clips, frame-accurate reading, atomic writing of frames.
- :mod:`engine.colorspace` — sRGB ↔ CIELAB and CIEDE2000 in PyTorch.
- :mod:`engine.rgb_lut` — an exact, lazily filled table of a per-pixel colour transform.
- :mod:`engine.color` — shot match (MKL, Pitié & Kokaram 2007; Reinhard et al. 2001) in CIELAB.
- :mod:`engine.masks` — fit masks (include/exclude pixels from a colour fit).
- :mod:`engine.measure` — per-pixel ΔE2000 (mean, p95) and the flicker measure.
- :mod:`engine.lut3d` — 3D LUTs: trilinear lattice, .cube export, OpenColorIO files, 8-bit fast path.
- :mod:`engine.look` — look model: a smooth, monotone 33³ LUT trained per production.
- :mod:`engine.relight` — lighting harmonisation as an ASC CDL (exposure, CAT02 white balance, contrast).
- :mod:`engine.flow` — DIS optical flow, warping along it, forward–backward consistency.
- :mod:`engine.region` — removal masks: PNG folders, a box or polygon tracked through a shot, margins.
- :mod:`engine.exemplar` — exemplar-based image inpainting (Criminisi et al. 2004).
- :mod:`engine.grain` — grain estimated on a plate and synthesised inside a region (regrain).
- :mod:`engine.inpaint` — object removal by flow-guided video inpainting, regrained.
- :mod:`engine.plate` — clean plate: aligned frames, robust temporal median, confidence map.
- :mod:`engine.watermark` — the invisible forensic watermark of review frames: embed a session's payload, read it from a leak.

Frames are counted from 0 at the start of a clip; frame ranges are half-open
``[first, stop)`` like CMX3600 and OpenTimelineIO out points.
"""
