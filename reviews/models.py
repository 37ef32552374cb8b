"""The data model. Every row belongs to a production, and every query is scoped by it.

Frames are counted from 0 at the start of a clip. Ranges are ``[in, out)``: the out frame is
exclusive, as in CMX3600 EDLs and OpenTimelineIO. Business rules live in ``reviews.services``,
not here.
"""
import hashlib
from fractions import Fraction

from django.conf import settings
from django.db import models
from django.utils import timezone
from django_otp.models import Device, ThrottlingMixin


class Role(models.TextChoices):
    DIRECTOR = "director", "Director"
    SUPERVISOR = "supervisor", "Post supervisor"
    ARTIST = "artist", "Artist"
    PRODUCER = "producer", "Producer"
    PERFORMER = "performer", "Performer"


class Production(models.Model):
    """One title (a film or a series). Everything else is scoped to a production."""

    code = models.SlugField(max_length=32, unique=True, help_text="Short code, e.g. DEMO or NGT01.")
    name = models.CharField(max_length=200)
    require_mfa = models.BooleanField(
        default=False, help_text="Members see this production only when signed in with a second factor (TOTP).")
    review_watermark = models.BooleanField(
        default=True,
        help_text="Burn the reviewer's name and the time into every frame streamed to the review room.",
    )
    ocio_config = models.CharField(
        max_length=300, blank=True, default="",
        help_text="The production's own OpenColorIO config: its file under MEDIA_ROOT "
                  "(services.productions.production_set_ocio_config); blank: the ACES studio config.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return self.code


class Membership(models.Model):
    """A person's role in a production. A person may hold several roles. A role is given in Loupe
    (``services.productions.membership_add``) or by the studio's identity provider at sign-in
    (``services.accounts.sso_roles_sync``, ``granted_by_issuer`` set)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    production = models.ForeignKey(Production, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    granted_by_issuer = models.CharField(
        max_length=255, blank=True, default="",
        help_text="The OpenID Provider (its issuer) whose roles claim gave this role at sign-in, and whose next "
                  "sign-in takes it away when the claim no longer names it; empty for a role given in Loupe.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "production", "role"], name="membership_unique_role"),
        ]

    def __str__(self):
        return f"{self.user} · {self.role} · {self.production}"


class Performer(models.Model):
    """A performer whose likeness or performance is in the production's footage."""

    production = models.ForeignKey(Production, on_delete=models.CASCADE, related_name="performers")
    name = models.CharField(max_length=200)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="performer_roles"
    )
    representative = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="represented_performers",
        help_text="The performer's guild representative, who may answer consent requests for them.",
    )

    def __str__(self):
        return self.name


class ProxyState(models.TextChoices):
    """Where a clip's browser review proxy is: made by a task on the ``default`` queue."""

    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class Clip(models.Model):
    """One dailies media file (or image sequence), probed at ingest. The original is never
    modified or moved.

    ``source_path`` is a video file or, for an image sequence, the folder holding it (one
    sequence per folder). ``checksum_sha256`` is the file's SHA-256 or, for a sequence, the
    SHA-256 of its manifest (each image's name and SHA-256, in frame order). Colour tags are
    ITU-T H.273 names (``bt709``); blank when the media is untagged. ``reel`` is the reel/tape
    name an EDL refers to (from the media's tags, else the file name without extension).
    ``input_colorspace`` is the OCIO colour space (ACES studio config) fixes read the clip in.
    """

    production = models.ForeignKey(Production, on_delete=models.CASCADE, related_name="clips")
    name = models.CharField(max_length=255)
    source_path = models.CharField(max_length=1024, help_text="Absolute path of the original, read-only.")
    checksum_sha256 = models.CharField(max_length=64)
    size_bytes = models.BigIntegerField()
    codec = models.CharField(max_length=32)
    pixel_format = models.CharField(max_length=32, blank=True)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    frame_rate_num = models.PositiveIntegerField()
    frame_rate_den = models.PositiveIntegerField()
    frame_count = models.PositiveIntegerField()
    start_timecode = models.CharField(max_length=11, default="00:00:00:00")
    container_format = models.CharField(max_length=64, blank=True)
    pixel_aspect_num = models.PositiveIntegerField(default=1)
    pixel_aspect_den = models.PositiveIntegerField(default=1)
    bit_depth = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Bits per colour component.")
    color_primaries = models.CharField(max_length=32, blank=True)
    color_transfer = models.CharField(max_length=32, blank=True)
    color_matrix = models.CharField(max_length=32, blank=True)
    color_range = models.CharField(max_length=8, blank=True, help_text="limited or full; blank if untagged.")
    reel = models.CharField(max_length=128, blank=True, help_text="Reel/tape name, as EDLs refer to the clip.")
    input_colorspace = models.CharField(
        max_length=128, blank=True,
        help_text="OCIO colour space the engine reads the clip in: the supervisor's choice at ingest, else what "
                  "the file names, else Rec.709 (engine.media.colour.input_colorspace); blank for clips "
                  "ingested before it was recorded (read from the file then).")
    audio_streams = models.JSONField(default=list, blank=True,
                                     help_text="[{codec, channels, sample_rate_hz}] per audio stream.")
    editorial_metadata = models.JSONField(
        default=dict, blank=True,
        help_text="What editorial bins (Avid ALE) say of the clip: {'ale': [{file, source_in, source_out, "
                  "columns, cdl}]}, ranges in clip frames [in, out).")
    ingested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    proxy_state = models.CharField(max_length=10, choices=ProxyState.choices, default=ProxyState.QUEUED)
    proxy_frames_done = models.PositiveIntegerField(default=0)
    proxy_error = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["production", "checksum_sha256"], name="clip_unique_checksum"),
        ]

    def __str__(self):
        return self.name

    @property
    def frame_rate(self) -> Fraction:
        return Fraction(self.frame_rate_num, self.frame_rate_den)


