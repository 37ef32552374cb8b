"""What is learned per production, and its training.

- :mod:`engine.models.look` — the look model: a global stage (curves and a matrix in ACEScct) and a
  residual 33³ lattice that falls back to it, baked into one LUT, trained on the
  production's own graded dailies (applied by the fix :mod:`engine.fixes.look`).
- :mod:`engine.models.upscale` — the upscale model: super-resolution learned from the production's
  own frames with its camera's blur and noise (used by the fix :mod:`engine.fixes.reframe`).
- :mod:`engine.models.inpaint` — the inpainting model: a gated-convolution network learned from the
  production's own frames with free-form holes (used by the fix :mod:`engine.fixes.remove`).
- :mod:`engine.models.params` — the training parameters of both, light enough for a web process.
"""
