"""API views, all under ``/api/productions/<code>/``: the production is resolved from the
person's memberships first, and every object is fetched within it — never by id alone."""
import re

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, generics, parsers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from reviews import authz, selectors
from reviews.errors import NotAllowed, ServiceError, TooLarge
from reviews.models import (Clip, ClipIngest, ContinuityFinding, Cut, Delivery, FixRequest, Job, JobState, LearnedModel, LookModel,
                            Notification, NotificationKind, Playlist, Production, ReviewDecision, ShareLink, Shot)
from reviews.services.access import access_denied_record
from reviews.services.accounts import api_token_create, api_token_revoke
from reviews.services.clips import (clip_ingest_server_file, clip_ingest_url, clip_set_input_colorspace,
                                    clip_upload, upload_request_check)
from reviews.services.consent import fix_request_classify
from reviews.services.deliveries import delivery_submit
from reviews.services.editorial import clip_bin_import, cut_import, is_bin
from reviews.services.findings import continuity_checks_file, finding_file_fix
from reviews.services.fix_requests import (fix_request_create, fix_request_mask_propagate, fix_request_mask_stroke,
                                          fix_request_mask_stroke_undo, fix_requests_assign)
from reviews.services.jobs import job_cancel, job_retry, job_submit
from reviews.services.learned_models import learned_model_cancel, learned_model_request
from reviews.services.ocio_configs import colorspace_names_of, production_set_ocio_config
from reviews.services.productions import production_require_mfa
from reviews.services.proposals import proposal_decide
from reviews.tasks import look_model_train_run

from . import filters, serializers
from .pagination import NewestFirstCursor


class ProductionScoped:
    """Resolves ``self.production`` from the URL among the person's productions (404 otherwise),
    then checks the ``authz`` action ``actions`` names for the request's method (403 otherwise) —
    before the body is parsed or any object looked up, so that a person without the role learns
    nothing from validation errors or object states. A member of a production that requires
    multi-factor sign-in, signed in without it, gets 403 saying so. Every refusal is audited
    (``services.access.access_denied_record``)."""

    #: HTTP method → the ``authz`` action it takes (methods not listed: any member).
    actions: dict[str, str] = {}

    def initial(self, request, *args, **kwargs):
        try:
            super().initial(request, *args, **kwargs)
        except (exceptions.NotAuthenticated, exceptions.AuthenticationFailed, exceptions.PermissionDenied):
            self._denied(request, kwargs["code"], "not signed in")
            raise
        production = selectors.production_for(request.user, kwargs["code"])
        if production is None:
            locked = selectors.productions_locked_for(request.user).filter(code=kwargs["code"]).first()
            self._denied(request, kwargs["code"], "second factor" if locked else "not a member")
            if locked is not None:
                authz.require_second_factor(request.user, locked)
            raise Http404("No such production among yours.")
        self.production: Production = production
        action = self.actions.get(request.method)
        if action is not None:
            try:
                authz.require(request.user, production, action)
            except NotAllowed:
                self._denied(request, kwargs["code"], "role")
                raise

    def production_shots(self, ids: list[int]) -> list[Shot]:
        """The shots ``ids`` name, all of this production's; else ``ServiceError`` (an id of
        another production is refused like one that does not exist)."""
        shots = list(self.production.shots.filter(pk__in=ids))
        if len(shots) != len(set(ids)):
            raise ServiceError("A shot id is not one of this production's shots.")
        return shots

    @staticmethod
    def _denied(request, code: str, reason: str) -> None:
        access_denied_record(actor=request.user, method=request.method, path=request.path, reason=reason,
                             production_code=code)


class ProductionList(generics.ListAPIView):
    serializer_class = serializers.ProductionSerializer

    def get_queryset(self):
        return selectors.productions_for(self.request.user)


class ClipList(ProductionScoped, generics.ListAPIView):
    serializer_class = serializers.ClipSerializer
    queryset = Clip.objects.none()  # the model, for the schema; get_queryset() scopes it
    filterset_class = filters.ClipFilter
    actions = {"POST": authz.INGEST_FOOTAGE}

    def get_queryset(self):
        return selectors.clips_of(self.production)

    @extend_schema(request=serializers.ClipIngestSerializer, responses={202: serializers.IngestSerializer})
    def post(self, request, code):
        """Ingest a file from the dailies folders on the server (``LOUPE_INGEST_ROOTS``); it stays
        where it is, read-only. A worker probes, checksums and stores it: 202 with the ingest
        (``queued``; its ``url`` in ``Location`` too) — read it again until it is ``ready`` (with
        its ``clip``) or ``failed`` (with ``error``). 403 for a path outside the dailies folders;
        400 for a path that does not exist, an empty file or a type Loupe does not ingest."""
        data = serializers.ClipIngestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ingest = clip_ingest_server_file(production=self.production, path=data.validated_data["path"],
                                         actor=request.user,
                                         input_colorspace=data.validated_data.get("input_colorspace", ""))
        return _accepted(ingest)


def _accepted(ingest: ClipIngest) -> Response:
    """202 with the ingest and its URL in ``Location``."""
    return Response(serializers.IngestSerializer(ingest).data, status=status.HTTP_202_ACCEPTED,
                    headers={"Location": clip_ingest_url(ingest)})


