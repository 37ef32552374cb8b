"""Admin: for administrators to inspect the data, and to set up productions and their people.

The admin is no way around the services, the roles or the audit trail (issue #23, hole 1):
only staff signed in with a second factor reach it (``portal.admin_site``); the work itself —
footage, shots, fix requests, jobs, proposals, decisions, looks, the audit trail — is
read-only here and changes only through the portal, where each change is checked and audited;
what an administrator may set up (productions, memberships, performers, a production's
"require MFA") goes through the same services as everywhere else and is audited.
"""
from django.contrib import admin
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from . import models
from .services.accounts import totp_device_reset_by_administrator
from .services.productions import (membership_add, membership_remove, performer_save, production_create,
                                   production_require_mfa_by_administrator)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shown, never added, changed or deleted here: the model changes only through its services."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class MembershipInline(admin.TabularInline):
    """Roles are added and taken away (``membership_add`` / ``membership_remove``, audited); a
    role is changed by taking it away and adding another. ``granted_by_issuer`` shows the roles the
    studio's identity provider gave (its next sign-in may take them away)."""

    model = models.Membership
    extra = 0
    fields = ["user", "role", "granted_by_issuer"]
    readonly_fields = ["granted_by_issuer"]

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(models.Production)
class ProductionAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "require_mfa", "review_watermark", "created_at"]
    # The watermark is changed through services.productions.production_set_review_watermark.
    readonly_fields = ["review_watermark"]
    inlines = [MembershipInline]

    def get_readonly_fields(self, request, obj=None):
        # Once made, only "require MFA of members" is set here.
        return ["code", "name", "review_watermark"] if obj is not None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if not change:
            created = production_create(code=obj.code, name=obj.name, actor=request.user)
            obj.pk, obj.created_at, obj._state = created.pk, created.created_at, created._state
            if obj.require_mfa:
                production_require_mfa_by_administrator(production=created, administrator=request.user, required=True)
        elif "require_mfa" in form.changed_data:
            production_require_mfa_by_administrator(production=obj, administrator=request.user,
                                                    required=obj.require_mfa)

    def save_formset(self, request, form, formset, change):
        for membership in formset.save(commit=False):
            membership_add(production=form.instance, user=membership.user, role=membership.role, actor=request.user)
        for membership in formset.deleted_objects:
            membership_remove(membership=membership, actor=request.user)


@admin.register(models.Performer)
class PerformerAdmin(admin.ModelAdmin):
    list_display = ["name", "production", "user", "representative"]
    list_filter = ["production"]

    def get_readonly_fields(self, request, obj=None):
        return ["production"] if obj is not None else []

    def save_model(self, request, obj, form, change):
        performer_save(performer=obj, actor=request.user, fields=form.changed_data)

    def has_delete_permission(self, request, obj=None):
        return False  # consent requests and fix requests name the performer


@admin.register(models.Clip)
class ClipAdmin(ReadOnlyAdmin):
    list_display = ["name", "production", "codec", "width", "height", "frame_count", "start_timecode"]
    list_filter = ["production"]


@admin.register(models.Shot)
class ShotAdmin(ReadOnlyAdmin):
    list_display = ["code", "production", "clip", "source_in", "source_out"]
    list_filter = ["production"]


@admin.register(models.FixRequest)
class FixRequestAdmin(ReadOnlyAdmin):
    list_display = ["id", "production", "shot", "kind", "frame_in", "frame_out", "status", "assignee"]
    list_filter = ["production", "kind", "status"]


@admin.register(models.Job)
class JobAdmin(ReadOnlyAdmin):
    list_display = ["id", "production", "fix_request", "state", "frames_done", "frames_total", "worker"]
    list_filter = ["production", "state"]


@admin.register(models.Proposal)
class ProposalAdmin(ReadOnlyAdmin):
    list_display = ["id", "production", "fix_request", "version", "status", "created_at"]
    list_filter = ["production", "status"]


@admin.register(models.ReviewDecision)
class ReviewDecisionAdmin(ReadOnlyAdmin):
    list_display = ["id", "production", "proposal", "director", "decision", "created_at"]
    list_filter = ["production", "decision"]


@admin.register(models.AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Append-only: nobody adds, changes or deletes events here."""

    list_display = ["id", "created_at", "production", "actor", "action", "target_type", "target_id"]
    list_filter = ["production", "action"]


@admin.register(models.LookModel)
class LookModelAdmin(ReadOnlyAdmin):
    list_display = ["production", "version", "name", "trained_by", "created_at"]
    list_filter = ["production"]


@admin.register(models.LearnedModel)
class LearnedModelAdmin(ReadOnlyAdmin):
    """Trainings and their models change only through ``services.learned_models`` and the worker."""

    list_display = ["production", "kind", "version", "name", "state", "beats_classical", "trained_by", "created_at"]
    list_filter = ["production", "kind", "state"]


admin.site.unregister(TOTPDevice)


@admin.register(TOTPDevice)
@admin.register(WebAuthnCredential)
class SecondFactorAdmin(ReadOnlyAdmin):
    """People's authenticator apps and passkeys: never made or changed here (a person sets up
    their own, and replacing one needs a current code), never showing a secret. Deleting one is
    the way back in for someone who lost their phone or key; it removes all of the person's
    second factors, is audited and the person is told (``totp_device_reset_by_administrator``)."""

    list_display = ["user", "name", "confirmed", "created_at", "last_used_at"]
    fields = list_display

    def has_delete_permission(self, request, obj=None):
        return True

    def delete_model(self, request, obj):
        totp_device_reset_by_administrator(user=obj.user, administrator=request.user)

    def delete_queryset(self, request, queryset):
        for user in {device.user for device in queryset.select_related("user")}:
            totp_device_reset_by_administrator(user=user, administrator=request.user)


@admin.register(models.SingleSignOnIdentity)
class SingleSignOnIdentityAdmin(ReadOnlyAdmin):
    """Who signs in as whom through the studio's provider: made by the first sign-in
    (``sso_sign_in``), never here."""

    list_display = ["user", "issuer", "subject", "signed_in_at"]
