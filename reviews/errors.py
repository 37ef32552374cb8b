"""Domain errors raised by services. The API turns them into 4xx responses with ``{"detail": ...}``."""


class ServiceError(Exception):
    """A request that cannot be carried out as asked; the message says what to change."""

    status_code = 400


class NotAllowed(ServiceError):
    """The person lacks the role this action needs in this production."""

    status_code = 403


class SecondFactorRequired(NotAllowed):
    """The production requires multi-factor sign-in and this session (or token) has no second factor."""


class Conflict(ServiceError):
    """The object is not in a state that allows the action (e.g. deciding a decided proposal)."""

    status_code = 409


class IngestError(ServiceError):
    """A media file could not be ingested (missing, unreadable, not video, already ingested)."""


class CutImportError(ServiceError):
    """An editorial file could not be imported (unsupported format, syntax error — the message
    names the file and, for an EDL, the line — or no video events)."""


class TooLarge(ServiceError):
    """An upload is larger than the installation accepts."""

    status_code = 413
