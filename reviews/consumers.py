"""WebSocket consumers. Each authenticates the user from the session, checks membership of the
production on connect, and takes only the proposal id from the URL — never a client's word for
what it may see: every id a client sends later is looked up among the versions of that
proposal's fix request, which membership was checked for. The protocol is in
``docs/review-protocol.md``."""
import asyncio
import functools
import json
import os
import struct
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.consumer import get_handler_name
from django.conf import settings
from django.db import transaction

from reviews import authz, events, live, measurements, selectors
from reviews.errors import ServiceError
from reviews.media import REVIEW_FOLDER, SIDES, region_outline, review_frame_path, review_views
from reviews.models import ForensicMark, PlaylistItem, Production, Proposal, ReviewNote
from reviews.room import PRESENCE_ANNOUNCE_S, PRESENCE_RENEW_S, room_store
from reviews.services.access import access_denied_record
from reviews.services.annotations import annotation_create, annotation_payload, person_name
from reviews.services.audit import audit_record
from reviews.services.forensic import forensic_mark_issue
from reviews.services.notifications import user_group
from reviews.services.ocio_configs import production_ocio_config
from reviews.services.review_notes import review_note_create, review_note_payload
from reviews.throttling import message_bucket_for, write_refusal, write_wait_s
from reviews.timecode import frame_timecode

# Close codes (4000–4999 are the application's).
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403

COMPARE_MODES = ("wipe", "side", "difference", "ab")
ORIENTATIONS = ("vertical", "horizontal")
AB_SIDES = ("a", "b")
# Review images prepared at once per connection (a before+after pair).
FRAMES_IN_PARALLEL = 2
# The threads that prepare review images for every connection of this process (JPEG coding
# releases the GIL): as many as cores, and the same ones all along — not asyncio's default pool,
# shared with everything else, whose fresh threads each paid OpenCV's per-thread start-up.
FRAME_THREADS = ThreadPoolExecutor(max_workers=max(FRAMES_IN_PARALLEL, os.cpu_count() or 1),
                                   thread_name_prefix="review-frames")
# Production events the room passes on when they concern its fix request.
FIX_REQUEST_EVENTS = ("job", "job.preview", "proposal")
# Events of the room's own groups that are passed on as they are.
ROOM_EVENTS = ("proposal.status", "annotation", "note", "room.state", "presence", "laser")


def pack_frame_message(header: dict, image: bytes) -> bytes:
    """A binary frame message: 4-byte big-endian header length, UTF-8 JSON header, image bytes."""
    encoded = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack(">I", len(encoded)) + encoded + image


#: How often a review connection looks again at whether its production watermarks frames
#: (seconds): turning the watermark on reaches rooms already open within this time.
WATERMARK_RECHECK_S = 2.0


def serve_frame(*, proposal: Proposal, side: str, frame: int, watermark_for: str | None,
                mark: int | None = None, folder: str = REVIEW_FOLDER) -> bytes:
    """The review JPEG of ``side`` (before/after) of ``frame`` of ``proposal`` in the review view
    whose frames are in ``folder`` (``view_folder``; default the proposal's first view) as it
    leaves the server: with ``watermark_for`` (the reader's name) burnt in with the time — the caller
    passes the name when the production watermarks review frames
    (``Production.review_watermark``) — and the forensic watermark carrying ``mark``, the
    viewing session's payload (``ForensicMark``); as stored when both are None. The one place a
    review frame leaves the server.

    Raises ``OSError`` if the frame is missing on disk."""
    # on first use: NumPy and Pillow are not loaded with the URLconf (docs/adr/0010-light-web-processes.md)
    from reviews.watermark import for_reader

    return for_reader(review_frame_path(proposal.media_dir, side, frame, folder).read_bytes(), watermark_for, mark)


def offered_views() -> list[dict]:
    """The review views a room offers (``LOUPE_REVIEW_VIEWS``): ``[{"name", "display", "view"}]``,
    ``view`` null for the display's default view of each clip's colour space. The first is a new
    room's."""
    return [{"name": v["name"], "display": v["display"], "view": v.get("view")} for v in settings.LOUPE_REVIEW_VIEWS]


def view_named(name) -> dict:
    """The offered view called ``name``; ``BadRequest`` naming the views offered otherwise."""
    for view in offered_views():
        if view["name"] == name:
            return view
    raise BadRequest(f"view is one of {', '.join(v['name'] for v in offered_views())}")


def view_folder(proposal: Proposal, name: str) -> str:
    """The folder of ``proposal``'s review frames in the view called ``name``; its first view's
    (``review``) when it has no frames in that view (made before review views, or before
    ``LOUPE_REVIEW_VIEWS`` named it) — the frame's header then names the view it was rendered in."""
    for entry in review_views(proposal.media_dir):
        if entry["name"] == name:
            return entry["folder"]
    return REVIEW_FOLDER