class Cut(models.Model):
    """One import of an editorial file (EDL, OTIO, FCP7 XML): a version of a sequence.

    ``sequence`` names the line of cuts that revise each other (by default the timeline's
    title): importing a cut conforms the shots of the previous cut of the same sequence.
    ``report`` keeps what the import did (see ``reviews.services.editorial.CutImportReport``).
    """

    production = models.ForeignKey(Production, on_delete=models.CASCADE, related_name="cuts")
    sequence = models.CharField(max_length=200)
    name = models.CharField(max_length=200, help_text="The timeline's own name (EDL TITLE).")
    file_name = models.CharField(max_length=255)
    checksum_sha256 = models.CharField(max_length=64)
    frame_rate_num = models.PositiveIntegerField()
    frame_rate_den = models.PositiveIntegerField()
    report = models.JSONField(default=dict)
    record_start_frame = models.PositiveIntegerField(
        default=0, help_text="Record time of the cut's first frame, in frames at its rate (01:00:00:00 at 24 is "
                             "86400); shots' record_in/record_out count from it.")
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.sequence} ({self.file_name})"

    @property
    def frame_rate(self) -> Fraction:
        return Fraction(self.frame_rate_num, self.frame_rate_den)


class Shot(models.Model):
    """One continuous piece of the cut: a source range ``[source_in, source_out)`` of a clip.

    Shots that came from an editorial import also carry where they sit in the cut: ``cut`` (the
    latest cut that placed them), ``record_in``/``record_out`` (frames from the start of that
    cut's track, ``[in, out)``, at the cut's frame rate), ``cut_order`` (their position among
    the cut's shots), ``track`` and the ``reel`` / ``clip_name`` the editorial file gave. A
    re-import that no longer contains the shot sets ``removed_from_cut_at``; the shot and its
    fix requests are kept.
    """

    production = models.ForeignKey(Production, on_delete=models.CASCADE, related_name="shots")
    clip = models.ForeignKey(Clip, on_delete=models.PROTECT, related_name="shots")
    code = models.CharField(max_length=64, help_text="e.g. SC012_0040")
    source_in = models.PositiveIntegerField()
    source_out = models.PositiveIntegerField(help_text="Exclusive.")
    cut = models.ForeignKey(Cut, null=True, blank=True, on_delete=models.SET_NULL, related_name="shots")
    cut_order = models.PositiveIntegerField(null=True, blank=True)
    track = models.CharField(max_length=64, blank=True)
    record_in = models.PositiveIntegerField(null=True, blank=True)
    record_out = models.PositiveIntegerField(null=True, blank=True, help_text="Exclusive.")
    reel = models.CharField(max_length=128, blank=True)
    clip_name = models.CharField(max_length=255, blank=True, help_text="The clip name the editorial file gave.")
    removed_from_cut_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["production", "code"], name="shot_unique_code"),
            models.CheckConstraint(condition=models.Q(source_out__gt=models.F("source_in")), name="shot_range_not_empty"),
        ]

    def __str__(self):
        return self.code

    @property
    def duration_frames(self) -> int:
        return self.source_out - self.source_in


class FixKind(models.TextChoices):
    COLOR_MATCH = "color_match", "Shot match"
    LOOK_TRANSFER = "look_transfer", "Look transfer"
    RELIGHT = "relight", "Lighting harmonisation"
    OBJECT_REMOVAL = "object_removal", "Object removal"
    CLEAN_PLATE = "clean_plate", "Clean plate"
    BACKGROUND_REPLACE = "background_replace", "Background replacement"
    FRAME_REBUILD = "frame_rebuild", "Rebuilt frames"
    CONTINUITY_CHECK = "continuity_check", "Continuity check"
    REFRAME = "reframe", "Reframe (punch-in)"


class FixRequestStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    IN_REVIEW = "in_review", "In review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    # A continuity check that has run: it makes findings (on the shot's page), not a version to decide.
    CHECKED = "checked", "Checked"


class Alteration(models.TextChoices):
    """What a fix does to the people in the picture (PRODUCT.md glossary; SAG-AFTRA 2023).

    Ordered: a digital alteration is the higher classification."""

    ROUTINE = "routine", "Routine post-production alteration"
    DIGITAL_ALTERATION = "digital_alteration", "Digital alteration of a performer's likeness or performance"


