"""Serialisers: shapes of the API's input and output."""
from fractions import Fraction

from rest_framework import serializers

from reviews import measurements
from reviews.deliverables import DEFAULT_FORMAT, DELIVERY_FORMATS
from reviews.models import (Alteration, Clip, ClipIngest, ContinuityFinding, Cut, Decision, Delivery, FixKind, FixRequest, Job,
                            EmailDelivery, LearnedModel, LearnedModelKind, LookModel, NotificationKind, Production,
                            Proposal, ReviewDecision, Shot)
from reviews.services.findings import FOLLOW_UPS
from reviews.services.jobs import job_eta_seconds
from reviews.timecode import frame_rate_parse

#: The largest id the database holds (a signed 64-bit primary key).
MAX_ID = 2**63 - 1


class IdField(serializers.IntegerField):
    """An object's id in a request body: 1 to ``MAX_ID``, so an id beyond what the database can
    hold is a 400 naming the field, not an overflow in the query."""

    def __init__(self, **kwargs):
        super().__init__(min_value=1, max_value=MAX_ID, **kwargs)

class ProductionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Production
        fields = ["code", "name", "require_mfa", "created_at"]


class ClipSerializer(serializers.ModelSerializer):
    class Meta:
        model = Clip
        fields = ["id", "name", "source_path", "checksum_sha256", "size_bytes", "codec", "pixel_format", "width",
                  "height", "frame_rate_num", "frame_rate_den", "frame_count", "start_timecode", "container_format",
                  "pixel_aspect_num", "pixel_aspect_den", "bit_depth", "color_primaries", "color_transfer",
                  "color_matrix", "color_range", "reel", "input_colorspace", "audio_streams", "created_at", "proxy_state",
                  "proxy_frames_done", "proxy_error"]
        read_only_fields = fields


class ClipIngestSerializer(serializers.Serializer):
    path = serializers.CharField(help_text="Server-side path of a video file, image-sequence folder or sequence "
                                           "pattern (name.%04d.png).")
    input_colorspace = serializers.CharField(
        max_length=128, required=False, allow_blank=True,
        help_text="OCIO colour space to read the clip in (a name or alias of the production's config, or "
                  "Rec.709); default: what the file names, else Rec.709.")


class IngestSerializer(serializers.ModelSerializer):
    """An ingest a worker runs: ``queued``, ``running`` (``step``; ``bytes_done`` of
    ``bytes_total`` checksummed), then ``ready`` with its ``clip`` or ``failed`` with ``error``."""

    state_label = serializers.CharField(source="get_state_display", read_only=True)
    clip = ClipSerializer(read_only=True, allow_null=True, help_text="The clip it made, once ready.")
    url = serializers.SerializerMethodField(help_text="Where to read this ingest again (GET).")

    class Meta:
        model = ClipIngest
        fields = ["id", "name", "state", "state_label", "step", "bytes_done", "bytes_total", "error", "clip", "url",
                  "created_at", "started_at", "finished_at"]
        read_only_fields = fields

    def get_url(self, ingest) -> str:
        from reviews.services.clips import clip_ingest_url

        return clip_ingest_url(ingest)


class ClipColorspaceSerializer(serializers.Serializer):
    input_colorspace = serializers.CharField(
        max_length=128, help_text="OCIO colour space name or alias in the ACES studio config, or Rec.709.")


class ClipUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="A video file (MOV, MP4, MXF, AVI, MKV); its type is decided by probing.")


class OcioConfigUploadSerializer(serializers.Serializer):
    config = serializers.FileField(help_text="An OpenColorIO config (.ocio, UTF-8 YAML), self-contained: LUT files "
                                             "it names are not uploaded with it.")


class OcioConfigSerializer(serializers.Serializer):
    """A production's OCIO config, as ``GET …/ocio-config/`` answers."""
    config = serializers.CharField(help_text='"uploaded" (the production\'s own) or the ACES studio config\'s URI.')
    colorspaces = serializers.ListField(child=serializers.CharField(),
                                        help_text="The colour space names the production's clips may be read in.")