class IngestList(ProductionScoped, generics.ListAPIView):
    """The production's ingests, newest first: queued, running, ready (with the clip) or failed
    (with the reason)."""

    serializer_class = serializers.IngestSerializer
    queryset = ClipIngest.objects.none()  # the model, for the schema; get_queryset() scopes it
    pagination_class = NewestFirstCursor

    def get_queryset(self):
        return self.production.ingests.select_related("production", "clip")


class IngestDetail(ProductionScoped, generics.RetrieveAPIView):
    """One ingest: its state, step and bytes checksummed; its clip once ``ready``, its ``error``
    once ``failed``."""

    serializer_class = serializers.IngestSerializer

    def get_queryset(self):
        return self.production.ingests.select_related("production", "clip")


class ClipDetail(ProductionScoped, APIView):
    actions = {"PATCH": authz.INGEST_FOOTAGE}

    @extend_schema(responses={200: serializers.ClipSerializer})
    def get(self, request, code, pk):
        """One clip: its probed facts, input colour space and review proxy's state."""
        return Response(serializers.ClipSerializer(get_object_or_404(selectors.clips_of(self.production), pk=pk)).data)

    @extend_schema(request=serializers.ClipColorspaceSerializer, responses={200: serializers.ClipSerializer})
    def patch(self, request, code, pk):
        """Change the clip's input colour space (an OCIO name or alias of the production's config
        — by default the ACES studio config — or ``Rec.709``). Its review proxy is made again, and every fix request that has run on it
        gets a new job, so a new version to review; the response's clip says the new space."""
        clip = get_object_or_404(selectors.clips_of(self.production), pk=pk)
        data = serializers.ClipColorspaceSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        clip, _jobs = clip_set_input_colorspace(clip=clip, input_colorspace=data.validated_data["input_colorspace"],
                                                actor=request.user)
        return Response(serializers.ClipSerializer(clip).data)


