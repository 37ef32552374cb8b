"""Admin: for administrators to inspect and fix data. The audit trail is read-only here."""
from django.contrib import admin
from django.db import transaction

from . import models
from .services.audit import audit_record


class MembershipInline(admin.TabularInline):
    model = models.Membership
    extra = 0


@admin.register(models.Production)
class ProductionAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "require_mfa", "review_watermark", "created_at"]
    # Changed through services.productions.production_set_review_watermark, which audits it.
    readonly_fields = ["review_watermark"]
    inlines = [MembershipInline]

    @transaction.atomic
    def save_model(self, request, obj, form, change):
        """An administrator changing "require MFA of members" is in the production's audit trail."""
        super().save_model(request, obj, form, change)
        if change and "require_mfa" in form.changed_data:
            audit_record(production=obj, actor=request.user, action="production.require_mfa", target=obj,
                         payload={"require_mfa": obj.require_mfa, "via": "admin"})


@admin.register(models.Performer)
class PerformerAdmin(admin.ModelAdmin):
    list_display = ["name", "production", "user"]
    list_filter = ["production"]


@admin.register(models.Clip)
class ClipAdmin(admin.ModelAdmin):
    list_display = ["name", "production", "codec", "width", "height", "frame_count", "start_timecode"]
    list_filter = ["production"]
    readonly_fields = ["source_path", "checksum_sha256", "size_bytes"]


@admin.register(models.Shot)
class ShotAdmin(admin.ModelAdmin):
    list_display = ["code", "production", "clip", "source_in", "source_out"]
    list_filter = ["production"]


@admin.register(models.FixRequest)
class FixRequestAdmin(admin.ModelAdmin):
    list_display = ["id", "production", "shot", "kind", "frame_in", "frame_out", "status", "assignee"]
    list_filter = ["production", "kind", "status"]


@admin.register(models.Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["id", "production", "fix_request", "state", "frames_done", "frames_total", "worker"]
    list_filter = ["production", "state"]


@admin.register(models.Proposal)
class ProposalAdmin(admin.ModelAdmin):
    list_display = ["id", "production", "fix_request", "version", "status", "created_at"]
    list_filter = ["production", "status"]


@admin.register(models.ReviewDecision)
class ReviewDecisionAdmin(admin.ModelAdmin):
    list_display = ["id", "production", "proposal", "director", "decision", "created_at"]
    list_filter = ["production", "decision"]


@admin.register(models.AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Append-only: nobody adds, changes or deletes events here."""

    list_display = ["id", "created_at", "production", "actor", "action", "target_type", "target_id"]
    list_filter = ["production", "action"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(models.LookModel)
class LookModelAdmin(admin.ModelAdmin):
    list_display = ["production", "version", "name", "trained_by", "created_at"]
    list_filter = ["production"]
    readonly_fields = ["cube_path", "lineage", "measurements", "parameters"]