class FixRequest(models.Model):
    """A task on a shot: which fix, on which frames ``[frame_in, frame_out)`` of the shot's clip,
    with which reference shot and parameters; assigned to an artist.

    ``alteration`` is its guild classification and ``performers`` the performers it affects
    (set by the supervisor, raised by the engine's likeness screening, whose result is kept in
    ``likeness_screening``); ``alteration_reason`` is the supervisor's written reason for the
    last lowering of the classification.
    """

    production = models.ForeignKey(Production, on_delete=models.CASCADE, related_name="fix_requests")
    shot = models.ForeignKey(Shot, on_delete=models.PROTECT, related_name="fix_requests")
    kind = models.CharField(max_length=32, choices=FixKind.choices)
    frame_in = models.PositiveIntegerField()
    frame_out = models.PositiveIntegerField(help_text="Exclusive.")
    reference_shot = models.ForeignKey(
        Shot, null=True, blank=True, on_delete=models.PROTECT, related_name="referenced_by"
    )
    parameters = models.JSONField(default=dict, blank=True)
    description = models.TextField(blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_fix_requests"
    )
    status = models.CharField(max_length=16, choices=FixRequestStatus.choices, default=FixRequestStatus.OPEN)
    due_date = models.DateField(null=True, blank=True)
    mask = models.JSONField(
        null=True, blank=True,
        help_text='The region to fix, outlined on one frame: {"frame": N, "shape": "rectangle" | "polygon", '
                  '"points": [[x, y], ...]} in the clip\'s pixels; or a list of such outlines on several frames '
                  '(keyframes), each tracked to its neighbouring keyframes (a frame between two takes both).')
    alteration = models.CharField(max_length=20, choices=Alteration.choices, default=Alteration.ROUTINE)
    alteration_reason = models.TextField(blank=True)
    performers = models.ManyToManyField(Performer, blank=True, related_name="fix_requests")
    likeness_screening = models.JSONField(default=dict, blank=True,
                                          help_text="The engine's last likeness screening (engine.likeness).")
    mask_strokes = models.JSONField(
        default=list, blank=True,
        help_text='Correction strokes painted on the mask sequence, in the order painted: {"frame": N, "mode": '
                  '"add" | "subtract", "points": [[x, y], ...], "radius": r} (a brush path in the clip\'s pixels); '
                  'each makes its frame a keyframe the mask re-propagates from (engine.ops.segment).')
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(frame_out__gt=models.F("frame_in")), name="fix_range_not_empty"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} on {self.shot}"

    @property
    def duration_frames(self) -> int:
        return self.frame_out - self.frame_in


class JobState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class JobStage(models.TextChoices):
    """What a job makes: the fix (a proposal, or a check's findings), or the fix request's mask
    sequence (the object segmented through the frames from its outlines and strokes)."""

    FIX = "fix", "Fix"
    MASK = "mask", "Mask"


class Job(models.Model):
    """One run of the engine for a fix request, on a worker: the fix itself, or (``stage`` mask)
    the mask sequence the fix will use."""

    production = models.ForeignKey(Production, on_delete=models.CASCADE, related_name="jobs")
    fix_request = models.ForeignKey(FixRequest, on_delete=models.CASCADE, related_name="jobs")
    stage = models.CharField(max_length=8, choices=JobStage.choices, default=JobStage.FIX)
    state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.QUEUED)
    frames_done = models.PositiveIntegerField(default=0)
    frames_total = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    worker = models.CharField(max_length=255, blank=True)
    attempts = models.PositiveIntegerField(default=0, help_text="Times a worker has started it.")
    idempotency_key = models.CharField(
        max_length=64, null=True, blank=True,
        help_text="Client-chosen key: the same key submitted twice gives the same job.",
    )
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last sign of life of the running worker.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["production", "idempotency_key"], name="job_unique_idempotency_key"),
        ]

    def __str__(self):
        return f"job {self.pk} ({self.state})"

    @property
    def is_finished(self) -> bool:
        return self.state in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


class ProposalStatus(models.TextChoices):
    IN_REVIEW = "in_review", "In review"
    APPROVED = "approved", "Approved"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    REJECTED = "rejected", "Rejected"
    SUPERSEDED = "superseded", "Superseded"
    WITHDRAWN = "withdrawn", "Approval withdrawn"


class Proposal(models.Model):
    """A version (v001, v002, …) of a fix request: the frames a job rendered, the region it
    changed, its measurements and the parameters and engine method that made it."""

    production = models.ForeignKey(Production, on_delete=models.CASCADE, related_name="proposals")
    fix_request = models.ForeignKey(FixRequest, on_delete=models.CASCADE, related_name="proposals")
    job = models.OneToOneField(Job, on_delete=models.PROTECT, related_name="proposal")
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=20, choices=ProposalStatus.choices, default=ProposalStatus.IN_REVIEW)
    frame_in = models.PositiveIntegerField()
    frame_out = models.PositiveIntegerField(help_text="Exclusive.")
    media_dir = models.CharField(max_length=255, help_text="Folder under MEDIA_ROOT holding the frames.")
    region_fraction = models.FloatField(help_text="Share of the frame's pixels the fix may change, 0–1.")
    metrics = models.JSONField(default=dict)
    parameters = models.JSONField(default=dict)
    method = models.CharField(max_length=200, help_text="Engine module and method that made it.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["fix_request", "version"]
        constraints = [
            models.UniqueConstraint(fields=["fix_request", "version"], name="proposal_unique_version"),
        ]

    def __str__(self):
        return f"{self.fix_request} {self.version_label}"

    @property
    def version_label(self) -> str:
        return f"v{self.version:03d}"


class FindingKind(models.TextChoices):
    """What a continuity check found between take A and take B (engine.continuity.KINDS)."""

    APPEARED = "appeared", "Appeared"
    DISAPPEARED = "disappeared", "Disappeared"
    MOVED = "moved", "Moved"
    LIGHT = "light", "Light changed"


class ContinuityFinding(models.Model):
    """One difference a continuity check (a ``continuity_check`` fix request: shot B against its
    reference shot, take A) found: its kind, the clip frames of each take showing it, a box in
    shot B's pixels, a confidence and a picture crop of each side (PNG files in ``media_dir``).

    ``follow_up`` is the fix request filed from it (object removal or relight), if any.
    """

    production = models.ForeignKey(Production, on_delete=models.CASCADE, related_name="continuity_findings")
    fix_request = models.ForeignKey(FixRequest, on_delete=models.CASCADE, related_name="findings")
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="findings")
    kind = models.CharField(max_length=16, choices=FindingKind.choices)
    frames_a = models.JSONField(help_text="[first, last] clip frames of take A (the reference shot) showing it.")
    frames_b = models.JSONField(help_text="[first, last] clip frames of take B (the checked shot) showing it.")
    box = models.JSONField(help_text="[x, y, width, height] in shot B's pixels.")
    confidence = models.FloatField(help_text="0–1.")
    details = models.JSONField(default=dict, blank=True)
    media_dir = models.CharField(max_length=255, help_text="Folder under MEDIA_ROOT holding the crops.")
    crop_a = models.CharField(max_length=100, help_text="File name of take A's crop in media_dir.")
    crop_b = models.CharField(max_length=100, help_text="File name of take B's crop in media_dir.")
    follow_up = models.OneToOneField(FixRequest, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="from_finding")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["job", "-confidence", "id"]

    def __str__(self):
        return f"{self.get_kind_display()} on {self.fix_request.shot}"