#: The A side a room can show besides the original and another version: the fix request's
#: reference shot (a shot match's target look), frame for frame from its first frame.
REFERENCE = "reference"


def reference_frame_number(proposal: Proposal, frame: int) -> int:
    """The clip frame of ``proposal``'s reference shot shown beside ``frame`` of the proposal:
    the reference's ``source_in`` plus the offset of ``frame`` from the proposal's first frame,
    wrapped round the reference's length (a reference shorter than the fix loops)."""
    reference = proposal.fix_request.reference_shot
    return reference.source_in + (frame - proposal.frame_in) % reference.duration_frames


def serve_reference_frame(*, proposal: Proposal, frame: int, watermark_for: str | None,
                          mark: int | None = None, view: dict | None = None) -> bytes:
    """The review JPEG of the reference shot's frame beside ``frame`` of ``proposal``
    (``reference_frame_number``), decoded from its original in its clip's input colour space,
    scaled to the size of the proposal's own review frames (its shot's clip's size), put through
    the display and view of ``view`` (an ``offered_views`` entry; default the first) as the
    worker renders review frames, encoded (``encode_review_jpeg``) and marked as ``serve_frame``
    marks. OpenColorIO is imported on first use, as the decode is. Raises ``OSError``
    (``FrameSourceError``) if the original cannot be read."""
    import cv2

    from engine.errors import FrameSourceError
    from engine.media import colour
    from engine.media.decode import FrameSource
    from reviews.media import encode_review_jpeg
    from reviews.watermark import for_reader

    view = view or offered_views()[0]
    reference = proposal.fix_request.reference_shot
    shot_clip = proposal.fix_request.shot.clip
    number = reference_frame_number(proposal, frame)
    try:
        source = FrameSource(reference.clip.source_path, number, number + 1)
        [(_, picture)] = list(source.frames(as_float=True))
    except FrameSourceError as error:
        raise OSError(str(error)) from error
    if picture.shape[:2] != (shot_clip.height, shot_clip.width):
        picture = cv2.resize(picture, (shot_clip.width, shot_clip.height), interpolation=cv2.INTER_AREA)
    # In the production's config, named here: this process serves rooms of many productions.
    codes = colour.display_codes(picture, reference.clip.input_colorspace or source.colorspace, view["display"],
                                 view.get("view"), config_source=production_ocio_config(proposal.production))
    return for_reader(encode_review_jpeg(codes), watermark_for, mark)


@database_sync_to_async
def _watermarks(production_id: int) -> bool:
    return Production.objects.filter(pk=production_id).values_list("review_watermark", flat=True).get()


def version_payload(proposal: Proposal) -> dict:
    return {
        "id": proposal.pk,
        "version": proposal.version_label,
        "status": proposal.status,
        "status_label": proposal.get_status_display(),
        "frame_in": proposal.frame_in,
        "frame_out": proposal.frame_out,
        "region_fraction": proposal.region_fraction,
        "metrics": proposal.metrics,
        "measurements": measurements.describe(proposal.metrics),
        "method": proposal.method,
        "views": [entry["name"] for entry in review_views(proposal.media_dir)],
    }


@dataclass
class RoomContext:
    """What a review room connection may see, loaded once membership was checked."""

    proposal: Proposal
    versions: dict[int, Proposal]
    roles: list[str]
    may_annotate: bool
    may_note: bool
    may_decide: bool
    annotations: list[dict]
    notes: list[dict]
    mark: int | None  # this connection's forensic payload (None when the portal does not mark)


@database_sync_to_async
def _open_room(user, proposal_id: int) -> RoomContext | None:
    """Everything a connection needs before its snapshot, in one trip to the database thread: a
    room of n that reconnects at once (its web process died) waits for n of these in line."""
    proposal = selectors.proposal_for(user, proposal_id)
    if proposal is None:
        return None
    production = proposal.production
    with transaction.atomic():
        audit_record(production=production, actor=user, action="footage.review", target=proposal,
                     payload={"version": proposal.version_label})
        mark = (forensic_mark_issue(production=production, viewer=user, proposal=proposal,
                                    channel=ForensicMark.Channel.REVIEW_ROOM).payload
                if settings.LOUPE_FORENSIC_WATERMARK else None)
    versions = selectors.versions_of(proposal)
    clip = proposal.fix_request.shot.clip
    roles = authz.roles_in(user, production)
    return RoomContext(
        proposal=proposal,
        versions={v.pk: v for v in versions},
        roles=sorted(roles),
        may_annotate=authz.roles_may(roles, authz.ANNOTATE_FRAME),
        may_note=authz.roles_may(roles, authz.WRITE_REVIEW_NOTE),
        may_decide=authz.roles_may(roles, authz.APPROVE_PROPOSAL),
        annotations=[annotation_payload(a) for a in selectors.annotations_of(versions)],
        notes=[review_note_payload(n, clip=clip) for n in selectors.review_notes_of(versions)],
        mark=mark,
    )


