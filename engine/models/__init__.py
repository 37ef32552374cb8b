"""What is learned per production, and its training.

- :mod:`engine.models.look` — the look model: a smooth, monotone 33³ LUT trained on the
  production's own graded dailies (applied by the fix :mod:`engine.fixes.look`).
"""