class Decision(models.TextChoices):
    APPROVE = "approve", "Approve"
    REJECT = "reject", "Reject"
    REQUEST_CHANGES = "request_changes", "Request changes"


class ReviewDecision(models.Model):
    """A director's decision on a proposal."""

    production = models.ForeignKey(Production, on_delete=models.CASCADE, related_name="review_decisions")
    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="decisions")
    director = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=20, choices=Decision.choices)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]


class ConsentStatus(models.TextChoices):
    PENDING = "pending", "Awaiting answer"
    GRANTED = "granted", "Granted"
    DENIED = "denied", "Denied"
    REVOKED = "revoked", "Revoked"


class ConsentRequest(models.Model):
    """One affected performer's informed consent to a fix that digitally alters their likeness
    or performance (SAG-AFTRA 2023): ``description`` is the reasonably specific description of
    the use (shot, frames, what changes, where to watch it), filled from the fix request.

    The performer (or their representative) answers with ``scope`` (the use consented to) and
    an optional ``expires_on`` (consent lapses at the start of that day, UTC).
    """

    production = models.ForeignKey(Production, on_delete=models.CASCADE, related_name="consent_requests")
    fix_request = models.ForeignKey(FixRequest, on_delete=models.CASCADE, related_name="consent_requests")
    performer = models.ForeignKey(Performer, on_delete=models.PROTECT, related_name="consent_requests")
    description = models.TextField()
    status = models.CharField(max_length=16, choices=ConsentStatus.choices, default=ConsentStatus.PENDING)
    scope = models.TextField(blank=True)
    expires_on = models.DateField(null=True, blank=True)
    answered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    answered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["fix_request", "performer"], name="consent_one_per_performer"),
        ]

    def __str__(self):
        return f"{self.performer} · {self.fix_request} · {self.status}"


class AuditEvent(models.Model):
    """One entry of a production's append-only, hash-chained audit trail.

    ``hash`` is SHA-256 over the canonical JSON of the event's fields and ``previous_hash``
    (the hash of the production's previous event), so any edit or deletion breaks the chain.
    Written only by ``reviews.services.audit.audit_record``, in the transaction of the change.
    """

    production = models.ForeignKey(Production, on_delete=models.PROTECT, related_name="audit_events")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64)
    target_id = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField()
    previous_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.action} {self.target_type}:{self.target_id}"