class ProductionOcioConfig(ProductionScoped, APIView):
    parser_classes = [parsers.MultiPartParser]
    actions = {"PUT": authz.SET_OCIO_CONFIG, "DELETE": authz.SET_OCIO_CONFIG}

    def _described(self) -> dict:
        return {"config": "uploaded" if self.production.ocio_config else "ocio://studio-config-latest",
                "colorspaces": colorspace_names_of(self.production)}

    @extend_schema(responses={200: serializers.OcioConfigSerializer})
    def get(self, request, code):
        """The production's OCIO config — ``uploaded`` (its own) or the ACES studio config's URI —
        and the colour space names its clips may be read in."""
        return Response(self._described())

    @extend_schema(request={"multipart/form-data": serializers.OcioConfigUploadSerializer},
                   responses={200: serializers.OcioConfigSerializer})
    def put(self, request, code):
        """Make the uploaded ``.ocio`` file the production's config (producers and post
        supervisors). 400 naming OpenColorIO's error, or what the config lacks, and nothing
        stored, for a config Loupe cannot use."""
        data = serializers.OcioConfigUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["config"]
        production_set_ocio_config(production=self.production, data=upload.read(), actor=request.user)
        return Response(self._described())

    @extend_schema(responses={204: None})
    def delete(self, request, code):
        """Go back to the ACES studio config."""
        production_set_ocio_config(production=self.production, data=b"", actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ClipUpload(ProductionScoped, APIView):
    parser_classes = [parsers.MultiPartParser]
    actions = {"POST": authz.INGEST_FOOTAGE}

    @extend_schema(request={"multipart/form-data": serializers.ClipUploadSerializer},
                   responses={202: serializers.IngestSerializer})
    def post(self, request, code):
        """Upload a video file: stored with the production's originals, then a worker types it by
        probing, names it safely and ingests it — 202 with the ingest (``queued``; its ``url`` in
        ``Location`` too), read again until ``ready`` (with its ``clip``) or ``failed`` (with
        ``error``; the file is removed). 413 over the size limit (refused from the
        Content-Length, before the body is read); 400 for an empty file."""
        try:
            content_length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise ServiceError("Content-Length is not a number.") from None
        upload_request_check(content_length=content_length)
        data = serializers.ClipUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return _accepted(clip_upload(production=self.production, upload=data.validated_data["file"],
                                     actor=request.user))


class CutList(ProductionScoped, generics.ListAPIView):
    """The production's imported cuts, newest first, each with its import report."""

    serializer_class = serializers.CutSerializer
    queryset = Cut.objects.none()  # the model, for the schema; get_queryset() scopes it
    parser_classes = [parsers.MultiPartParser]
    actions = {"POST": authz.IMPORT_CUT}

    def get_queryset(self):
        return self.production.cuts.all()

    @extend_schema(request={"multipart/form-data": serializers.CutImportSerializer},
                   responses={201: serializers.CutSerializer})
    def post(self, request, code):
        """Import (conform) an editorial cut: EDL, OTIO, FCP7 XML, FCPXML or AAF. The response's
        ``report`` lists shots created, matched (trimmed, moved), removed, unmatched events with
        reasons, and the reader's warnings. An Avid ALE bin adds its metadata to the matching
        clips instead (response ``{"kind": "bin", "file_name", "report": {"counts", "rows"}}``)."""
        data = serializers.CutImportSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        limit = settings.LOUPE_CUT_UPLOAD_MAX_BYTES
        if upload.size > limit:
            raise TooLarge(f"{upload.name} is {upload.size} bytes; editorial files are limited to {limit} bytes.")
        if is_bin(upload.name):
            report = clip_bin_import(production=self.production, path=upload.name, data=upload.read(),
                                     actor=request.user)
            return Response({"kind": "bin", "file_name": upload.name, "report": report.as_dict()},
                            status=status.HTTP_201_CREATED)
        report = cut_import(production=self.production, path=upload.name, data=upload.read(), actor=request.user,
                            sequence=data.validated_data.get("sequence"), rate=data.validated_data.get("rate"))
        return Response(serializers.CutSerializer(report.cut).data, status=status.HTTP_201_CREATED)


class DeliveryList(ProductionScoped, generics.ListAPIView):
    """The production's deliveries, newest first, with progress while rendering (supervisors and
    producers)."""

    serializer_class = serializers.DeliverySerializer
    queryset = Delivery.objects.none()  # the model, for the schema; get_queryset() scopes it
    actions = {"GET": authz.READ_DELIVERIES, "HEAD": authz.READ_DELIVERIES, "OPTIONS": authz.READ_DELIVERIES,
               "POST": authz.DELIVER}

    def get_queryset(self):
        return self.production.deliveries.order_by("-number")

    @extend_schema(request=serializers.DeliveryRequestSerializer, responses={202: serializers.DeliverySerializer})
    def post(self, request, code):
        """Deliver the approved versions not yet delivered, as a job: 202 with the delivery
        (``rendering``; ``versions_done`` of ``versions_total`` as it goes, ``delivered`` or
        ``failed`` with ``error`` at the end). 409 when there is nothing new to deliver or another
        delivery is rendering."""
        data = serializers.DeliveryRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        delivery = delivery_submit(production=self.production, actor=request.user,
                                   delivery_format=data.validated_data["format"])
        return Response(serializers.DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class ShotList(ProductionScoped, generics.ListAPIView):
    serializer_class = serializers.ShotSerializer
    queryset = Shot.objects.none()  # the model, for the schema; get_queryset() scopes it
    filterset_class = filters.ShotFilter

    def get_queryset(self):
        return self.production.shots.all()


class FixRequestList(ProductionScoped, generics.ListCreateAPIView):
    serializer_class = serializers.FixRequestSerializer
    queryset = FixRequest.objects.none()  # the model, for the schema; get_queryset() scopes it
    filterset_class = filters.FixRequestFilter
    pagination_class = NewestFirstCursor
    actions = {"POST": authz.FILE_FIX_REQUEST}

    def get_queryset(self):
        return selectors.fix_requests_of(self.production)

    def get_serializer(self, *args, **kwargs):
        serializer = super().get_serializer(*args, **kwargs)
        if hasattr(self, "production") and not kwargs.get("many"):  # a list has no fields to narrow
            # Shots and reference shots may only be chosen from this production.
            for name in ("shot", "reference_shot"):
                serializer.fields[name].queryset = self.production.shots.all()
        return serializer

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = fix_request_create(
            production=self.production,
            actor=self.request.user,
            shot=data["shot"],
            kind=data["kind"],
            frame_in=data["frame_in"],
            frame_out=data["frame_out"],
            reference_shot=data.get("reference_shot"),
            parameters=data.get("parameters", {}),
            assignee=data.get("assignee"),
            description=data.get("description", ""),
            due_date=data.get("due_date"),
            mask=data.get("mask"),
            queue=data.get("run", False),
        )


class Assignments(ProductionScoped, generics.ListAPIView):
    """GET: the fix requests of this production assigned to you (the artist's "my assignments").
    POST: the shot board's bulk assign — every fix request still in work on the given shots goes
    to one member (supervisors)."""

    serializer_class = serializers.FixRequestSerializer
    queryset = FixRequest.objects.none()  # the model, for the schema; get_queryset() scopes it
    filterset_class = filters.FixRequestFilter
    actions = {"POST": authz.ASSIGN_FIX_REQUEST}

    def get_queryset(self):
        return selectors.assignments_of(self.request.user, production=self.production)

    @extend_schema(request=serializers.AssignmentSerializer,
                   responses={200: serializers.FixRequestSerializer(many=True)})
    def post(self, request, code):
        data = serializers.AssignmentSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        shots = self.production_shots(data.validated_data["shots"])
        user_id = data.validated_data["assignee"]
        assignee = None
        if user_id is not None:
            assignee = User.objects.filter(pk=user_id, memberships__production=self.production).distinct().first()
            if assignee is None:
                raise ServiceError(f"User {user_id} is not a member of {self.production.code}.")
        changed = fix_requests_assign(production=self.production, actor=request.user, shots=shots, assignee=assignee)
        return Response(serializers.FixRequestSerializer(changed, many=True).data)


class FixRequestClassification(ProductionScoped, APIView):
    actions = {"POST": authz.CLASSIFY_FIX_REQUEST}

    @extend_schema(request=serializers.FixRequestClassificationSerializer,
                   responses={200: serializers.FixRequestSerializer})
    def post(self, request, code, pk):
        """Classify the fix request — a routine alteration, or a digital alteration of the named
        performers' likeness or performance (each is then asked for consent). Lowering it to
        routine needs a ``reason``."""
        fix_request = get_object_or_404(self.production.fix_requests.select_related("shot__clip"), pk=pk)
        data = serializers.FixRequestClassificationSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        wanted = set(data.validated_data["performers"])
        performers = list(self.production.performers.filter(pk__in=wanted))
        if len(performers) != len(wanted):
            missing = sorted(wanted - {p.pk for p in performers})
            raise ServiceError(f"No performer(s) {', '.join(map(str, missing))} in {self.production.code}.")
        fix_request = fix_request_classify(fix_request=fix_request, actor=request.user,
                                           alteration=data.validated_data["alteration"], performers=performers,
                                           reason=data.validated_data["reason"])
        return Response(serializers.FixRequestSerializer(fix_request).data)


class JobList(ProductionScoped, generics.ListAPIView):
    serializer_class = serializers.JobSerializer
    queryset = Job.objects.none()  # the model, for the schema; get_queryset() scopes it
    filterset_class = filters.JobFilter
    pagination_class = NewestFirstCursor

    def get_queryset(self):
        return selectors.jobs_of(self.production)


class JobDetail(ProductionScoped, generics.RetrieveAPIView):
    serializer_class = serializers.JobSerializer

    def get_queryset(self):
        return selectors.jobs_of(self.production)


class FixRequestJobs(ProductionScoped, APIView):
    actions = {"POST": authz.RUN_JOB}

    @extend_schema(
        request=None,
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False,
                                     description="Send the same key again (a retry) to get the same job back.")],
        responses={201: serializers.JobSerializer, 200: serializers.JobSerializer},
    )
    def post(self, request, code, pk):
        """Run the engine for this fix request (queue ``gpu``). 201 with a new job; 200 with the
        existing one when its ``Idempotency-Key`` was seen before."""
        fix_request = get_object_or_404(self.production.fix_requests, pk=pk)
        key = request.headers.get("Idempotency-Key") or None
        if key is not None and len(key) > Job._meta.get_field("idempotency_key").max_length:
            raise ServiceError("Idempotency-Key is at most 64 characters.")
        job, created = job_submit(fix_request=fix_request, actor=request.user, idempotency_key=key)
        return Response(serializers.JobSerializer(job).data,
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


def _mask_sequence_data(fix_request: FixRequest) -> dict:
    job = selectors.mask_job_of(fix_request)
    frame_url = None
    if job is not None and job.state == JobState.SUCCEEDED:
        frame_url = reverse("frontend:mask-frame", args=[job.pk, 0]).replace("/0.png", "/{frame}.png")
    return {"strokes": fix_request.mask_strokes, "job": serializers.JobSerializer(job).data if job else None,
            "frame_url": frame_url}


class FixRequestMask(ProductionScoped, APIView):
    """A fix request's mask sequence: the object outlined on it segmented through its frames."""

    actions = {"POST": authz.FILE_FIX_REQUEST}

    @extend_schema(responses={200: serializers.MaskSequenceSerializer})
    def get(self, request, code, pk):
        """The correction strokes, the newest mask job and the URL of its mask frames."""
        fix_request = get_object_or_404(self.production.fix_requests, pk=pk)
        return Response(_mask_sequence_data(fix_request))

    @extend_schema(request=None, responses={201: serializers.MaskSequenceSerializer})
    def post(self, request, code, pk):
        """Segment the outlined object through the fix request's frames (a mask job, queue ``gpu``):
        the fix then uses that mask sequence instead of the tracked outline."""
        fix_request = get_object_or_404(self.production.fix_requests.select_related("shot__clip"), pk=pk)
        fix_request_mask_propagate(fix_request=fix_request, actor=request.user)
        return Response(_mask_sequence_data(fix_request), status=status.HTTP_201_CREATED)


class FixRequestMaskStrokes(ProductionScoped, APIView):
    actions = {"POST": authz.FILE_FIX_REQUEST}

    @extend_schema(request=serializers.MaskStrokeSerializer, responses={201: serializers.MaskSequenceSerializer})
    def post(self, request, code, pk):
        """Paint a correction stroke on one frame of the mask: that frame becomes a keyframe and
        a mask job re-propagates the mask from it. 400 naming what is wrong with the stroke."""
        fix_request = get_object_or_404(self.production.fix_requests, pk=pk)
        fix_request_mask_stroke(fix_request=fix_request, actor=request.user, stroke=request.data)
        fix_request.refresh_from_db()
        return Response(_mask_sequence_data(fix_request), status=status.HTTP_201_CREATED)


class FixRequestMaskStrokeLast(ProductionScoped, APIView):
    actions = {"DELETE": authz.FILE_FIX_REQUEST}

    @extend_schema(responses={200: serializers.MaskSequenceSerializer})
    def delete(self, request, code, pk):
        """Undo the newest correction stroke of the mask: a mask job re-propagates the mask
        without it. 400 when the mask has no stroke."""
        fix_request = get_object_or_404(self.production.fix_requests, pk=pk)
        fix_request_mask_stroke_undo(fix_request=fix_request, actor=request.user)
        fix_request.refresh_from_db()
        return Response(_mask_sequence_data(fix_request))


class ContinuityFindingList(ProductionScoped, generics.ListAPIView):
    """The production's continuity findings (filter by checked ``shot`` or check ``fix_request``)."""

    serializer_class = serializers.ContinuityFindingSerializer
    queryset = ContinuityFinding.objects.none()  # the model, for the schema; get_queryset() scopes it
    filterset_class = filters.ContinuityFindingFilter

    def get_queryset(self):
        return selectors.findings_of(self.production)


class ContinuityChecks(ProductionScoped, APIView):
    actions = {"POST": authz.FILE_FIX_REQUEST}

    @extend_schema(request=serializers.ContinuityChecksSerializer,
                   responses={201: serializers.FixRequestSerializer(many=True)})
    def post(self, request, code):
        """File a continuity check between every adjacent pair of the given shots, in cut order."""
        data = serializers.ContinuityChecksSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        shots = self.production_shots(data.validated_data["shots"])
        checks = continuity_checks_file(production=self.production, actor=request.user, shots=shots,
                                        queue=data.validated_data["run"])
        return Response(serializers.FixRequestSerializer(checks, many=True).data, status=status.HTTP_201_CREATED)


class ContinuityFindingFix(ProductionScoped, APIView):
    actions = {"POST": authz.FILE_FIX_REQUEST}

    @extend_schema(request=serializers.FindingFixSerializer, responses={201: serializers.FixRequestSerializer})
    def post(self, request, code, pk):
        """File the fix a finding calls for: an object removal with its box as the mask, or a
        relight of the checked shot to the take it was checked against."""
        finding = get_object_or_404(selectors.findings_of(self.production), pk=pk)
        body = serializers.FindingFixSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        fix_request = finding_file_fix(finding=finding, actor=request.user, kind=body.validated_data["kind"],
                                       queue=body.validated_data["run"])
        return Response(serializers.FixRequestSerializer(fix_request).data, status=status.HTTP_201_CREATED)


class JobCancel(ProductionScoped, APIView):
    actions = {"POST": authz.RUN_JOB}

    @extend_schema(request=None, responses={200: serializers.JobSerializer})
    def post(self, request, code, pk):
        """Cancel a queued or running job; a running one stops between frames."""
        job = job_cancel(job=get_object_or_404(selectors.jobs_of(self.production), pk=pk), actor=request.user)
        return Response(serializers.JobSerializer(job).data)


class JobRetry(ProductionScoped, APIView):
    actions = {"POST": authz.RUN_JOB}

    @extend_schema(request=None, responses={201: serializers.JobSerializer})
    def post(self, request, code, pk):
        """Run a failed or cancelled job's fix request again, as a new job."""
        job = job_retry(job=get_object_or_404(selectors.jobs_of(self.production), pk=pk), actor=request.user)
        return Response(serializers.JobSerializer(job).data, status=status.HTTP_201_CREATED)


class ProposalDetail(ProductionScoped, generics.RetrieveAPIView):
    serializer_class = serializers.ProposalSerializer

    def get_queryset(self):
        return self.production.proposals.all()


class ProposalDecisions(ProductionScoped, generics.ListCreateAPIView):
    """A director's decisions on a proposal: approve, reject or request changes (with a note)."""

    serializer_class = serializers.ReviewDecisionSerializer
    queryset = ReviewDecision.objects.none()  # the model, for the schema; get_queryset() scopes it
    actions = {"POST": authz.APPROVE_PROPOSAL}

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # 404 for a proposal not in this production, on reads as on writes, before the body is read.
        self.proposal = get_object_or_404(self.production.proposals.select_related("production"), pk=kwargs["pk"])

    def get_queryset(self):
        return self.production.review_decisions.filter(proposal=self.proposal)

    def perform_create(self, serializer):
        serializer.instance = proposal_decide(
            proposal=self.proposal,
            director=self.request.user,
            decision=serializer.validated_data["decision"],
            note=serializer.validated_data.get("note", ""),
        )


class LookModelList(ProductionScoped, generics.ListAPIView):
    """The production's look models, newest first."""

    serializer_class = serializers.LookModelSerializer
    queryset = LookModel.objects.none()  # the model, for the schema; get_queryset() scopes it
    actions = {"POST": authz.TRAIN_LOOK}

    def get_queryset(self):
        return self.production.look_models.all()

    @extend_schema(request=serializers.LookModelTrainSerializer, responses={202: None})
    def post(self, request, code):
        """Train the next look model from pairs of this production's shots (queue ``gpu``).
        202: it appears in this list when trained."""
        data = serializers.LookModelTrainSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        pairs = data.validated_data["pairs"]
        known = set(self.production.shots.values_list("pk", flat=True))
        unknown = sorted({shot for pair in pairs for shot in pair} - known)
        if unknown:
            raise ServiceError(f"No shot(s) {', '.join(map(str, unknown))} in {self.production.code}.")
        production_id, user_id, name = self.production.pk, request.user.pk, data.validated_data["name"]
        parameters = data.validated_data["parameters"]
        # Queued once the request's writes (if any) are committed, never from a rolled-back one.
        transaction.on_commit(lambda: look_model_train_run.delay(production_id, pairs, user_id, name, parameters))
        return Response({"detail": "Training queued; the look model appears in this list when it is trained."},
                        status=status.HTTP_202_ACCEPTED)


class LearnedModelList(ProductionScoped, generics.ListAPIView):
    """The production's learned models — inpainting (object removal) and upscale (reframe) — and
    their trainings, newest first; ``?kind=inpaint`` or ``?kind=upscale`` lists one kind."""

    serializer_class = serializers.LearnedModelSerializer
    queryset = LearnedModel.objects.none()  # the model, for the schema; get_queryset() scopes it
    actions = {"POST": authz.TRAIN_MODEL}

    def get_queryset(self):
        models = self.production.learned_models.prefetch_related("shots").order_by("-created_at", "-pk")
        kind = self.request.query_params.get("kind")
        return models.filter(kind=kind) if kind else models

    @extend_schema(request=serializers.LearnedModelTrainSerializer, responses={202: serializers.LearnedModelSerializer})
    def post(self, request, code):
        """Train the production's next model of a kind on some of its shots (queue ``gpu``).
        202 with the queued training: follow its ``steps_done`` here or on the production's
        event stream (``learned_model`` events); it gets its version when trained."""
        data = serializers.LearnedModelTrainSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        model = learned_model_request(
            production=self.production, kind=data.validated_data["kind"], name=data.validated_data["name"],
            shots=self.production_shots(data.validated_data["shots"]), actor=request.user,
            parameters=data.validated_data["parameters"])
        return Response(serializers.LearnedModelSerializer(model).data, status=status.HTTP_202_ACCEPTED)


class LearnedModelDetail(ProductionScoped, generics.RetrieveAPIView):
    serializer_class = serializers.LearnedModelSerializer

    def get_queryset(self):
        return self.production.learned_models.all()


class LearnedModelCancel(ProductionScoped, APIView):
    actions = {"POST": authz.TRAIN_MODEL}

    @extend_schema(request=None, responses={200: serializers.LearnedModelSerializer})
    def post(self, request, code, pk):
        """Cancel a queued or running training; a running one stops within a second or so and
        leaves no file. 409 once it has ended."""
        model = learned_model_cancel(learned_model=get_object_or_404(self.production.learned_models, pk=pk),
                                     actor=request.user)
        return Response(serializers.LearnedModelSerializer(model).data)


class ProductionSecurity(ProductionScoped, APIView):
    """The production's security settings: whether its members must sign in with a second factor."""

    actions = {"POST": authz.MANAGE_SECURITY}

    @extend_schema(responses={200: serializers.ProductionSecuritySerializer})
    def get(self, request, code):
        return Response(serializers.ProductionSecuritySerializer(self.production).data)

    @extend_schema(request=serializers.ProductionSecuritySerializer,
                   responses={200: serializers.ProductionSecuritySerializer})
    def post(self, request, code):
        """Producers only; turning ``require_mfa`` on needs a session (or token) with a second factor."""
        data = serializers.ProductionSecuritySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        production = production_require_mfa(production=self.production, actor=request.user,
                                             required=data.validated_data["require_mfa"])
        return Response(serializers.ProductionSecuritySerializer(production).data)


class AccountToken(APIView):
    """The signed-in person's own API token (``Authorization: Token <key>``)."""

    @extend_schema(responses={200: serializers.ApiTokenSerializer})
    def get(self, request):
        """Whether you have a token, and since when (the key itself is shown only when made)."""
        token = selectors.api_token_of(request.user)
        return Response(serializers.ApiTokenSerializer({"exists": token is not None,
                                                        "created": token.created if token else None}).data)

    @extend_schema(request=None, responses={201: serializers.ApiTokenSerializer})
    def post(self, request):
        """Make a new token, replacing yours; the response holds its key, shown this once."""
        token = api_token_create(user=request.user)
        return Response(serializers.ApiTokenSerializer({"exists": True, "created": token.created, "key": token.key}).data,
                        status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request):
        """Revoke your token (204 also when you had none)."""
        api_token_revoke(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


_ROUTE_KWARG = re.compile(r"<(?:\w+:)?(\w+)>")


class ApiIndex(APIView):
    """``/api/``: what the API offers — every endpoint with its methods and what it does, and
    where the OpenAPI schema and its browsable documentation are. For people signed in, like the
    schema: it names no data, but it maps every operation."""

    permission_classes = [IsAuthenticated]

    @extend_schema(exclude=True)
    def get(self, request):
        from . import urls  # the URLconf imports this module

        endpoints = []
        for pattern in urls.urlpatterns:
            view = pattern.callback.view_class
            if view is ApiIndex:
                continue
            methods = [m.upper() for m in view.http_method_names if m not in ("head", "options") and hasattr(view, m)]
            doc = next((getattr(view, m).__doc__ for m in ("get", "post") if getattr(getattr(view, m, None), "__doc__", None)),
                       view.__doc__) or ""
            summary = " ".join(doc.replace("``", "").split()).split(". ")[0].rstrip(".")
            endpoints.append({"path": "/api/" + _ROUTE_KWARG.sub(r"{\1}", str(pattern.pattern)), "methods": methods,
                              "description": summary or pattern.name.replace("-", " ").capitalize()})
        return Response({"schema": reverse("api-schema"), "docs": reverse("api-docs"),
                         "authentication": "A signed-in session, or the header 'Authorization: Token <key>' "
                                           "(make one at /account/security/).",
                         "endpoints": endpoints})



def _production_proposals(production: Production, ids: list[int]) -> list:
    """The versions ``ids`` name, in that order, all of ``production``'s; else ``ServiceError``."""
    found = production.proposals.in_bulk(ids)
    if len(found) != len(set(ids)):
        raise ServiceError("A proposal id is not one of this production's versions.")
    return [found[pk] for pk in ids]


def _with_items(playlist):
    playlist.ordered_items = list(selectors.playlist_items_of(playlist))
    return playlist


class PlaylistScoped(ProductionScoped):
    """Resolves ``self.playlist`` (``pk`` in the URL) within the production: 404 otherwise."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.playlist = selectors.playlist_of(self.production, kwargs["pk"])
        if self.playlist is None:
            raise Http404("No such playlist in this production.")

    def playlist_response(self, status_code=status.HTTP_200_OK):
        return Response(serializers.PlaylistSerializer(_with_items(self.playlist)).data, status=status_code)



class PlaylistList(ProductionScoped, generics.ListAPIView):
    """The production's dailies playlists, newest first, each with its items in order (paginated)."""

    serializer_class = serializers.PlaylistSerializer
    queryset = Playlist.objects.none()  # the model, for the schema; get_queryset() scopes it
    actions = {"POST": authz.MANAGE_PLAYLIST}

    def get_queryset(self):
        return selectors.playlists_of(self.production)

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer([_with_items(p) for p in page], many=True).data)

    @extend_schema(request=serializers.PlaylistCreateSerializer, responses={201: serializers.PlaylistSerializer})
    def post(self, request, code):
        """Build a playlist (post supervisors): from the shot board's filters (the newest version
        of each matching fix request, in cut order), from fix requests (the newest version of
        each) or from versions by hand. 400 when the filter or list has no version to review."""
        from reviews.services.playlists import playlist_create

        data = serializers.PlaylistCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        fix_requests = None
        if "fix_requests" in values:
            found = self.production.fix_requests.in_bulk(values["fix_requests"])
            if len(found) != len(set(values["fix_requests"])):
                raise ServiceError("A fix request id is not one of this production's.")
            fix_requests = [found[pk] for pk in values["fix_requests"]]
        proposals = _production_proposals(self.production, values["proposals"]) if "proposals" in values else None
        playlist = playlist_create(production=self.production, actor=request.user, name=values["name"],
                                   board_filter=values.get("board_filter"), fix_requests=fix_requests,
                                   proposals=proposals)
        return Response(serializers.PlaylistSerializer(_with_items(playlist)).data, status=status.HTTP_201_CREATED)


class PlaylistDetail(PlaylistScoped, APIView):
    @extend_schema(responses={200: serializers.PlaylistSerializer})
    def get(self, request, code, pk):
        """One playlist with its items in order."""
        return self.playlist_response()


class PlaylistItems(PlaylistScoped, APIView):
    actions = {"POST": authz.MANAGE_PLAYLIST}

    @extend_schema(request=serializers.PlaylistAddSerializer, responses={200: serializers.PlaylistSerializer})
    def post(self, request, code, pk):
        """Append versions to the playlist (post supervisors); those already in it stay where they are."""
        from reviews.services.playlists import playlist_add

        data = serializers.PlaylistAddSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        playlist_add(playlist=self.playlist, actor=request.user,
                     proposals=_production_proposals(self.production, data.validated_data["proposals"]))
        return self.playlist_response()


class PlaylistItemDetail(PlaylistScoped, APIView):
    actions = {"DELETE": authz.MANAGE_PLAYLIST}

    @extend_schema(responses={200: serializers.PlaylistSerializer})
    def delete(self, request, code, pk, item):
        """Take an item out of the playlist (post supervisors); the items after it move up."""
        from reviews.services.playlists import playlist_item_remove

        found = get_object_or_404(self.playlist.items.select_related("playlist__production"), pk=item)
        playlist_item_remove(item=found, actor=request.user)
        return self.playlist_response()


class PlaylistOrder(PlaylistScoped, APIView):
    actions = {"PUT": authz.MANAGE_PLAYLIST}

    @extend_schema(request=serializers.PlaylistOrderSerializer, responses={200: serializers.PlaylistSerializer})
    def put(self, request, code, pk):
        """Reorder the playlist (post supervisors): every item id, once each, in the new order."""
        from reviews.services.playlists import playlist_reorder

        data = serializers.PlaylistOrderSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        playlist_reorder(playlist=self.playlist, actor=request.user, item_ids=data.validated_data["items"])
        return self.playlist_response()


class PlaylistSummary(PlaylistScoped, APIView):
    @extend_schema(responses={200: None})
    def get(self, request, code, pk):
        """The dailies session's summary: every item with its latest decision and its notes with
        timecode, and the address of each note's annotated-frame thumbnail."""
        from reviews.dailies import playlist_summary

        items = []
        for item in playlist_summary(self.playlist):
            items.append({
                "position": item.position, "item": item.item_id, "proposal": item.proposal.pk, "shot": item.shot,
                "fix": item.fix, "version": item.version, "status": item.status, "decision": item.decision,
                "decided_by": item.decided_by, "decision_note": item.decision_note, "decided_at": item.decided_at,
                "notes": [{"id": note.id, "frame": note.frame, "timecode": note.timecode, "author": note.author,
                           "text": note.text, "reply_to": note.reply_to, "drawings": note.drawings,
                           "thumbnail": reverse("frontend:playlist-note-thumbnail",
                                                args=[self.playlist.pk, note.id])}
                          for note in item.notes]})
        return Response({"playlist": self.playlist.pk, "name": self.playlist.name, "items": items})


class ShareLinkList(ProductionScoped, generics.ListAPIView):
    """The production's share links, newest first (supervisors and producers; filter by
    ``scope``, ``proposal`` or ``playlist``), with the guests who came through each."""

    serializer_class = serializers.ShareLinkSerializer
    queryset = ShareLink.objects.none()  # the model, for the schema; get_queryset() scopes it
    filterset_class = filters.ShareLinkFilter
    actions = {"GET": authz.SHARE_WITH_GUEST, "HEAD": authz.SHARE_WITH_GUEST, "OPTIONS": authz.SHARE_WITH_GUEST,
               "POST": authz.SHARE_WITH_GUEST}

    def get_queryset(self):
        return (self.production.share_links.select_related("created_by", "revoked_by")
                .prefetch_related("guests").order_by("-created_at", "-id"))

    @extend_schema(request=serializers.ShareLinkCreateSerializer, responses={201: serializers.ShareLinkMadeSerializer})
    def post(self, request, code):
        """Make a share link to one version or one playlist (supervisors and producers). The
        answer's ``url`` is the link — shown this once; 400 for a lifetime out of bounds, a short
        password, an empty playlist, or neither / both of ``proposal`` and ``playlist``."""
        import datetime

        from reviews.services.share_links import share_link_create

        data = serializers.ShareLinkCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        proposal = playlist = None
        if "proposal" in values:
            proposal = self.production.proposals.filter(pk=values["proposal"]).first()
            if proposal is None:
                raise ServiceError("proposal: not one of this production's versions.")
        if "playlist" in values:
            playlist = selectors.playlist_of(self.production, values["playlist"])
            if playlist is None:
                raise ServiceError("playlist: not one of this production's playlists.")
        link, token = share_link_create(
            proposal=proposal, playlist=playlist, actor=request.user,
            expires_in=datetime.timedelta(days=values["days"]), password=values.get("password", ""),
            label=values.get("label", ""))
        link.url = request.build_absolute_uri(f"/share/{token}/")
        return Response(serializers.ShareLinkMadeSerializer(link).data, status=status.HTTP_201_CREATED)


class ShareLinkRevoke(ProductionScoped, APIView):
    actions = {"OPTIONS": authz.SHARE_WITH_GUEST, "POST": authz.SHARE_WITH_GUEST}

    @extend_schema(request=None, responses={200: serializers.ShareLinkSerializer})
    def post(self, request, code, pk):
        """Revoke a share link at once (supervisors and producers): its guests' next request is
        refused. 400 if it is revoked already."""
        from reviews.services.share_links import share_link_revoke

        link = get_object_or_404(self.production.share_links, pk=pk)
        link = share_link_revoke(link=link, actor=request.user)
        return Response(serializers.ShareLinkSerializer(link).data)


class NotificationList(generics.ListAPIView):
    """The signed-in person's notifications shown in the portal, newest first (filter by
    ``kind``, or ``unread=true``)."""

    serializer_class = serializers.NotificationSerializer
    queryset = Notification.objects.none()  # the model, for the schema; get_queryset() scopes it
    filterset_class = filters.NotificationFilter

    def get_queryset(self):
        return (Notification.objects.filter(recipient=self.request.user, in_app=True)
                .select_related("production").order_by("-created_at", "-id"))


class NotificationsRead(APIView):
    @extend_schema(request=serializers.NotificationsReadSerializer,
                   responses={200: serializers.NotificationsMarkedSerializer})
    def post(self, request):
        """Mark one's notifications read: those of ``ids`` (ids of others' are ignored), or
        every unread one when ``ids`` is absent."""
        from reviews.services.notifications import notifications_mark_read

        data = serializers.NotificationsReadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response({"marked": notifications_mark_read(user=request.user, ids=data.validated_data.get("ids"))})


class NotificationPreferencesView(APIView):
    @staticmethod
    def _answer(preferences):
        return Response({"kinds": {kind: {"in_app": preferences.wants(kind, "in_app"),
                                          "email": preferences.wants(kind, "email")}
                                   for kind in NotificationKind.values},
                         "email_delivery": preferences.email_delivery})

    @extend_schema(responses={200: serializers.NotificationPreferencesSerializer})
    def get(self, request):
        """One's notification preferences: every kind's channels and how emails go."""
        from reviews.services.notifications import preferences_of

        return self._answer(preferences_of(request.user.pk))

    @extend_schema(request=serializers.NotificationPreferencesSerializer,
                   responses={200: serializers.NotificationPreferencesSerializer})
    def patch(self, request):
        """Change one's notification preferences: the kinds named (others keep theirs) and/or
        ``email_delivery``. 400 for an unknown kind."""
        from reviews.services.notifications import preferences_of, preferences_update

        data = serializers.NotificationPreferencesSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        current = preferences_of(request.user.pk)
        kinds = {kind: {"in_app": current.wants(kind, "in_app"), "email": current.wants(kind, "email")}
                 for kind in NotificationKind.values}
        kinds.update(data.validated_data.get("kinds", {}))
        return self._answer(preferences_update(user=request.user, kinds=kinds, email_delivery=data.validated_data.get(
            "email_delivery", current.email_delivery)))
