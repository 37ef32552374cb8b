"""Exception types raised by the engine.

Every error the engine raises on purpose is an :class:`EngineError`, so a caller (the
portal's Celery task, the command line) can catch that one type, show its message to a
person, and let anything else surface as a bug. Messages name the file, the frame or
the parameter concerned and what would be acceptable.
"""


class EngineError(Exception):
    """Base class of every error the engine raises deliberately."""


class FrameSourceError(EngineError):
    """Footage cannot be read as asked.

    Raised for a missing or unreadable file, a file without a video stream, a folder
    with no numbered images, a frame range outside the clip, or a clip that ends
    earlier than its container declared.
    """


class FrameWriteError(EngineError):
    """Output frames cannot be written (bad frame shape/dtype, unwritable path,
    frames out of order for a video file, encoder failure)."""


class ParameterError(EngineError):
    """A fix parameter (or a device/range setting) is missing, unknown or out of range."""


class Cancelled(EngineError):
    """The caller asked the running fix to stop (its ``should_cancel()`` returned True)."""


def check_cancel(should_cancel, where: str, *, fix: str) -> None:
    """Raise :class:`Cancelled` ("<fix> cancelled <where>") when ``should_cancel`` — the
    caller's callable polled between frames, or None — answers True."""
    if should_cancel is not None and should_cancel():
        raise Cancelled(f"{fix} cancelled {where}")
