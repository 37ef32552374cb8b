"""Loupe's engine: the post-production fixes, as a plain Python library.

The engine reads a production's own footage (video files or folders of numbered
images), proposes a fix, and reports the region the fix may change together with
objective measurements such as ``delta_e2000`` to a reference. It imports nothing
from Django or Celery: the portal's Celery tasks call it, and ``python -m engine``
runs a fix directly on files.

Layout (docs/adr/0005-engine-layout.md); each layer imports only the layers above it:

- the contracts every module shares: :mod:`engine.errors` (the exception types),
  :mod:`engine.device` (the one place the torch device is chosen), :mod:`engine.params`
  (checking a fix's parameters).
- :mod:`engine.media` — footage in and out: probe, decode, encode, review proxies.
- :mod:`engine.ops` — building blocks that are not fixes on their own: CIELAB and ΔE2000,
  measurements, 3D LUTs, optical flow, masks and regions, exemplar fill, grain, mattes,
  alignment, likeness screening, the forensic watermark of review frames.
- :mod:`engine.models` — what is learned per production, and its training (the look model).
- :mod:`engine.fixes` — one module per fix kind, each with its parameter type and ``run``.
- :mod:`engine.__main__` — the command line (``python -m engine``).

Frames are counted from 0 at the start of a clip; frame ranges are half-open
``[first, stop)`` like CMX3600 and OpenTimelineIO out points.
"""