class ForensicMark(models.Model):
    """The payload of the invisible forensic watermark (``engine.ops.watermark``) carried by every
    frame one viewing session was sent: a review room connection, or one person's frame views
    of one proposal or clip in one browser session. A leaked frame's payload names the session:
    who, which production and proposal (or clip), through what, and when."""

    class Channel(models.TextChoices):
        REVIEW_ROOM = "review_room", "Review room"
        FRAME_VIEW = "frame_view", "Frame view"
        SHARE_LINK = "share_link", "Share link"

    payload = models.BigIntegerField(unique=True, help_text="32-bit, random; what the frames carry.")
    production = models.ForeignKey(Production, on_delete=models.PROTECT, related_name="forensic_marks")
    viewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    proposal = models.ForeignKey("Proposal", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    clip = models.ForeignKey("Clip", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(max_length=20, choices=Channel.choices)
    session_key = models.CharField(max_length=64, blank=True, help_text="The browser session of frame views.")
    share_guest = models.ForeignKey(
        "ShareGuest", null=True, blank=True, on_delete=models.PROTECT, related_name="forensic_marks",
        help_text="The guest (name given on arrival, share link) when the viewer came through a share link.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.payload:08x} {self.channel} of {self.viewer_id}"


class AuditCheckpoint(models.Model):
    """A signed checkpoint of a production's audit trail: an Ed25519 signature, by a key kept
    outside the database, over the chain head (``event_id``, ``event_hash``, ``event_count``).
    A copy of each is appended to a file outside the database (``reviews.checkpoints``), so a
    database superuser can neither truncate the trail, nor re-chain it after an edit, nor forge
    or delete a checkpoint unseen. Written only by ``reviews.services.audit``."""

    production = models.ForeignKey(Production, on_delete=models.PROTECT, related_name="audit_checkpoints")
    # Plain numbers, not a foreign key: a checkpoint must outlive the event it names.
    event_id = models.BigIntegerField()
    event_hash = models.CharField(max_length=64)
    event_count = models.PositiveIntegerField()
    signed_at = models.CharField(max_length=40, help_text="ISO 8601, as signed.")
    key_id = models.CharField(max_length=16, help_text="The signing key: SHA-256 of its public key, 16 hex digits.")
    signature = models.CharField(max_length=100, help_text="Ed25519 signature, base64.")

    class Meta:
        ordering = ["event_id"]

    def __str__(self):
        return f"checkpoint of {self.production_id} at event {self.event_id} ({self.event_count} events)"


class LookModel(models.Model):
    """A production's own look, learned from pairs of its dailies (camera original → graded):
    a 3D LUT stored as a ``.cube`` file. Versioned per production; ``lineage`` records which
    clips and frames trained it. It trains only on, and applies only to, its production."""

    production = models.ForeignKey(Production, on_delete=models.CASCADE, related_name="look_models")
    version = models.PositiveIntegerField()
    name = models.CharField(max_length=200)
    cube_path = models.CharField(max_length=255, help_text="The .cube file, relative to MEDIA_ROOT.")
    lineage = models.JSONField(default=list, help_text="[{source, graded, frames}] per training pair.")
    measurements = models.JSONField(default=dict)
    parameters = models.JSONField(default=dict)
    trained_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["production", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["production", "version"], name="look_model_unique_version"),
        ]

    def __str__(self):
        return f"{self.production} look v{self.version:03d} {self.name}"


class LearnedModelKind(models.TextChoices):
    INPAINT = "inpaint", "Inpainting model"
    UPSCALE = "upscale", "Upscale model"


class LearnedModel(models.Model):
    """A network learned from a production's own shots — an inpainting model (object removal)
    or an upscale model (reframe) — and its training run (docs/adr/0014-production-model-versions.md).

    One row from the request on: ``state`` goes queued → running → succeeded (or failed,
    cancelled) like a :class:`Job`'s, with ``steps_done`` / ``steps_total`` as its progress.
    ``version`` (v001, v002, … per production and kind) is given when training succeeds, with
    ``file_path`` (the ``.pt`` under MEDIA_ROOT), ``lineage`` (clips and frames trained on and
    held out, per shot), ``measurements`` (held-out figures, the model's beside the classical
    baseline's: in-hole PSNR against the classical fill, or PSNR against Lanczos per scale, dB),
    ``beats_classical`` (whether the model beat its baseline on the held-out frames; per scale
    for an upscale model in ``measurements``), ``training_seconds`` and ``device``. It trains
    only on, and applies only to, its production.
    """

    production = models.ForeignKey(Production, on_delete=models.CASCADE, related_name="learned_models")
    kind = models.CharField(max_length=16, choices=LearnedModelKind.choices)
    version = models.PositiveIntegerField(null=True, blank=True, help_text="Given when training succeeds.")
    name = models.CharField(max_length=200)
    shots = models.ManyToManyField(Shot, related_name="+", help_text="The shots it is trained on.")
    parameters = models.JSONField(default=dict, help_text="The engine's training parameters, complete.")
    state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.QUEUED)
    steps_done = models.PositiveIntegerField(default=0)
    steps_total = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    worker = models.CharField(max_length=255, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last sign of life of the training worker.")
    file_path = models.CharField(max_length=255, blank=True, help_text="The .pt file, relative to MEDIA_ROOT.")
    lineage = models.JSONField(default=dict)
    measurements = models.JSONField(default=dict, help_text="Held-out figures measured at training.")
    beats_classical = models.BooleanField(default=False)
    training_seconds = models.FloatField(null=True, blank=True)
    device = models.CharField(max_length=32, blank=True)
    engine_version = models.CharField(max_length=64, blank=True)
    trained_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["production", "kind", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["production", "kind", "version"], name="learned_model_unique_version"),
        ]

    def __str__(self):
        return f"{self.production} {self.label}"

    @property
    def label(self) -> str:
        """``inpaint v003`` (or ``inpaint training 12`` until it has a version)."""
        return f"{self.kind} v{self.version:03d}" if self.version else f"{self.kind} training {self.pk}"

    @property
    def is_finished(self) -> bool:
        return self.state in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


class AnnotationKind(models.TextChoices):
    FREEHAND = "freehand", "Freehand"
    ARROW = "arrow", "Arrow"
    TEXT = "text", "Text"


class Annotation(models.Model):
    """A drawing on one frame of a proposal, made in the review room and seen by everyone in it.

    ``points`` are ``[[x, y], ...]`` in picture coordinates normalised to 0–1 (0,0 top left):
    a freehand stroke's samples, an arrow's tail and head, or a text's anchor. ``frame`` is a
    clip frame (counted from 0) inside the proposal's ``[frame_in, frame_out)``.
    """

    production = models.ForeignKey(Production, on_delete=models.CASCADE, related_name="annotations")
    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="annotations")
    frame = models.PositiveIntegerField()
    kind = models.CharField(max_length=16, choices=AnnotationKind.choices)
    points = models.JSONField(default=list)
    text = models.CharField(max_length=500, blank=True)
    color = models.CharField(max_length=7, default="#ff3b30", help_text="#rrggbb")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["frame", "created_at", "id"]
        indexes = [models.Index(fields=["proposal", "frame"], name="annotation_proposal_frame")]