class ShotSerializer(serializers.ModelSerializer):
    class Meta:
        model = Shot
        fields = ["id", "code", "clip", "source_in", "source_out", "cut", "cut_order", "track", "record_in",
                  "record_out", "reel", "clip_name", "removed_from_cut_at"]


class CutImportSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="A CMX3600 .edl, OpenTimelineIO .otio, Final Cut Pro 7 .xml, Final Cut "
                                           "Pro X .fcpxml or AAF cut; or an Avid .ale bin (clip metadata).")
    sequence = serializers.CharField(required=False, max_length=200,
                                     help_text="The sequence this cut revises (default: the cut's title); in a "
                                               "file holding several timelines, the one to import.")
    rate = serializers.RegexField(r"^\d+(\.\d+)?(/\d+)?$", required=False,
                                  help_text="Frame rate of an EDL's timecodes, e.g. 24, 25, 23.976, 29.97, "
                                            "30000/1001.")

    def validate_rate(self, value: str) -> Fraction:
        try:
            return frame_rate_parse(value)
        except ValueError as error:
            raise serializers.ValidationError(str(error)) from None


class CutSerializer(serializers.ModelSerializer):
    report = serializers.JSONField(read_only=True, help_text="What the import did: shots created, matched "
                                                             "(trimmed, moved), removed; unmatched events.")

    class Meta:
        model = Cut
        fields = ["id", "sequence", "name", "file_name", "checksum_sha256", "frame_rate_num", "frame_rate_den",
                  "created_at", "report"]


class JobSerializer(serializers.ModelSerializer):
    eta_seconds = serializers.SerializerMethodField()
    state_label = serializers.CharField(source="get_state_display", read_only=True)

    class Meta:
        model = Job
        fields = ["id", "fix_request", "stage", "state", "state_label", "frames_done", "frames_total", "eta_seconds", "error", "worker",
                  "attempts", "cancel_requested_at", "created_at", "started_at", "finished_at"]

    def get_eta_seconds(self, job) -> float | None:
        return job_eta_seconds(job)


class FixRequestSerializer(serializers.ModelSerializer):
    run = serializers.BooleanField(default=False, write_only=True,
                                   help_text="Queue its first job at once (needs the role that runs jobs); "
                                             "false files a draft that waits for Run.")

    class Meta:
        model = FixRequest
        fields = ["id", "shot", "kind", "frame_in", "frame_out", "reference_shot", "parameters", "description",
                  "assignee", "due_date", "mask", "status", "alteration", "alteration_reason", "performers",
                  "likeness_screening", "mask_strokes", "created_at", "run"]
        read_only_fields = ["status", "alteration", "alteration_reason", "performers", "likeness_screening",
                            "mask_strokes", "created_at"]


class MaskStrokeSerializer(serializers.Serializer):
    """A correction stroke on a fix request's mask (checked by ``services.fix_requests.clean_stroke``)."""

    frame = serializers.JSONField(help_text="The clip frame painted on, one of the fix request's frames.")
    mode = serializers.JSONField(help_text='"add" puts the painted pixels in the mask, "subtract" takes them out.')
    points = serializers.JSONField(help_text="The brush path, [[x, y], ...] in the clip's pixels.")
    radius = serializers.JSONField(help_text="The brush radius, pixels.")


class MaskSequenceSerializer(serializers.Serializer):
    """A fix request's mask sequence: its strokes, its newest mask job and where its frames are."""

    strokes = serializers.JSONField(help_text="The correction strokes, in the order painted.")
    job = JobSerializer(allow_null=True, help_text="The newest mask job; its masks are the fix's once it succeeded.")
    frame_url = serializers.CharField(allow_null=True,
                                      help_text="URL of frame N's mask (PNG 0/255) with {frame} for N, once it succeeded.")


