"""Who may do what in a production: the one place roles are checked."""
from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User

from .errors import NotAllowed, SecondFactorRequired
from .models import Membership, Production, Role

# Actions and the roles that may take them.
APPROVE_PROPOSAL = "approve_proposal"
INGEST_FOOTAGE = "ingest_footage"
IMPORT_CUT = "import_cut"
FILE_FIX_REQUEST = "file_fix_request"
ASSIGN_FIX_REQUEST = "assign_fix_request"
RUN_JOB = "run_job"
TRAIN_LOOK = "train_look"
TRAIN_MODEL = "train_model"
MANAGE_SECURITY = "manage_security"
CLASSIFY_FIX_REQUEST = "classify_fix_request"
ANSWER_CONSENT = "answer_consent"
READ_REPORTS = "read_reports"
ANNOTATE_FRAME = "annotate_frame"
WRITE_REVIEW_NOTE = "write_review_note"
SET_REVIEW_WATERMARK = "set_review_watermark"
DELIVER = "deliver"
READ_DELIVERIES = "read_deliveries"
MANAGE_PLAYLIST = "manage_playlist"
SHARE_WITH_GUEST = "share_with_guest"
SET_OCIO_CONFIG = "set_ocio_config"

ACTION_ROLES: dict[str, frozenset[str]] = {
    APPROVE_PROPOSAL: frozenset({Role.DIRECTOR}),
    INGEST_FOOTAGE: frozenset({Role.SUPERVISOR}),
    IMPORT_CUT: frozenset({Role.SUPERVISOR}),
    FILE_FIX_REQUEST: frozenset({Role.SUPERVISOR}),
    ASSIGN_FIX_REQUEST: frozenset({Role.SUPERVISOR}),
    RUN_JOB: frozenset({Role.SUPERVISOR, Role.ARTIST}),
    TRAIN_LOOK: frozenset({Role.SUPERVISOR, Role.ARTIST}),
    # The post supervisor decides what the production's removals and reframes learn from.
    TRAIN_MODEL: frozenset({Role.SUPERVISOR}),
    MANAGE_SECURITY: frozenset({Role.PRODUCER}),
    CLASSIFY_FIX_REQUEST: frozenset({Role.SUPERVISOR}),
    # The performer role covers the performer and their guild representative; the consent
    # service also checks that the person is the one the consent request asks.
    ANSWER_CONSENT: frozenset({Role.PERFORMER}),
    READ_REPORTS: frozenset({Role.PRODUCER}),
    # Everyone who reviews in the room draws and writes notes; producers read them in reports.
    ANNOTATE_FRAME: frozenset({Role.DIRECTOR, Role.SUPERVISOR, Role.ARTIST, Role.PERFORMER}),
    WRITE_REVIEW_NOTE: frozenset({Role.DIRECTOR, Role.SUPERVISOR, Role.ARTIST, Role.PERFORMER}),
    # Who answers for where footage goes: the producer, and the post supervisor who runs post.
    SET_REVIEW_WATERMARK: frozenset({Role.PRODUCER, Role.SUPERVISOR}),
    DELIVER: frozenset({Role.SUPERVISOR}),
    # The post supervisor who delivers, and the producer who reads deliveries in reports.
    READ_DELIVERIES: frozenset({Role.SUPERVISOR, Role.PRODUCER}),
    # The post supervisor builds the dailies playlists; the director presents them.
    MANAGE_PLAYLIST: frozenset({Role.SUPERVISOR}),
    # Who answers for where footage goes (as for the watermark): share links for outside reviewers.
    SHARE_WITH_GUEST: frozenset({Role.SUPERVISOR, Role.PRODUCER}),
    # The colour pipeline of the whole production: the post supervisor, and the producer.
    SET_OCIO_CONFIG: frozenset({Role.SUPERVISOR, Role.PRODUCER}),
}