class ReviewNote(models.Model):
    """A note pinned to one frame of a proposal; a reply names the note it answers (``parent``),
    which threads the conversation on that frame."""

    production = models.ForeignKey(Production, on_delete=models.CASCADE, related_name="review_notes")
    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="notes")
    frame = models.PositiveIntegerField()
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies")
    text = models.TextField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["frame", "created_at", "id"]


class RecoveryCodeDevice(ThrottlingMixin, Device):
    """A person's one-time recovery codes, as a django-otp device (so a sign-in with one is a
    verified session like any other): the second factor when the authenticator app is out of
    reach. Not production data — a sign-in factor, like django-otp's ``TOTPDevice``. Wrong codes
    are throttled (django-otp's ``ThrottlingMixin``: 1 s, 2 s, 4 s, … after each failure)."""

    def get_throttle_factor(self) -> int:
        return 1

    def verify_token(self, token) -> bool:
        """True once for each unused code of this device: the code is marked used in the same
        UPDATE that finds it, so two requests racing with one code cannot both pass."""
        allowed, _ = self.verify_is_allowed()
        if not allowed:
            return False
        used = RecoveryCode.objects.filter(device=self, code_sha256=RecoveryCode.digest(str(token)),
                                           used_at__isnull=True).update(used_at=timezone.now())
        if used:
            self.throttle_reset()
        else:
            self.throttle_increment()
        return bool(used)


class RecoveryCode(models.Model):
    """One recovery code, kept only as the SHA-256 of its normalised text. A code carries 80
    random bits (16 base32 characters), so a plain hash is as hard to reverse as the code is
    to guess; each is usable once (``used_at``)."""

    device = models.ForeignKey(RecoveryCodeDevice, on_delete=models.CASCADE, related_name="codes")
    code_sha256 = models.CharField(max_length=64, db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)

    @staticmethod
    def digest(code: str) -> str:
        """SHA-256 (hex) of ``code`` with dashes and spaces dropped and letters upper-cased, so
        ``abcd-efgh-…`` typed as shown, or without dashes, matches."""
        normalised = "".join(code.split()).replace("-", "").upper()
        return hashlib.sha256(normalised.encode()).hexdigest()


class DeliveryStatus(models.TextChoices):
    RENDERING = "rendering", "Rendering"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class Delivery(models.Model):
    """One delivery of a production's approved versions to editorial: the media in
    ``folder`` (one folder a delivery), the lists that conform them into the cut, the ASC MHL
    manifest of every file, and the delivery notes. ``delivered`` only once the manifest has
    verified; ``notes`` keeps what people must know (bit depth, versions to pull, versions held).
    """

    production = models.ForeignKey(Production, on_delete=models.CASCADE, related_name="deliveries")
    number = models.PositiveIntegerField(help_text="1, 2, … per production.")
    format = models.CharField(max_length=32)
    folder = models.CharField(max_length=1024, help_text="Absolute path of the delivery's folder.")
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.RENDERING)
    notes = models.TextField(blank=True)
    manifest = models.CharField(max_length=1024, blank=True, help_text="The ASC MHL manifest, relative to folder.")
    error = models.TextField(blank=True)
    versions_total = models.PositiveIntegerField(default=0)
    versions_done = models.PositiveIntegerField(default=0, help_text="Versions rendered so far.")
    report = models.JSONField(default=dict, blank=True, help_text="planned (proposal ids), held (reasons), "
                                                                  "to_pull; once delivered: versions, lists, unplaced.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["production", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["production", "number"], name="delivery_unique_number"),
        ]

    def __str__(self):
        return f"{self.production.code} delivery {self.number:03d}"


class DeliveredVersion(models.Model):
    """One version (proposal) in one delivery: its media files (relative to the delivery's
    folder), the clip frames they hold ``[source_in, source_out)`` (the shot with its handles)
    from ``start_timecode``, and where its shot sits in the cut. ``pulled_in`` is the later
    delivery whose notes asked editorial to pull it (its approval was withdrawn after delivery).
    """

    production = models.ForeignKey(Production, on_delete=models.CASCADE, related_name="delivered_versions")
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="versions")
    proposal = models.ForeignKey(Proposal, on_delete=models.PROTECT, related_name="deliveries")
    name = models.CharField(max_length=255, help_text="By the turnover convention, e.g. SC012_0040_color_match_v002.")
    files = models.JSONField(default=list)
    source_in = models.PositiveIntegerField()
    source_out = models.PositiveIntegerField(help_text="Exclusive.")
    start_timecode = models.CharField(max_length=11)
    reel = models.CharField(max_length=128, blank=True)
    credential = models.CharField(max_length=255, blank=True,
                                  help_text="Label (urn:c2pa:…) of the C2PA manifest signed into the media; blank "
                                            "if it carries none.")
    pulled_in = models.ForeignKey(Delivery, null=True, blank=True, on_delete=models.SET_NULL, related_name="pulled")

    class Meta:
        ordering = ["delivery", "name"]

    def __str__(self):
        return self.name