#: The largest id the database holds (a bigger one in a socket's path names nothing).
_MAX_ID = 2**63 - 1


@database_sync_to_async
def _refusal_record(scope: dict, *, code: str | None = None, proposal_id: int | None = None) -> None:
    """Record a refused WebSocket handshake as the pages record a refused request
    (``access_denied_record``, method ``WEBSOCKET``): an ``access.denied`` event of the
    production the socket aimed at, with the reason — ``not signed in``, ``second factor`` (a
    member whose production or role wants one) or ``not a member`` — else a log line."""
    user = scope["user"]
    if proposal_id is not None and proposal_id > _MAX_ID:
        proposal_id = None
    if proposal_id is not None:
        code = Proposal.objects.filter(pk=proposal_id).values_list("production__code", flat=True).first()
    if not user.is_authenticated:
        reason = "not signed in"
    elif code and selectors.productions_locked_for(user).filter(code=code).exists():
        reason = "second factor"
    else:
        reason = "not a member"
    access_denied_record(actor=user, method="WEBSOCKET", path=scope["path"], reason=reason, production_code=code)


@database_sync_to_async
def _reload_versions(proposal: Proposal) -> dict[int, Proposal]:
    return {v.pk: v for v in selectors.versions_of(proposal)}


def _count_write(user) -> None:
    """A note or drawing counts towards the person's writes per minute, like an API write;
    ``ServiceError`` (sent back as an ``error`` event, nothing saved) over the limit."""
    wait_s = write_wait_s(user_id=user.pk)
    if wait_s is not None:
        raise ServiceError(write_refusal(wait_s))


class BadRequest(Exception):
    """A client message that cannot be served; the message says what to send instead."""


def _int(value, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadRequest(f"{name} must be an integer")
    return value


class LiveConsumer(AsyncWebsocketConsumer):
    """A consumer whose every database access goes through ``database_sync_to_async``.

    channels (4.2 on) hops to its one sync thread before *every* message to close stale database
    connections: one thread round trip per connection per event, all in one line — a playhead
    move to a room of 200 waited for 200 of them. ``database_sync_to_async`` closes stale
    connections itself, in that thread, before and after each call, so these consumers skip
    the hop. Keep it so: touch the database only through ``database_sync_to_async``."""

    async def dispatch(self, message):
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)


