"""Grow a production to a given size with ``bulk_create``, fast: shots on one of its real clips,
fix requests (some assigned to the artist, some naming a performer), each with a finished job and
a version, review notes on the versions, and audit events — hash-chained exactly as
``reviews.services.audit.audit_record`` chains them, so ``verify_audit`` still passes. For
``bench/scale.py`` and the query-count tests (``tests/reviews/test_query_counts.py``); not for
real productions. Not a quality bench: it measures no engine output, so it has no tuning or
evaluation split of the footage (it only reads one real clip's facts)."""
import datetime
import itertools

from django.db import transaction
from django.utils import timezone

from reviews.models import (AuditEvent, Clip, FixKind, FixRequest, FixRequestStatus, Job, JobState, Performer,
                            Production, Proposal, ProposalStatus, ReviewNote, Shot)
from reviews.services.audit import GENESIS_HASH, _event_hash

BATCH = 2000
STATUSES = [FixRequestStatus.OPEN, FixRequestStatus.IN_PROGRESS, FixRequestStatus.IN_REVIEW,
            FixRequestStatus.APPROVED, FixRequestStatus.REJECTED]


def grow(production: Production, *, clip: Clip, people: dict, shots: int = 0, fix_requests: int = 0,
         notes: int = 0, events: int = 0) -> dict[str, int]:
    """Add ``shots`` shots, ``fix_requests`` fix requests (each with a succeeded job and a v001
    proposal; every third assigned to ``people["artist"]``, every fifth naming a performer),
    ``notes`` review notes and ``events`` audit events to ``production``. ``people`` maps roles
    to users (supervisor, artist, director). Returns how many of each were added."""
    now = timezone.now()
    with transaction.atomic():
        first = production.shots.count()
        made_shots = Shot.objects.bulk_create(
            [Shot(production=production, clip=clip, code=f"SC{(first + i) // 10:04d}_{(first + i) % 10 * 10:04d}",
                  source_in=0, source_out=min(clip.frame_count, 24), cut_order=first + i, reel=clip.reel)
             for i in range(shots)], batch_size=BATCH)
        all_shots = list(production.shots.order_by("pk")) if fix_requests else []
        performer = production.performers.first() or Performer.objects.create(production=production,
                                                                              name="Scale Performer")
        made_fixes = FixRequest.objects.bulk_create(
            [FixRequest(production=production, shot=all_shots[i % len(all_shots)], kind=FixKind.COLOR_MATCH,
                        frame_in=0, frame_out=min(clip.frame_count, 24),
                        reference_shot=all_shots[(i + 1) % len(all_shots)], parameters={"method": "mkl"},
                        status=STATUSES[i % len(STATUSES)],
                        assignee=people["artist"] if i % 3 == 0 else None,
                        due_date=(now + datetime.timedelta(days=i % 40)).date() if i % 2 else None,
                        created_by=people["supervisor"])
             for i in range(fix_requests)], batch_size=BATCH)
        FixRequest.performers.through.objects.bulk_create(
            [FixRequest.performers.through(fixrequest_id=fix.pk, performer_id=performer.pk)
             for fix in made_fixes[::5]], batch_size=BATCH)
        jobs = Job.objects.bulk_create(
            [Job(production=production, fix_request=fix, state=JobState.SUCCEEDED, frames_done=24, frames_total=24,
                 attempts=1, worker="scale@bench", created_by=people["supervisor"], started_at=now, finished_at=now)
             for fix in made_fixes], batch_size=BATCH)
        proposals = Proposal.objects.bulk_create(
            [Proposal(production=production, fix_request=fix, job=job, version=1, status=ProposalStatus.IN_REVIEW,
                      frame_in=0, frame_out=fix.frame_out, media_dir=f"proposals/job-{job.pk}", region_fraction=1.0,
                      metrics={"delta_e2000_mean": 1.0}, parameters=fix.parameters, method="bench")
             for fix, job in zip(made_fixes, jobs)], batch_size=BATCH)
        if notes:
            on = proposals or list(Proposal.objects.filter(production=production)[:1000])
            ReviewNote.objects.bulk_create(
                [ReviewNote(production=production, proposal=on[i % len(on)], frame=i % 24, text=f"note {i}",
                            author=people["director"]) for i in range(notes)], batch_size=BATCH)
        _chain_events(production, people, events, now)
    return {"shots": len(made_shots), "fix_requests": len(made_fixes), "proposals": len(proposals), "notes": notes,
            "events": events}


def _chain_events(production: Production, people: dict, count: int, now: datetime.datetime) -> None:
    """``count`` audit events appended to the production's chain, hashed as ``audit_record`` hashes."""
    previous = (AuditEvent.objects.filter(production=production).order_by("-id").values_list("hash", flat=True)
                .first() or GENESIS_HASH)
    actors = itertools.cycle([people["supervisor"], people["artist"], people["director"]])
    rows = []
    for i in range(count):
        actor = next(actors)
        fields = dict(production_id=production.pk, actor_id=actor.pk, action=("media.view", "note.create",
                      "fix_request.assign")[i % 3], target_type="reviews.shot", target_id=str(i),
                      payload={"n": i})
        created_at = now + datetime.timedelta(microseconds=i)
        digest = _event_hash(previous_hash=previous, created_at=created_at.isoformat(), **fields)
        rows.append(AuditEvent(previous_hash=previous, hash=digest, created_at=created_at, **fields))
        previous = digest
        if len(rows) == BATCH:
            AuditEvent.objects.bulk_create(rows)
            rows = []
    AuditEvent.objects.bulk_create(rows)