class SingleSignOnIdentity(Device):
    """A person's account at the studio's OpenID Provider (``issuer``, ``subject``: the ID token's
    ``iss`` and ``sub``, OpenID Connect Core 1.0 §2) linked to their Loupe account, made when
    they first sign in with it (``frontend.sso``). It is also a django-otp device so that a
    sign-in in which the provider vouched for a second factor (its ``amr``/``acr`` claim, RFC
    8176) is a verified session like one with an authenticator app's code: django-otp keeps this
    device in the session. It checks no code of its own (``verify_token`` is always False), so it
    is not a factor a person can type or replace (``services.accounts.local_second_factor_of``)."""

    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    signed_in_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="sso_identity_unique")]

    def verify_token(self, token) -> bool:
        return False


class SingleSignOnSession(models.Model):
    """A Loupe session signed in through the studio's provider (``frontend.sso``): its Django
    session key and the provider's session id (the ID token's ``sid``), so that the provider's
    back-channel logout (OpenID Connect Back-Channel Logout 1.0) can end it."""

    identity = models.ForeignKey(SingleSignOnIdentity, on_delete=models.CASCADE, related_name="sessions")
    sid = models.CharField(max_length=255, blank=True, db_index=True)
    session_key = models.CharField(max_length=40, unique=True)
    signed_in_at = models.DateTimeField(auto_now_add=True)


class PlaylistSource(models.TextChoices):
    """How a playlist was first filled (more can be added, reordered and removed by hand)."""

    BOARD = "board", "Shot board filter"
    FIX_REQUESTS = "fix_requests", "Fix request list"
    HAND = "hand", "By hand"


class Playlist(models.Model):
    """An ordered set of versions (proposals) across shots of one production, for a dailies
    session: the presenter moves through its items and everyone follows (``reviews.consumers.
    DailiesConsumer``). ``source_filter`` keeps what filled it first (the shot board's filters,
    or the fix request ids)."""

    production = models.ForeignKey(Production, on_delete=models.CASCADE, related_name="playlists")
    name = models.CharField(max_length=200)
    source = models.CharField(max_length=16, choices=PlaylistSource.choices, default=PlaylistSource.HAND)
    source_filter = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["production", "-created_at", "-id"]

    def __str__(self):
        return f"{self.production.code} · {self.name}"


class PlaylistItem(models.Model):
    """One version in a playlist, at ``position`` (0, 1, … with no gaps: the services renumber)."""

    production = models.ForeignKey(Production, on_delete=models.CASCADE, related_name="playlist_items")
    playlist = models.ForeignKey(Playlist, on_delete=models.CASCADE, related_name="items")
    proposal = models.ForeignKey(Proposal, on_delete=models.PROTECT, related_name="playlist_items")
    position = models.PositiveIntegerField()
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["playlist", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["playlist", "proposal"], name="playlist_item_unique_proposal"),
        ]

    def __str__(self):
        return f"{self.playlist} #{self.position + 1}: {self.proposal}"


class NotificationKind(models.TextChoices):
    """What a person can be told of (``reviews.services.notifications``)."""

    ASSIGNMENT = "assignment", "Fix request assigned to you"
    VERSION_READY = "version_ready", "New version ready for review"
    DECISION = "decision", "Decision made on a version"
    CONSENT_REQUESTED = "consent_requested", "Consent requested"
    CONSENT_GRANTED = "consent_granted", "Consent granted"
    CONSENT_DENIED = "consent_denied", "Consent denied"
    CONSENT_REVOKED = "consent_revoked", "Consent revoked"
    JOB_FAILED = "job_failed", "Job failed"
    LIKENESS_RAISED = "likeness_raised", "Raised to digital alteration by likeness screening"


class Notification(models.Model):
    """One thing one person is told: shown in the portal (the bell in the navigation, live over
    ``/ws/notifications/``) and, when their preferences ask for it, emailed — at once or in the
    daily digest. ``audit_event`` is the audit trail's record of the change it tells of.
    ``email_pending`` is True until the email carrying it has been sent."""

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    production = models.ForeignKey(Production, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=24, choices=NotificationKind.choices)
    text = models.CharField(max_length=500)
    url = models.CharField(max_length=300, blank=True, help_text="Where to look: a path on the portal.")
    audit_event = models.ForeignKey(AuditEvent, null=True, on_delete=models.SET_NULL, related_name="+")
    in_app = models.BooleanField(default=True, help_text="Shown in the portal (the person's preference).")
    email_pending = models.BooleanField(default=False)
    emailed_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["recipient", "read_at"], name="notification_unread"),
                   models.Index(fields=["email_pending"], name="notification_email_pending")]

    def __str__(self):
        return f"{self.recipient_id} · {self.kind} · {self.text}"


class EmailDelivery(models.TextChoices):
    IMMEDIATE = "immediate", "At once, one email each"
    DAILY_DIGEST = "daily_digest", "One daily digest"


class NotificationPreferences(models.Model):
    """A person's notification preferences: per kind, in the portal and/or by email
    (``kinds``: ``{kind: {"in_app": bool, "email": bool}}``; a kind not named there is on for
    both), and whether emails go at once or in a daily digest."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="notification_preferences")
    kinds = models.JSONField(default=dict, blank=True)
    email_delivery = models.CharField(max_length=16, choices=EmailDelivery.choices, default=EmailDelivery.IMMEDIATE)

    def wants(self, kind: str, channel: str) -> bool:
        """Whether ``channel`` (``in_app`` or ``email``) is on for ``kind``."""
        return bool(self.kinds.get(kind, {}).get(channel, True))


class ShareScope(models.TextChoices):
    """What a share link opens: one proposal (a version), or a playlist's versions in its order."""

    PROPOSAL = "proposal", "One version"
    PLAYLIST = "playlist", "A playlist"