class ReviewConsumer(LiveConsumer):
    """``/ws/review/<proposal id>/``: the review room of the proposal's fix request — before/after
    frames of its versions, the shared playhead, presence, laser, annotations, notes, job
    progress and decisions."""

    async def connect(self):
        user = self.scope["user"]
        proposal_id = self.scope["url_route"]["kwargs"]["proposal_id"]
        if not user.is_authenticated:
            await _refusal_record(self.scope, proposal_id=proposal_id)
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.room = await _open_room(user, proposal_id)
        if self.room is None:
            await _refusal_record(self.scope, proposal_id=proposal_id)
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.proposal = self.room.proposal
        self.versions = self.room.versions
        self.clip = self.proposal.fix_request.shot.clip
        self.fix_request_id = self.proposal.fix_request_id
        self.room_group_name = events.room_group(self.fix_request_id)
        self.viewer = person_name(user)
        self.mark = self.room.mark
        self.watermark = self.proposal.production.review_watermark
        self.watermark_checked_at = asyncio.get_running_loop().time()
        self.store = room_store(self.fix_request_id)
        self.groups_joined = [events.room_group(self.fix_request_id),
                              events.production_group(self.proposal.production_id)]
        self.groups_joined += [events.proposal_group(pk) for pk in self.versions]
        self.bucket = message_bucket_for(user.pk)  # this person's messages per second here (reviews.throttling)
        self.dropping = False  # messages are being dropped by the bucket (told once per run of drops)
        self.frame_queue: deque = deque()
        self.view_folders: dict[tuple[int, str], str] = {}  # (version, view name) → folder of its frames
        self.views_of: dict[int, list[str]] = {}  # version → the names of the views it was rendered in
        self.frame_ready = asyncio.Event()
        self.frame_server = asyncio.create_task(self._serve_frames())
        await self.accept()
        live.database_relay_ensure()
        await self.send_event("proposal", version_payload(self.proposal) | {
            "frame_rate": [self.clip.frame_rate_num, self.clip.frame_rate_den],
            "start_timecode": self.clip.start_timecode,
        })
        # Joined before the snapshot below is read, so nothing between the two is missed.
        await asyncio.gather(*(self.channel_layer.group_add(group, self.channel_name) for group in self.groups_joined))
        await self.store.join(self.channel_name, {"user": user.pk, "name": self.viewer, "roles": self.room.roles})
        state = await self.store.initialise({"presenter": None, "presenter_name": "", "proposal": self.proposal.pk,
                                             "versus": None, "frame": self.proposal.frame_in, "mode": "wipe",
                                             "orientation": "vertical", "wipe": 0.5, "ab": "b",
                                             "playing": False, "view": offered_views()[0]["name"]})
        present = await self.store.present()
        if not any(person["user"] == state.get("presenter") for person in present):
            # Nobody presents (a new room, or the presenter's process died): the first here drives.
            # and lands on the version the link asked for when it is newer than the one the room
            # last showed (a link to v002 must not open the superseded v001); a link to an older
            # version finds the room where it moved on to.
            landing = {"presenter": user.pk, "presenter_name": self.viewer}
            shown = self.versions.get(state.get("proposal"))
            if shown is None or shown.version < self.proposal.version:
                landing |= {"proposal": self.proposal.pk, "frame": self.proposal.frame_in,
                            "versus": None if state.get("versus") == self.proposal.pk else state.get("versus")}
            _, state = await self.store.update_if_presenter(state.get("presenter"), landing)
            await self.group_event("room.state", state)
        if await _presents_dailies(user, self.scope, self.fix_request_id):
            # The presenter of a dailies session drives the room of each item they move to.
            landing = {"presenter": user.pk, "presenter_name": self.viewer}
            if state.get("proposal") != self.proposal.pk:
                landing |= {"proposal": self.proposal.pk, "frame": self.proposal.frame_in, "versus": None}
            _, state = await self.store.update_if_presenter(None, landing, anyone=True)
            await self.group_event("room.state", state)
        await self.send_event("room", {
            "you": {"user": user.pk, "name": self.viewer, "roles": self.room.roles,
                    "may_annotate": self.room.may_annotate, "may_note": self.room.may_note,
                    "may_decide": self.room.may_decide},
            "state": state,
            "presence": present,
            "views": offered_views(),
            "versions": [version_payload(v) for v in self.versions.values()],
            "annotations": self.room.annotations,
            "notes": self.room.notes,
        })
        self.room = None  # the snapshot is sent; live events keep the browser current
        # Not awaited here: this connection's own messages (a first frame) are served meanwhile.
        self.announcing = asyncio.create_task(self._announce_presence())
        self.keeping_present = asyncio.create_task(self._keep_present())

    async def disconnect(self, code):
        if not hasattr(self, "groups_joined"):
            return
        self.frame_server.cancel()
        await asyncio.gather(*(self.channel_layer.group_discard(group, self.channel_name)
                               for group in self.groups_joined))
        await self._leave_room()

    async def _leave_room(self):
        """Leave the room's presence, pass control on if the presenter left, and tell the room."""
        if hasattr(self, "keeping_present"):
            self.keeping_present.cancel()
        await self.store.leave(self.channel_name)
        await self._pass_control_from_absent_presenter()
        await self._announce_presence()
        if hasattr(self, "announcing"):
            await self.announcing  # the one this connection's join started, if still pending

    async def _pass_control_from_absent_presenter(self):
        """When the presenter is no longer present (they left, or their process died and their
        presence lapsed), control passes to whoever has been here longest. Conditional on the
        presenter in one atomic update, so processes doing this at once pass it once."""
        state = await self.store.state()
        presenter = state.get("presenter")
        present = await self.store.present()
        if presenter is None or any(person["user"] == presenter for person in present):
            return
        successor = present[0] if present else None
        applied, state = await self.store.update_if_presenter(presenter, {
            "presenter": successor["user"] if successor else None,
            "presenter_name": successor["name"] if successor else ""})
        if applied:
            await self.group_event("room.state", state)

    async def _keep_present(self):
        """Renew this connection's presence from its own process every ``PRESENCE_RENEW_S``; when
        it is this connection's turn to sweep the room and entries of a dead process have lapsed,
        drop them, pass on a presenter's control that
        lapsed with them, and tell the room who is present."""
        while True:
            await asyncio.sleep(PRESENCE_RENEW_S)
            await self.store.touch(self.channel_name)
            if await self.store.claim_sweep() and await self.store.drop_stale():
                await self._pass_control_from_absent_presenter()
                await self._announce_presence()

    async def _announce_presence(self):
        """Tell the room who is present after a join or leave — coalesced: the first change in a
        window of ``PRESENCE_ANNOUNCE_S`` (in any process) announces once the window has passed,
        and the changes after it ride along, so filling a room of n costs a few announcements
        rather than n of them to n people."""
        if not await self.store.claim_announcement():
            return  # pending: it reads presence after this change was stored
        await asyncio.sleep(PRESENCE_ANNOUNCE_S)
        await self.store.release_announcement()
        await self.group_event("presence", {"people": await self.store.present()})

    async def send_event(self, event: str, data: dict):
        await self.send(text_data=json.dumps({"event": event, "data": data}))

    async def group_event(self, event: str, data: dict):
        """Send ``event`` to everyone in the room, encoded once here (not by each connection)."""
        text = json.dumps({"event": event, "data": data})
        await self.channel_layer.group_send(self.room_group_name,
                                            {"type": "relay", "event": event, "text": text})

    # -- client messages -------------------------------------------------------------------
    async def receive(self, text_data=None, bytes_data=None):
        """One client message: a JSON object whose ``type`` names a handler. A message the room
        cannot serve — malformed, nested too deep, over the rate limit — is answered with an
        ``error`` event and the connection stays open."""
        if not self.bucket.take():
            if not self.dropping:
                self.dropping = True
                await self.send_event("error", {"detail": self.bucket.refusal()})
            return
        self.dropping = False
        try:
            try:
                message = json.loads(text_data or "")
            except RecursionError:
                raise BadRequest("the message is nested too deeply") from None
            if not isinstance(message, dict):
                raise BadRequest("send a JSON object")
            kind = message.get("type")
            handler = self.HANDLERS.get(kind) if isinstance(kind, str) else None
            if handler is None:
                raise BadRequest(f"unknown message type {str(kind)[:40]!r}; use one of {', '.join(self.HANDLERS)}")
            await handler(self, message)
        except (BadRequest, ValueError) as error:
            await self.send_event("error", {"detail": f"Bad request: {error}."})
        except ServiceError as error:
            await self.send_event("error", {"detail": str(error)})

    def _version(self, message: dict, key: str = "proposal") -> Proposal:
        """The version a message names (default: the one this room was opened on) — only ever
        one of this fix request's versions."""
        pk = message.get(key)
        if pk is None:
            return self.proposal
        proposal = self.versions.get(_int(pk, key))
        if proposal is None:
            raise BadRequest(f"{key} {pk} is not a version in this room")
        return proposal

    async def on_frame(self, message):
        proposal = self._version(message)
        frame = _int(message.get("frame"), "frame")
        if not proposal.frame_in <= frame < proposal.frame_out:
            raise BadRequest(f"frame {frame} is outside {proposal.version_label}'s frames "
                             f"{proposal.frame_in}–{proposal.frame_out - 1}")
        sides = message.get("sides", list(SIDES))
        allowed = SIDES + ((REFERENCE,) if self.proposal.fix_request.reference_shot_id else ())
        if not isinstance(sides, list) or not sides or any(side not in allowed for side in sides):
            raise BadRequest(f"sides is a list of {', '.join(allowed)}")
        view = view_named(message.get("view", offered_views()[0]["name"]))["name"]
        if message.get("flush"):
            self.frame_queue.clear()  # a seek: what was queued for the old playhead is not wanted
        for side in dict.fromkeys(sides):
            request = (proposal, frame, side, view)
            if request not in self.frame_queue:
                self.frame_queue.append(request)
        self.frame_ready.set()

    async def _serve_frames(self):
        """Send queued frames in the order asked, while the socket keeps reading messages (so a
        seek can drop what is queued). Up to ``FRAMES_IN_PARALLEL`` images are prepared at once
        in ``FRAME_THREADS``."""
        while True:
            await self.frame_ready.wait()
            while self.frame_queue:
                batch = [self.frame_queue.popleft() for _ in range(min(FRAMES_IN_PARALLEL, len(self.frame_queue)))]
                loop = asyncio.get_running_loop()
                if loop.time() - self.watermark_checked_at >= WATERMARK_RECHECK_S:
                    self.watermark = await _watermarks(self.proposal.production_id)
                    self.watermark_checked_at = loop.time()
                watermark_for = self.viewer if self.watermark else None
                images = await asyncio.gather(*(
                    loop.run_in_executor(FRAME_THREADS, functools.partial(
                        serve_reference_frame, proposal=proposal, frame=frame, watermark_for=watermark_for,
                        mark=self.mark, view=view_named(view)) if side == REFERENCE else functools.partial(
                        serve_frame, proposal=proposal, side=side, frame=frame, watermark_for=watermark_for,
                        mark=self.mark, folder=self._view_folder(proposal, view)))
                    for proposal, frame, side, view in batch), return_exceptions=True)
                for (proposal, frame, side, view), image in zip(batch, images):
                    if isinstance(image, OSError):
                        await self.send_event("error", {"detail": f"Frame {frame} ({side}) of {proposal.version_label} "
                                                                  f"is missing on the server; tell the post supervisor."})
                        continue
                    if isinstance(image, BaseException):
                        raise image
                    timecode = frame_timecode(start_timecode=self.clip.start_timecode,
                                              frame_rate=self.clip.frame_rate, frame=frame)
                    header = {"proposal": proposal.pk, "version": proposal.version_label, "frame": frame,
                              "timecode": timecode, "side": side, "view": view,
                              "rendered_in": self._rendered_in(proposal, view, side)}
                    await self.send(bytes_data=pack_frame_message(header, image))
            self.frame_ready.clear()

    def _view_folder(self, proposal: Proposal, view: str) -> str:
        """``view_folder``, read once per version and view on this connection."""
        key = (proposal.pk, view)
        if key not in self.view_folders:
            self.view_folders[key] = view_folder(proposal, view)
        return self.view_folders[key]

    def _rendered_in(self, proposal: Proposal, view: str, side: str) -> str | None:
        """The name of the view a frame sent for ``view`` was rendered in: ``view``, or the
        version's first view when it has no frames in ``view`` (null: made before review views)."""
        if side == REFERENCE or view in self.version_views(proposal):
            return view
        names = self.version_views(proposal)
        return names[0] if names else None

    def version_views(self, proposal: Proposal) -> list[str]:
        if proposal.pk not in self.views_of:
            self.views_of[proposal.pk] = [entry["name"] for entry in review_views(proposal.media_dir)]
        return self.views_of[proposal.pk]

    async def on_state(self, message):
        changes = {}
        if "view" in message:
            changes["view"] = view_named(message["view"])["name"]
        if "proposal" in message:
            changes["proposal"] = self._version(message).pk
        if message.get("versus") == REFERENCE:
            if not self.proposal.fix_request.reference_shot_id:
                raise BadRequest("this fix request has no reference shot to compare with")
            changes["versus"] = REFERENCE
        elif "versus" in message:
            changes["versus"] = None if message["versus"] is None else self._version(message, "versus").pk
        if "frame" in message:
            frame = _int(message["frame"], "frame")
            if not self.proposal.frame_in <= frame < self.proposal.frame_out:  # every version's range
                raise BadRequest(f"frame {frame} is outside this fix request's frames "
                                 f"{self.proposal.frame_in}–{self.proposal.frame_out - 1}")
            changes["frame"] = frame
        for key, allowed in (("mode", COMPARE_MODES), ("orientation", ORIENTATIONS), ("ab", AB_SIDES)):
            if key in message:
                if message[key] not in allowed:
                    raise BadRequest(f"{key} is one of {', '.join(allowed)}")
                changes[key] = message[key]
        if "playing" in message:
            if not isinstance(message["playing"], bool):
                raise BadRequest("playing is true or false")
            changes["playing"] = message["playing"]
        if "wipe" in message:
            wipe = message["wipe"]
            if not isinstance(wipe, (int, float)) or isinstance(wipe, bool) or not 0 <= wipe <= 1:
                raise BadRequest("wipe is a number from 0 to 1 (the share of the picture showing A)")
            changes["wipe"] = round(float(wipe), 4)
        user = self.scope["user"]
        applied, state = await self.store.update_if_presenter(user.pk, changes)
        if not applied:
            raise ServiceError(f"{state.get('presenter_name') or 'Nobody'} presents in this room: ask for control "
                               f"to drive the playhead.")
        await self.group_event("room.state", state | {"by": user.pk})

    async def on_presenter(self, message):
        """Hand control to someone present (the presenter), or take it when nobody presents."""
        user = self.scope["user"]
        target = _int(message.get("user"), "user")
        present = await self.store.present()
        person = next((p for p in present if p["user"] == target), None)
        if person is None:
            raise BadRequest(f"user {target} is not in this room")
        state = await self.store.state()
        holder = state.get("presenter")
        if holder == user.pk:
            applied, state = await self.store.update_if_presenter(user.pk, {"presenter": target,
                                                                            "presenter_name": person["name"]})
        elif target == user.pk and not any(p["user"] == holder for p in present):
            applied, state = await self.store.update_if_presenter(holder, {"presenter": user.pk,
                                                                           "presenter_name": self.viewer})
        else:
            raise ServiceError(f"{state.get('presenter_name')} presents; only they can hand over control.")
        if not applied:
            raise ServiceError("Control changed hands meanwhile; try again.")
        await self.group_event("room.state", state)

    async def on_laser(self, message):
        x, y = message.get("x"), message.get("y")
        if x is None and y is None:
            point = None  # the pointer left the picture
        elif all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1 for v in (x, y)):
            point = [round(float(x), 4), round(float(y), 4)]
        else:
            raise BadRequest("laser takes x and y between 0 and 1, or both null")
        await self.group_event("laser", {"user": self.scope["user"].pk, "name": self.viewer, "point": point})

    async def on_annotate(self, message):
        proposal = self._version(message)

        def create():
            _count_write(self.scope["user"])
            return annotation_create(
                proposal=proposal, author=self.scope["user"], frame=message.get("frame"), kind=message.get("kind"),
                points=message.get("points"), text=message.get("text", ""), color=message.get("color", "#ff3b30"))

        await database_sync_to_async(create)()

    async def on_note(self, message):
        proposal = self._version(message)
        parent_id = message.get("parent")

        def create():
            _count_write(self.scope["user"])
            parent = None
            if parent_id is not None:
                parent = ReviewNote.objects.filter(pk=_int(parent_id, "parent"), proposal=proposal).first()
                if parent is None:
                    raise BadRequest(f"note {parent_id} is not a note of {proposal.version_label}")
            return review_note_create(proposal=proposal, author=self.scope["user"], frame=message.get("frame"),
                                      text=message.get("text", ""), parent=parent)

        await database_sync_to_async(create)()

    async def on_region(self, message):
        proposal = self._version(message)
        polygons = await asyncio.to_thread(region_outline, proposal.media_dir)
        await self.send_event("region", {"proposal": proposal.pk, "polygons": polygons})

    async def on_ping(self, message):
        await self.store.touch(self.channel_name)
        await self.send_event("pong", {})

    HANDLERS = {"frame": on_frame, "state": on_state, "presenter": on_presenter, "laser": on_laser,
                "annotate": on_annotate, "note": on_note, "region": on_region, "ping": on_ping}

    # -- group events ----------------------------------------------------------------------
    async def relay(self, message):
        """A group event (``reviews.events.broadcast`` or another room connection), passed on
        to the browser when it concerns this room."""
        event = message["event"]
        if "text" in message:  # another room connection's event, encoded by group_event
            if event in ROOM_EVENTS:
                await self.send(text_data=message["text"])
            return
        data = message["data"]
        if event in FIX_REQUEST_EVENTS:
            if data.get("fix_request") != self.fix_request_id:
                return  # another fix request of the production
            if event == "proposal":
                await self._new_version(data["id"])
                return
        elif event not in ROOM_EVENTS:
            return
        await self.send_event(event, data)

    async def _new_version(self, proposal_id: int):
        self.versions = await _reload_versions(self.proposal)
        if proposal_id in self.versions:
            group = events.proposal_group(proposal_id)
            if group not in self.groups_joined:
                self.groups_joined.append(group)
                await self.channel_layer.group_add(group, self.channel_name)
            await self.send_event("versions", {"versions": [version_payload(v) for v in self.versions.values()],
                                               "new": proposal_id})