class ContinuityFindingSerializer(serializers.ModelSerializer):
    shot = serializers.IntegerField(source="fix_request.shot_id", read_only=True,
                                    help_text="The checked shot (take B); boxes are in its pixels.")
    reference_shot = serializers.IntegerField(source="fix_request.reference_shot_id", read_only=True,
                                              help_text="The shot it was checked against (take A).")
    follow_ups = serializers.SerializerMethodField(help_text="Fix kinds this finding can become.")

    class Meta:
        model = ContinuityFinding
        fields = ["id", "fix_request", "job", "shot", "reference_shot", "kind", "frames_a", "frames_b", "box",
                  "confidence", "details", "follow_up", "follow_ups", "created_at"]

    def get_follow_ups(self, finding) -> list[str]:
        return list(FOLLOW_UPS[finding.kind])


class FindingFixSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=[FixKind.OBJECT_REMOVAL, FixKind.RELIGHT],
                                   help_text="The fix to file from the finding (see its follow_ups).")
    run = serializers.BooleanField(default=False, write_only=True,
                                   help_text="Queue its first job at once (needs the role that runs jobs); "
                                             "false files a draft that waits for Run.")


class FixRequestClassificationSerializer(serializers.Serializer):
    """The supervisor's classification of a fix request (see ``fix_request_classify``)."""

    alteration = serializers.ChoiceField(choices=Alteration.choices)
    performers = serializers.ListField(child=IdField(), required=False, default=list,
                                       help_text="Ids of the production's performers the fix affects.")
    reason = serializers.CharField(required=False, allow_blank=True, default="",
                                   help_text="Required to lower a digital alteration to routine.")


class ContinuityChecksSerializer(serializers.Serializer):
    shots = serializers.ListField(child=IdField(), min_length=2, max_length=1000,
                                  help_text="Ids of the shots of a scene: each is checked against the one before it "
                                            "in the cut.")
    run = serializers.BooleanField(default=False, write_only=True,
                                   help_text="Queue its first job at once (needs the role that runs jobs); "
                                             "false files a draft that waits for Run.")


class AssignmentSerializer(serializers.Serializer):
    shots = serializers.ListField(child=IdField(), min_length=1, max_length=1000,
                                  help_text="Ids of shots whose fix requests still in work are assigned.")
    assignee = IdField(allow_null=True, help_text="User id of a member; null to unassign.")


class ProposalSerializer(serializers.ModelSerializer):
    version_label = serializers.CharField(read_only=True)
    measurements = serializers.SerializerMethodField(
        help_text="The metrics in words and units ([{key, label, value}]), as the review panel shows them.")

    class Meta:
        model = Proposal
        fields = ["id", "fix_request", "job", "version", "version_label", "status", "frame_in", "frame_out",
                  "region_fraction", "metrics", "measurements", "parameters", "method", "created_at"]

    def get_measurements(self, proposal: Proposal) -> list[dict[str, str]]:
        return measurements.describe(proposal.metrics)


class ReviewDecisionSerializer(serializers.ModelSerializer):
    decision = serializers.ChoiceField(choices=Decision.choices)
    note = serializers.CharField(required=False, allow_blank=True, default="")
    proposal_status = serializers.CharField(source="proposal.status", read_only=True)
    proposal_status_label = serializers.CharField(source="proposal.get_status_display", read_only=True)

    class Meta:
        model = ReviewDecision
        fields = ["id", "proposal", "director", "decision", "note", "created_at", "proposal_status",
                  "proposal_status_label"]
        read_only_fields = ["proposal", "director", "created_at"]


class LookModelSerializer(serializers.ModelSerializer):
    class Meta:
        model = LookModel
        fields = ["id", "version", "name", "lineage", "measurements", "parameters", "trained_by", "created_at"]


class LookModelTrainSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    pairs = serializers.ListField(
        child=serializers.ListField(child=IdField(), min_length=2, max_length=2),
        min_length=1, help_text="[[camera original shot id, graded shot id], ...] — same frames in each pair.",
    )
    parameters = serializers.DictField(required=False, default=dict)