class ShareLink(models.Model):
    """A link that lets someone without an account (a studio executive, a performer's agent)
    review one version or the versions of one playlist (``scope``): until ``expires_at``,
    unless revoked, behind an optional password (kept only as Django's salted PBKDF2 hash). Only the SHA-256 of the link's token is stored: the
    link itself is shown once, to the person who made it. Guests leave notes but never decide."""

    production = models.ForeignKey(Production, on_delete=models.CASCADE, related_name="share_links")
    scope = models.CharField(max_length=16, choices=ShareScope.choices, default=ShareScope.PROPOSAL)
    proposal = models.ForeignKey("Proposal", null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="share_links")
    playlist = models.ForeignKey("Playlist", null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="share_links")
    token_sha256 = models.CharField(max_length=64, unique=True)
    password_hash = models.CharField(max_length=256, blank=True, help_text="Django password hash; blank: none.")
    label = models.CharField(max_length=200, blank=True, help_text="Who it is for, as its maker wrote it.")
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=~models.Q(scope="proposal") | models.Q(proposal__isnull=False),
                                   name="share_link_scope_target"),
            models.CheckConstraint(condition=~models.Q(scope="playlist") | models.Q(playlist__isnull=False),
                                   name="share_link_playlist_target"),
        ]

    def __str__(self):
        return f"share link {self.pk} of {self.production_id} ({self.scope})"


class ShareGuest(models.Model):
    """One arrival through a share link: the name the guest gave, their browser session, and
    the account-less identity (``user``: inactive, no usable password, member of nothing) that
    their notes, their forensic marks and the audit trail refer to."""

    link = models.ForeignKey(ShareLink, on_delete=models.CASCADE, related_name="guests")
    name = models.CharField(max_length=100)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="share_guest")
    session_key = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.name} (guest, link {self.link_id})"


class IngestState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class IngestStep(models.TextChoices):
    """What a running ingest is doing (``ClipIngest.step``), in order."""

    TYPING = "typing", "Deciding the upload's type"
    PROBING = "probing", "Probing"
    DECODING = "decoding", "Decoding the middle and last frames"
    CHECKSUM = "checksum", "Computing the SHA-256"
    STORING = "storing", "Storing the clip"


class ClipIngest(models.Model):
    """One ingest of dailies asked for by a person and executed by a worker
    (``reviews.worker.ingest``): a file on the dailies mounts (``source_path``) or an upload
    stored under ``MEDIA_ROOT/originals/<production>/`` (``upload_path`` until the worker types it
    by probing and names it, then ``source_path``). ``bytes_done`` of ``bytes_total`` counts the
    bytes checksummed so far; ``error`` says, for people, why a failed ingest failed; ``clip`` is
    the clip a ready ingest made."""

    production = models.ForeignKey(Production, on_delete=models.CASCADE, related_name="ingests")
    name = models.CharField(max_length=255, help_text="What the person gave: the upload's name or the path's.")
    source_path = models.CharField(max_length=1024, blank=True,
                                   help_text="The media read (absolute path); for an upload, once the worker named it.")
    upload_path = models.CharField(max_length=1024, blank=True,
                                   help_text="An upload as received (absolute path under MEDIA_ROOT), before typing.")
    input_colorspace = models.CharField(max_length=128, blank=True,
                                        help_text="The colour space the supervisor chose; blank: what the file names.")
    state = models.CharField(max_length=16, choices=IngestState.choices, default=IngestState.QUEUED)
    step = models.CharField(max_length=16, choices=IngestStep.choices, blank=True)
    bytes_done = models.BigIntegerField(default=0)
    bytes_total = models.BigIntegerField(default=0)
    error = models.TextField(blank=True)
    clip = models.ForeignKey(Clip, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["production", "-created_at", "-id"]

    def __str__(self):
        return f"{self.production.code} ingest {self.pk} {self.name}"

    @property
    def is_finished(self) -> bool:
        return self.state in (IngestState.READY, IngestState.FAILED)


class ReportExportState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Ready"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class ReportExport(models.Model):
    """A producer's report as a PDF, built by a worker (``reviews.worker.reports``) and then
    downloaded: which report, with which filters, how far the worker has come (``rows_done`` of
    ``rows_total``) and the file it made (``file``, under MEDIA_ROOT)."""

    production = models.ForeignKey(Production, on_delete=models.CASCADE, related_name="report_exports")
    report = models.CharField(max_length=32, help_text="A key of reviews.reports.REPORTS, e.g. audit.")
    filters = models.JSONField(default=dict, blank=True,
                               help_text="The audit trail's filters as the page gives them: from, to, person, shot, "
                                         "action, hide_media.")
    state = models.CharField(max_length=16, choices=ReportExportState.choices, default=ReportExportState.QUEUED)
    rows_done = models.PositiveIntegerField(default=0)
    rows_total = models.PositiveIntegerField(default=0)
    file = models.CharField(max_length=1024, blank=True, help_text="The PDF, relative to MEDIA_ROOT, once done.")
    size_bytes = models.BigIntegerField(default=0)
    error = models.TextField(blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["production", "-created_at"]

    def __str__(self):
        return f"{self.production.code} {self.report} PDF {self.pk}"

    @property
    def is_finished(self) -> bool:
        return self.state in (ReportExportState.DONE, ReportExportState.FAILED, ReportExportState.CANCELLED)
