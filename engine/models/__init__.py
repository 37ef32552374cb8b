"""What is learned per production, and its training.

- :mod:`engine.models.look` — the look model: a smooth, monotone 33³ LUT trained on the
  production's own graded dailies (applied by the fix :mod:`engine.fixes.look`).
- :mod:`engine.models.upscale` — the upscale model: super-resolution learned from the production's
  own frames with its camera's blur and noise (used by the fix :mod:`engine.fixes.reframe`).
"""
