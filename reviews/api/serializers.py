"""Serialisers: shapes of the API's input and output."""
from rest_framework import serializers

from reviews.models import Clip, Decision, FixRequest, Job, Production, Proposal, ReviewDecision, Shot
from reviews.services.jobs import job_eta_seconds


class ProductionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Production
        fields = ["code", "name", "created_at"]


class ClipSerializer(serializers.ModelSerializer):
    class Meta:
        model = Clip
        fields = ["id", "name", "source_path", "checksum_sha256", "size_bytes", "codec", "pixel_format", "width",
                  "height", "frame_rate_num", "frame_rate_den", "frame_count", "start_timecode", "created_at"]


class ClipIngestSerializer(serializers.Serializer):
    path = serializers.CharField(help_text="Server-side path of a video file or image-sequence folder.")


class ShotSerializer(serializers.ModelSerializer):
    class Meta:
        model = Shot
        fields = ["id", "code", "clip", "source_in", "source_out"]


class JobSerializer(serializers.ModelSerializer):
    eta_seconds = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = ["id", "fix_request", "state", "frames_done", "frames_total", "eta_seconds", "error", "worker",
                  "attempts", "cancel_requested_at", "created_at", "started_at", "finished_at"]

    def get_eta_seconds(self, job) -> float | None:
        return job_eta_seconds(job)


class FixRequestSerializer(serializers.ModelSerializer):
    class Meta:
        model = FixRequest
        fields = ["id", "shot", "kind", "frame_in", "frame_out", "reference_shot", "parameters", "description",
                  "assignee", "status", "created_at"]
        read_only_fields = ["status", "created_at"]


class ProposalSerializer(serializers.ModelSerializer):
    version_label = serializers.CharField(read_only=True)

    class Meta:
        model = Proposal
        fields = ["id", "fix_request", "job", "version", "version_label", "status", "frame_in", "frame_out",
                  "region_fraction", "metrics", "parameters", "method", "created_at"]


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