ACTION_DESCRIPTIONS = {
    APPROVE_PROPOSAL: "decide on proposals",
    INGEST_FOOTAGE: "ingest footage",
    IMPORT_CUT: "import editorial cuts",
    FILE_FIX_REQUEST: "file fix requests",
    ASSIGN_FIX_REQUEST: "assign fix requests",
    RUN_JOB: "run engine jobs",
    TRAIN_LOOK: "train look models",
    TRAIN_MODEL: "train the production's inpainting and upscale models",
    MANAGE_SECURITY: "change the production's security settings",
    CLASSIFY_FIX_REQUEST: "classify fix requests and name the performers they affect",
    ANSWER_CONSENT: "answer consent requests",
    READ_REPORTS: "read the production's reports",
    ANNOTATE_FRAME: "draw on frames in the review room",
    WRITE_REVIEW_NOTE: "write notes in the review room",
    SET_REVIEW_WATERMARK: "turn the review watermark on or off",
    SET_OCIO_CONFIG: "set the production's OCIO config",
    DELIVER: "deliver approved versions to editorial",
    READ_DELIVERIES: "see the production's deliveries",
    MANAGE_PLAYLIST: "build and change dailies playlists",
    SHARE_WITH_GUEST: "share a version with a guest reviewer by link",
}


def roles_in(user: User | AnonymousUser, production: Production) -> set[str]:
    """The roles ``user`` holds in ``production`` (empty for non-members and anonymous users)."""
    if not user.is_authenticated:
        return set()
    return set(Membership.objects.filter(user=user, production=production).values_list("role", flat=True))


def is_member(user: User | AnonymousUser, production: Production) -> bool:
    return bool(roles_in(user, production))


def may(user: User | AnonymousUser, production: Production, action: str) -> bool:
    return roles_may(roles_in(user, production), action)


def roles_may(roles: set[str], action: str) -> bool:
    """True when one of ``roles`` may take ``action``: :func:`may` for roles already looked up."""
    return bool(roles & ACTION_ROLES[action])


def require(user: User | AnonymousUser, production: Production, action: str) -> None:
    """Raise ``NotAllowed`` unless ``user`` holds a role in ``production`` that may take ``action``."""
    if not may(user, production, action):
        roles = " or ".join(sorted(ACTION_ROLES[action]))
        raise NotAllowed(f"Only a {roles} of {production.code} may {ACTION_DESCRIPTIONS[action]}.")


def is_verified(user: User | AnonymousUser) -> bool:
    """True when ``user`` signed in with a second factor (a TOTP code, RFC 6238): in this browser
    session (django-otp's ``OTPMiddleware``, and ``portal.otp_asgi`` for WebSockets) or through an
    API token made by such a session (``reviews.api.authentication``). False for anyone else,
    including users loaded outside a request (tasks, commands)."""
    check = getattr(user, "is_verified", None)
    return bool(user.is_authenticated and check is not None and check())


def second_factor_roles() -> frozenset[str]:
    """The roles whose holders must sign in with a second factor in every production
    (``LOUPE_MFA_REQUIRED_ROLES``; by default directors, post supervisors and producers — the
    people who approve, run post and export; empty in the embedded demo)."""
    return frozenset(settings.LOUPE_MFA_REQUIRED_ROLES)


def second_factor_message(production: Production) -> str:
    """Why a member of ``production`` must give a second factor first, and what to do."""
    if production.require_mfa:
        why = f"{production.code} requires multi-factor sign-in of its members"
    else:
        labels = [f"{label.lower()}s" for value, label in Role.choices if value in second_factor_roles()]
        who = ", ".join(labels[:-1]) + (" and " if len(labels) > 1 else "") + labels[-1]
        why = f"{who[0].upper()}{who[1:]} of {production.code} sign in with a second factor"
    return f"{why}: set up an authenticator app under Account security, then sign in with its code."


def require_second_factor(user: User | AnonymousUser, production: Production) -> None:
    """Raise ``SecondFactorRequired`` (403) when ``user`` must sign in with a second factor to see
    ``production`` — it requires it of its members, or ``user`` holds one of
    ``second_factor_roles()`` in it — and is not verified. Call it only for members: to anyone
    else the production answers as one that does not exist."""
    needed = production.require_mfa or bool(roles_in(user, production) & second_factor_roles())
    if needed and not is_verified(user):
        raise SecondFactorRequired(second_factor_message(production))