def dailies_store(playlist_id: int):
    """The shared state of a playlist's dailies session (``reviews.room``: the review room's store,
    under its own key): ``{presenter, presenter_name, item}`` and who is present."""
    return room_store(f"dailies-{playlist_id}")


async def _presents_dailies(user, scope, fix_request_id: int) -> bool:
    """True when the review room connection names a dailies session (``?playlist=<id>``) that
    ``user`` presents and whose playlist holds a version of the room's fix request."""
    from urllib.parse import parse_qs

    value = parse_qs(scope.get("query_string", b"").decode()).get("playlist", [""])[0]
    if not value.isdigit():
        return False
    playlist_id = int(value)
    if (await dailies_store(playlist_id).state()).get("presenter") != user.pk:
        return False
    return await database_sync_to_async(
        PlaylistItem.objects.filter(playlist_id=playlist_id, proposal__fix_request_id=fix_request_id).exists)()


def dailies_item_payload(item: PlaylistItem) -> dict:
    proposal = item.proposal
    return {"id": item.pk, "position": item.position, "proposal": proposal.pk, "version": proposal.version_label,
            "shot": proposal.fix_request.shot.code, "fix": proposal.fix_request.get_kind_display(),
            "status": proposal.status, "status_label": proposal.get_status_display()}


