"""Building blocks the fixes share; none is a fix on its own.

- :mod:`engine.ops.cielab` — sRGB ↔ CIELAB and CIEDE2000 in PyTorch.
- :mod:`engine.ops.measure` — per-pixel ΔE2000 (mean, p95), the flicker measure, pixel correspondence.
- :mod:`engine.ops.rgb_lut` — an exact, lazily filled table of a per-pixel colour transform.
- :mod:`engine.ops.lut3d` — 3D LUTs: trilinear lattice, .cube export, OpenColorIO files, 8-bit fast path.
- :mod:`engine.ops.masks` — fit masks (include/exclude pixels from a colour fit).
- :mod:`engine.ops.region` — removal masks: PNG folders, a box or polygon tracked through a shot, margins.
- :mod:`engine.ops.flow` — DIS optical flow, warping along it, forward–backward consistency.
- :mod:`engine.ops.align` — a reference frame aligned onto a shot frame (ORB, RANSAC homography).
- :mod:`engine.ops.exemplar` — exemplar-based image inpainting (Criminisi et al. 2004).
- :mod:`engine.ops.grain` — grain estimated on a plate and synthesised inside a region (regrain).
- :mod:`engine.ops.matte` — chroma and difference keys, refined and carried along flow.
- :mod:`engine.ops.likeness` — does a fix region hold a performer's face (guild consent screening).
- :mod:`engine.ops.lens` — a production's lens profile: MTF50 from edges, vignetting, grain; the sharpness match.
"""