class LearnedModelSerializer(serializers.ModelSerializer):
    """A learned model (inpainting or upscale) and its training: progress while it trains; once
    trained its version, lineage and held-out figures (the model's beside the classical baseline's)."""

    label = serializers.CharField(read_only=True)
    state_label = serializers.CharField(source="get_state_display", read_only=True)
    shots = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)

    class Meta:
        model = LearnedModel
        fields = ["id", "kind", "version", "label", "name", "shots", "state", "state_label", "steps_done",
                  "steps_total", "error", "parameters", "lineage", "measurements", "beats_classical",
                  "training_seconds", "device", "engine_version", "trained_by", "created_at", "started_at",
                  "finished_at"]


class LearnedModelTrainSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=LearnedModelKind.choices)
    name = serializers.CharField(max_length=200)
    shots = serializers.ListField(child=IdField(), min_length=1, help_text="Ids of the production's shots to learn from.")
    parameters = serializers.DictField(
        required=False, default=dict,
        help_text="The engine's training parameters (inpaint: steps, frames_per_clip, …; upscale: iterations, "
                  "scales, …); missing ones take their defaults.")


class ProductionSecuritySerializer(serializers.Serializer):
    require_mfa = serializers.BooleanField(
        help_text="Members see the production only when signed in with a second factor (TOTP).")


class ApiTokenSerializer(serializers.Serializer):
    exists = serializers.BooleanField(read_only=True)
    created = serializers.DateTimeField(read_only=True, allow_null=True)
    key = serializers.CharField(read_only=True, required=False, help_text="Only in the answer that made it.")


class DeliveryRequestSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=sorted(DELIVERY_FORMATS),
                                     help_text=f"Media format of the deliverables (usually {DEFAULT_FORMAT}).")


class DeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = Delivery
        fields = ["id", "number", "format", "status", "versions_done", "versions_total", "folder", "manifest",
                  "notes", "error", "report", "created_at", "delivered_at"]


class PlaylistItemSerializer(serializers.Serializer):
    """One version in a playlist, at ``position`` (from 0)."""

    id = serializers.IntegerField(read_only=True)
    position = serializers.IntegerField(read_only=True)
    proposal = serializers.IntegerField(source="proposal_id", read_only=True)
    version = serializers.CharField(source="proposal.version_label", read_only=True)
    status = serializers.CharField(source="proposal.status", read_only=True)
    fix_request = serializers.IntegerField(source="proposal.fix_request_id", read_only=True)
    fix_kind = serializers.CharField(source="proposal.fix_request.kind", read_only=True)
    shot = serializers.CharField(source="proposal.fix_request.shot.code", read_only=True)


class PlaylistSerializer(serializers.Serializer):
    """A dailies playlist with its items in order."""

    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    source = serializers.CharField(read_only=True)
    source_filter = serializers.JSONField(read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, default="")
    created_at = serializers.DateTimeField(read_only=True)
    items = PlaylistItemSerializer(many=True, read_only=True, source="ordered_items")


class BoardFilterSerializer(serializers.Serializer):
    """The shot board's filters, as in its query string (all optional)."""

    status = serializers.CharField(required=False, allow_blank=True, max_length=32)
    assignee = serializers.CharField(required=False, allow_blank=True, max_length=150)
    kind = serializers.CharField(required=False, allow_blank=True, max_length=32, help_text="A fix kind, e.g. color_match.")
    q = serializers.CharField(required=False, allow_blank=True, max_length=200)


class PlaylistCreateSerializer(serializers.Serializer):
    """A new playlist, filled from at most one of ``board_filter``, ``fix_requests`` (the newest
    version of each) or ``proposals`` (versions, in order); none: an empty playlist."""

    name = serializers.CharField(max_length=200)
    board_filter = BoardFilterSerializer(required=False)
    fix_requests = serializers.ListField(child=IdField(), required=False, max_length=500)
    proposals = serializers.ListField(child=IdField(), required=False, max_length=500)


class PlaylistAddSerializer(serializers.Serializer):
    """Versions to append to the playlist, in order."""

    proposals = serializers.ListField(child=IdField(), min_length=1, max_length=500)


class PlaylistOrderSerializer(serializers.Serializer):
    """Every item id of the playlist, once each, in the new order."""

    items = serializers.ListField(child=IdField(), max_length=500)