@database_sync_to_async
def _open_session(user, playlist_id: int):
    playlist = selectors.playlist_for(user, playlist_id)
    if playlist is None:
        return None
    return playlist, sorted(authz.roles_in(user, playlist.production))


@database_sync_to_async
def _session_items(playlist) -> list[dict]:
    return [dailies_item_payload(item) for item in selectors.playlist_items_of(playlist)]


class DailiesConsumer(ReviewConsumer):
    """``/ws/dailies/<playlist id>/``: a live dailies session on a playlist. The presenter moves
    through the items (``item``) and everyone's page follows to that item's review room, where
    the room (``ReviewConsumer``, opened with ``?playlist=<id>``) makes the session's presenter
    its presenter, so the frame, compare mode and view follow too. Presence, handing over
    control and the presenter passing on when they leave are the review room's own
    (``reviews.room``'s store under ``dailies-<id>``); a late joiner is told the current item."""

    async def connect(self):
        user = self.scope["user"]
        if not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        opened = await _open_session(user, self.scope["url_route"]["kwargs"]["playlist_id"])
        if opened is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.playlist, roles = opened
        self.viewer = person_name(user)
        self.store = dailies_store(self.playlist.pk)
        self.room_group_name = events.dailies_group(self.playlist.pk)
        self.bucket = message_bucket_for(user.pk)
        self.dropping = False
        await self.accept()
        await self.channel_layer.group_add(self.room_group_name, self.channel_name)
        await self.store.join(self.channel_name, {"user": user.pk, "name": self.viewer, "roles": roles})
        items = await _session_items(self.playlist)
        state = await self.store.initialise({"presenter": None, "presenter_name": "",
                                             "item": items[0]["id"] if items else None})
        present = await self.store.present()
        if not any(person["user"] == state.get("presenter") for person in present):
            landing = {"presenter": user.pk, "presenter_name": self.viewer}
            if not any(item["id"] == state.get("item") for item in items):  # the item was removed meanwhile
                landing["item"] = items[0]["id"] if items else None
            _, state = await self.store.update_if_presenter(state.get("presenter"), landing)
            await self.group_event("room.state", state)
        await self.send_event("session", {"you": {"user": user.pk, "name": self.viewer, "roles": roles},
                                          "state": state, "presence": present, "items": items})
        self.announcing = asyncio.create_task(self._announce_presence())
        self.keeping_present = asyncio.create_task(self._keep_present())

    async def disconnect(self, code):
        """Moving to the next item loads the next page: a disconnect, then a connect. So this
        connection's presence entry is not removed but left to lapse (``PRESENCE_TTL_S``): the
        presenter keeps control across the move, and control passes on only when they are gone."""
        if not hasattr(self, "room_group_name"):
            return
        await self.channel_layer.group_discard(self.room_group_name, self.channel_name)
        if hasattr(self, "keeping_present"):
            self.keeping_present.cancel()
        if hasattr(self, "announcing"):
            await self.announcing

    async def on_item(self, message):
        """The presenter moves the session to item ``item`` (a playlist item id)."""
        items = await _session_items(self.playlist)
        target = _int(message.get("item"), "item")
        if not any(item["id"] == target for item in items):
            raise BadRequest(f"item {target} is not in this playlist")
        user = self.scope["user"]
        applied, state = await self.store.update_if_presenter(user.pk, {"item": target})
        if not applied:
            raise ServiceError(f"{state.get('presenter_name') or 'Nobody'} presents this session: ask for control "
                               f"to move through the playlist.")
        await self.group_event("room.state", state | {"by": user.pk, "items": items})

    async def on_presenter(self, message):
        """Hand the session to someone present (the presenter), or take it when nobody presents
        (the room's rule: ``ReviewConsumer.on_presenter``). The current item's review room
        follows: if the previous presenter presented it, the new one does (``room.state`` to
        the room), so the frame and compare mode are theirs at once, not from the next item."""
        before = (await self.store.state()).get("presenter")
        await ReviewConsumer.on_presenter(self, message)
        state = await self.store.state()
        if state.get("presenter") == before or state.get("item") is None:
            return
        fix_request_id = await database_sync_to_async(
            PlaylistItem.objects.filter(pk=state["item"], playlist=self.playlist)
            .values_list("proposal__fix_request_id", flat=True).first)()
        if fix_request_id is None:
            return
        applied, room = await room_store(fix_request_id).update_if_presenter(
            before, {"presenter": state["presenter"], "presenter_name": state.get("presenter_name", "")})
        if applied:
            await self.channel_layer.group_send(events.room_group(fix_request_id), {
                "type": "relay", "event": "room.state", "text": json.dumps({"event": "room.state", "data": room})})

    HANDLERS = {"item": on_item, "presenter": on_presenter, "ping": ReviewConsumer.on_ping}

    async def relay(self, message):
        if "text" in message and message["event"] in ("room.state", "presence"):
            await self.send(text_data=message["text"])


class ProductionConsumer(LiveConsumer):
    """``/ws/productions/<code>/``: live job progress and new proposals of one production."""

    async def connect(self):
        user = self.scope["user"]
        code = self.scope["url_route"]["kwargs"]["code"]
        if not user.is_authenticated:
            await _refusal_record(self.scope, code=code)
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        production = await database_sync_to_async(selectors.production_for)(user, code)
        if production is None:
            await _refusal_record(self.scope, code=code)
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.group = events.production_group(production.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        live.database_relay_ensure()  # jobs' progress, when workers cannot reach this process's layer

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def relay(self, message):
        await self.send(text_data=json.dumps({"event": message["event"], "data": message["data"]}))


class NotificationConsumer(LiveConsumer):
    """``/ws/notifications/``: the signed-in person's own notifications, as they are made
    (``notification`` events of group ``user-<id>``, ``reviews.services.notifications``)."""

    async def connect(self):
        user = self.scope["user"]
        if not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.group = user_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        live.database_relay_ensure()  # notifications made by workers, when their events cannot reach us

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def relay(self, message):
        await self.send(text_data=json.dumps({"event": message["event"], "data": message["data"]}))
