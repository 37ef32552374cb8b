"""Footage in and out.

- :mod:`engine.media.probe` — what a clip is: codec, size, exact frame rate and count, timecode, encoding.
- :mod:`engine.media.decode` — frame-accurate reading (:class:`~engine.media.decode.FrameSource`).
- :mod:`engine.media.encode` — atomic writing of frames (:class:`~engine.media.encode.FrameWriter`).
- :mod:`engine.media.proxy` — browser review proxies, frame for frame.
"""
