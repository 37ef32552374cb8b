"""One module per fix kind (the portal's ``reviews/fixes.py`` maps each kind to one of them).

- :mod:`engine.fixes.match` — shot match (MKL, Pitié & Kokaram 2007; Reinhard et al. 2001) in CIELAB.
- :mod:`engine.fixes.relight` — lighting harmonisation as an ASC CDL (exposure, CAT02 white balance, contrast).
- :mod:`engine.fixes.look` — look transfer: a look model or LUT file applied to a shot.
- :mod:`engine.fixes.remove` — object removal by flow-guided video inpainting, regrained.
- :mod:`engine.fixes.clean_plate` — clean plate: aligned frames, robust temporal median, confidence map.
- :mod:`engine.fixes.background` — background replacement: matte, harmonise, composite, regrain.
- :mod:`engine.fixes.rebuild` — missing frames rebuilt, retiming (motion-compensated interpolation).
- :mod:`engine.fixes.continuity` — continuity findings between two takes.
- :mod:`engine.fixes.reframe` — punch-in reframe (the missing cutaway): learned upscale, lens and grain.
- :mod:`engine.fixes.result` — :class:`~engine.fixes.result.FixResult`, what every fix returns.
"""