class ShareGuestSerializer(serializers.Serializer):
    """One arrival through a share link: the name the guest gave, and when."""

    name = serializers.CharField(read_only=True)
    arrived_at = serializers.DateTimeField(source="created_at", read_only=True)


class ShareLinkSerializer(serializers.Serializer):
    """A share link (never its token: that is shown once, as ``url``, when it is made).
    ``state``: ``live``, ``expired`` or ``revoked``."""

    id = serializers.IntegerField(read_only=True)
    scope = serializers.CharField(read_only=True, help_text="proposal (one version) or playlist.")
    proposal = serializers.IntegerField(source="proposal_id", read_only=True, allow_null=True)
    playlist = serializers.IntegerField(source="playlist_id", read_only=True, allow_null=True)
    label = serializers.CharField(read_only=True)
    password = serializers.SerializerMethodField(help_text="Whether the link asks for a password.")
    expires_at = serializers.DateTimeField(read_only=True)
    state = serializers.SerializerMethodField()
    created_by = serializers.CharField(source="created_by.username", read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    revoked_at = serializers.DateTimeField(read_only=True, allow_null=True)
    revoked_by = serializers.CharField(source="revoked_by.username", read_only=True, default=None, allow_null=True)
    guests = ShareGuestSerializer(many=True, read_only=True)

    def get_password(self, link) -> bool:
        return bool(link.password_hash)

    def get_state(self, link) -> str:
        from django.utils import timezone

        if link.revoked_at is not None:
            return "revoked"
        return "expired" if link.expires_at <= timezone.now() else "live"


class ShareLinkMadeSerializer(ShareLinkSerializer):
    """A share link just made, with its address — shown this once; only its SHA-256 is kept."""

    url = serializers.CharField(read_only=True)


class ShareLinkCreateSerializer(serializers.Serializer):
    """A share link to one version (``proposal``) or one playlist (``playlist``): exactly one."""

    proposal = IdField(required=False, help_text="A version of this production.")
    playlist = IdField(required=False, help_text="A playlist of this production.")
    days = serializers.FloatField(min_value=0.0, max_value=366.0,
                                  help_text="How long the link is valid, in days (one hour to "
                                            "LOUPE_SHARE_LINK_MAX_DAYS).")
    password = serializers.CharField(required=False, allow_blank=True, max_length=128, write_only=True,
                                     help_text="Optional; 8 characters or more.")
    label = serializers.CharField(required=False, allow_blank=True, max_length=200,
                                  help_text="Who it is for (e.g. 'studio notes').")


class NotificationSerializer(serializers.Serializer):
    """One notification of the signed-in person."""

    id = serializers.IntegerField(read_only=True)
    kind = serializers.CharField(read_only=True)
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    production = serializers.CharField(source="production.code", read_only=True)
    text = serializers.CharField(read_only=True)
    url = serializers.CharField(read_only=True, help_text="Where to look: a path on the portal.")
    created_at = serializers.DateTimeField(read_only=True)
    read_at = serializers.DateTimeField(read_only=True, allow_null=True)


class NotificationsReadSerializer(serializers.Serializer):
    """Which of one's notifications to mark read: ``ids``, or all unread ones when absent."""

    ids = serializers.ListField(child=IdField(), required=False, max_length=1000)


class NotificationsMarkedSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text="How many notifications were unread and are now read.")


class NotificationChannelsSerializer(serializers.Serializer):
    """One kind's channels: in the portal, by email."""

    in_app = serializers.BooleanField()
    email = serializers.BooleanField()


class NotificationPreferencesSerializer(serializers.Serializer):
    """Per notification kind, in the portal and/or by email; emails at once or in a daily digest.
    In a PATCH every part is optional: kinds not named keep their setting."""

    kinds = serializers.DictField(child=NotificationChannelsSerializer(), required=False,
                                  help_text=f"kind → {{in_app, email}}; kinds: {', '.join(NotificationKind.values)}.")
    email_delivery = serializers.ChoiceField(choices=EmailDelivery.choices, required=False)
