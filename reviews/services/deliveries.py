"""Delivery: the production's approved versions back to editorial.

``delivery_create`` renders every final version not yet delivered (``proposal_require_final``:
approved, and consented to where consent is needed) into a folder of its own —
``<out>/<CODE>_delivery_<NNN>/`` — as deliverable media (``reviews.deliverables``: the shot's
source range with handles, at the source's resolution and frame rate, with its source timecode
and reel, named by the turnover convention), then writes beside them the lists that conform
them into the cut (OpenTimelineIO, CMX3600 EDL, Final Cut Pro 7 XML and AAF, one set per sequence:
each version on its shot's record frames), the delivery notes (precision, versions held, and
versions delivered before whose approval has since been withdrawn: to be pulled), and an ASC
MHL manifest (xxh64) of every file, which is verified after writing. Only a delivery whose
manifest verifies is marked delivered; re-running delivers only what is new.

This module is the web side: what a delivery holds, opening it, and queueing its rendering
(``delivery_submit``). The rendering, lists, notes and manifest run on a worker
(``reviews.worker.deliveries``), which this module imports only inside ``delivery_create`` — the
synchronous path of the ``deliver`` command and the tests (docs/adr/0010-light-web-processes.md).
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Max

from reviews import authz, tasks
from reviews.deliverables import DEFAULT_FORMAT, DELIVERY_FORMATS
from reviews.errors import Conflict, ServiceError
from reviews.models import DeliveredVersion, Delivery, DeliveryStatus, Production, Proposal, ProposalStatus

from .proposals import proposal_is_final, proposal_require_final


class NothingToDeliver(ServiceError):
    """Every final version is delivered already and none is to be pulled."""

    status_code = 409


class DeliveryFailed(ServiceError):
    """Rendering, the lists or the manifest failed; the delivery is recorded as failed."""

    status_code = 500


def version_name(proposal: Proposal) -> str:
    """The deliverable's name by the turnover convention ``LOUPE_DELIVERY_NAME`` (default
    ``{shot}_{fix}_v{version:03d}``: shot code, fix kind, version), e.g. ``SC012_0040_color_match_v002``.
    A shot with several fix requests of one kind gets the fix request's number after the kind."""
    fix_request = proposal.fix_request
    fix = fix_request.kind
    if fix_request.shot.fix_requests.filter(kind=fix_request.kind).count() > 1:
        fix = f"{fix}{fix_request.pk}"
    return settings.LOUPE_DELIVERY_NAME.format(shot=fix_request.shot.code, fix=fix, version=proposal.version)


def deliverable_proposals(production: Production) -> list[Proposal]:
    """Approved versions of ``production`` with no delivered delivery yet, in shot order."""
    return list(Proposal.objects.filter(production=production, status=ProposalStatus.APPROVED)
                .exclude(deliveries__delivery__status=DeliveryStatus.DELIVERED)
                .select_related("fix_request__shot__clip", "fix_request__shot__cut")
                .order_by("fix_request__shot__code", "fix_request_id", "version"))


def delivery_create(*, production: Production, actor: User, out_dir: str | Path, delivery_format: str = DEFAULT_FORMAT,
                    progress: Callable[[int, int], None] | None = None) -> Delivery:
    """Deliver ``production``'s final versions not yet delivered into a new folder under
    ``out_dir`` in ``delivery_format`` (see ``reviews.deliverables.DELIVERY_FORMATS``), in this
    process. ``progress(done, total)`` is called after each version is rendered.

    Returns the ``Delivery``, ``delivered``. Raises ``NotAllowed`` unless ``actor`` is a
    supervisor; ``ServiceError`` for an unknown format; ``Conflict`` while another delivery of
    the production is rendering; ``NothingToDeliver`` when there is nothing new to deliver or
    pull; ``DeliveryFailed`` when rendering, the lists or the manifest fail (the delivery is
    then recorded ``failed`` with the error and nothing in it counts as delivered).
    """
    from reviews.worker.deliveries import delivery_render  # the rendering, in this process (not a web request's)

    delivery = _delivery_open(production=production, actor=actor, delivery_format=delivery_format, out_dir=out_dir)
    return delivery_render(delivery=delivery, progress=progress)


def delivery_submit(*, production: Production, actor: User, delivery_format: str = DEFAULT_FORMAT) -> Delivery:
    """Open a delivery as ``delivery_create`` does, into ``LOUPE_DELIVERY_ROOT``, and queue its
    rendering as a Celery job (queue ``default``; progress on the production's event group as
    ``delivery.progress``). Returns the ``Delivery`` (``rendering``); raises as ``delivery_create``
    does before rendering."""
    delivery = _delivery_open(production=production, actor=actor, delivery_format=delivery_format,
                              out_dir=settings.LOUPE_DELIVERY_ROOT)
    transaction.on_commit(lambda: tasks.delivery_run.delay(delivery.pk))
    return delivery


def _delivery_open(*, production: Production, actor: User, delivery_format: str, out_dir: str | Path) -> Delivery:
    """Choose what a new delivery holds and record it ``rendering``: the final versions not yet
    delivered (others held, with the reason), and the delivered versions to pull."""
    authz.require(actor, production, authz.DELIVER)
    chosen = DELIVERY_FORMATS.get(delivery_format)
    if chosen is None:
        raise ServiceError(f"Unknown delivery format {delivery_format!r}; use one of {', '.join(DELIVERY_FORMATS)}.")
    ready, held = [], []
    for proposal in deliverable_proposals(production):
        try:
            proposal_require_final(proposal=proposal)
        except Conflict as error:
            held.append(f"{version_name(proposal)}: {error}")
            continue
        ready.append(proposal)
    to_pull = [delivered for delivered in DeliveredVersion.objects
               .filter(production=production, delivery__status=DeliveryStatus.DELIVERED, pulled_in=None)
               .select_related("proposal__fix_request")
               if delivered.proposal.status != ProposalStatus.APPROVED or not proposal_is_final(delivered.proposal)]
    if not ready and not to_pull:
        delivered = DeliveredVersion.objects.filter(production=production,
                                                    delivery__status=DeliveryStatus.DELIVERED).count()
        raise NothingToDeliver(f"Nothing new to deliver for {production.code}: {delivered} version(s) delivered "
                               f"already, none approved since, none to pull"
                               + (f"; held: {'; '.join(held)}" if held else "") + ".")
    out_dir = Path(out_dir).resolve()
    with transaction.atomic():
        Production.objects.select_for_update().filter(pk=production.pk).first()
        busy = production.deliveries.filter(status=DeliveryStatus.RENDERING).first()
        if busy is not None:
            raise Conflict(f"Delivery {busy.number:03d} of {production.code} is rendering into {busy.folder}; "
                           f"wait for it to finish.")
        number = (production.deliveries.aggregate(last=Max("number"))["last"] or 0) + 1
        return Delivery.objects.create(
            production=production, number=number, format=chosen.name, created_by=actor,
            folder=str(out_dir / f"{production.code}_delivery_{number:03d}"), versions_total=len(ready),
            report={"planned": [proposal.pk for proposal in ready], "held": held,
                    "to_pull": [delivered.pk for delivered in to_pull]})
