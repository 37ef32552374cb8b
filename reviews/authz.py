"""Who may do what in a production: the one place roles are checked."""
from django.contrib.auth.models import AnonymousUser, User

from .errors import NotAllowed
from .models import Membership, Production, Role

# Actions and the roles that may take them.
APPROVE_PROPOSAL = "approve_proposal"
INGEST_FOOTAGE = "ingest_footage"
IMPORT_CUT = "import_cut"
FILE_FIX_REQUEST = "file_fix_request"
RUN_JOB = "run_job"
TRAIN_LOOK = "train_look"
ANNOTATE_FRAME = "annotate_frame"
WRITE_REVIEW_NOTE = "write_review_note"
SET_REVIEW_WATERMARK = "set_review_watermark"

ACTION_ROLES: dict[str, frozenset[str]] = {
    APPROVE_PROPOSAL: frozenset({Role.DIRECTOR}),
    INGEST_FOOTAGE: frozenset({Role.SUPERVISOR}),
    IMPORT_CUT: frozenset({Role.SUPERVISOR}),
    FILE_FIX_REQUEST: frozenset({Role.SUPERVISOR}),
    RUN_JOB: frozenset({Role.SUPERVISOR, Role.ARTIST}),
    TRAIN_LOOK: frozenset({Role.SUPERVISOR, Role.ARTIST}),
    # Everyone who reviews in the room draws and writes notes; producers read them in reports.
    ANNOTATE_FRAME: frozenset({Role.DIRECTOR, Role.SUPERVISOR, Role.ARTIST, Role.PERFORMER}),
    WRITE_REVIEW_NOTE: frozenset({Role.DIRECTOR, Role.SUPERVISOR, Role.ARTIST, Role.PERFORMER}),
    # Who answers for where footage goes: the producer, and the post supervisor who runs post.
    SET_REVIEW_WATERMARK: frozenset({Role.PRODUCER, Role.SUPERVISOR}),
}

ACTION_DESCRIPTIONS = {
    APPROVE_PROPOSAL: "decide on proposals",
    INGEST_FOOTAGE: "ingest footage",
    IMPORT_CUT: "import editorial cuts",
    FILE_FIX_REQUEST: "file fix requests",
    RUN_JOB: "run engine jobs",
    TRAIN_LOOK: "train look models",
    ANNOTATE_FRAME: "draw on frames in the review room",
    WRITE_REVIEW_NOTE: "write notes in the review room",
    SET_REVIEW_WATERMARK: "turn the review watermark on or off",
}


def roles_in(user: User | AnonymousUser, production: Production) -> set[str]:
    """The roles ``user`` holds in ``production`` (empty for non-members and anonymous users)."""
    if not user.is_authenticated:
        return set()
    return set(Membership.objects.filter(user=user, production=production).values_list("role", flat=True))


def is_member(user: User | AnonymousUser, production: Production) -> bool:
    return bool(roles_in(user, production))


def may(user: User | AnonymousUser, production: Production, action: str) -> bool:
    return bool(roles_in(user, production) & ACTION_ROLES[action])


def require(user: User | AnonymousUser, production: Production, action: str) -> None:
    """Raise ``NotAllowed`` unless ``user`` holds a role in ``production`` that may take ``action``."""
    if not may(user, production, action):
        roles = " or ".join(sorted(ACTION_ROLES[action]))
        raise NotAllowed(f"Only a {roles} of {production.code} may {ACTION_DESCRIPTIONS[action]}.")
