"""WebSocket consumers. Each authenticates the user from the session, checks membership of the
production on connect, and takes only the proposal id from the URL — never a client's word for
what it may see. The protocol is in ``docs/review-protocol.md``."""
import asyncio
import json
import struct

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.db import transaction

from reviews import events, selectors
from reviews.media import SIDES, review_frame_path
from reviews.models import Proposal
from reviews.services.audit import audit_record
from reviews.timecode import frame_timecode

# Close codes (4000–4999 are the application's).
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


def pack_frame_message(header: dict, image: bytes) -> bytes:
    """A binary frame message: 4-byte big-endian header length, UTF-8 JSON header, image bytes."""
    encoded = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack(">I", len(encoded)) + encoded + image


@database_sync_to_async
def _open_proposal(user, proposal_id: int) -> Proposal | None:
    proposal = selectors.proposal_for(user, proposal_id)
    if proposal is not None:
        with transaction.atomic():
            audit_record(production=proposal.production, actor=user, action="footage.review", target=proposal,
                         payload={"version": proposal.version_label})
    return proposal


class ReviewConsumer(AsyncWebsocketConsumer):
    """``/ws/review/<proposal id>/``: before/after frames of one proposal, and its status."""

    async def connect(self):
        user = self.scope["user"]
        if not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.proposal = await _open_proposal(user, self.scope["url_route"]["kwargs"]["proposal_id"])
        if self.proposal is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.clip = self.proposal.fix_request.shot.clip
        self.group = events.proposal_group(self.proposal.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_event("proposal", {
            "id": self.proposal.pk,
            "version": self.proposal.version_label,
            "status": self.proposal.status,
            "status_label": self.proposal.get_status_display(),
            "frame_in": self.proposal.frame_in,
            "frame_out": self.proposal.frame_out,
            "frame_rate": [self.clip.frame_rate_num, self.clip.frame_rate_den],
            "start_timecode": self.clip.start_timecode,
        })

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def send_event(self, event: str, data: dict):
        await self.send(text_data=json.dumps({"event": event, "data": data}))

    async def receive(self, text_data=None, bytes_data=None):
        try:
            message = json.loads(text_data or "")
            if message.get("type") != "frame":
                raise ValueError("unknown message type; send {\"type\": \"frame\", \"frame\": N}")
            frame = message["frame"]
            if not isinstance(frame, int) or isinstance(frame, bool):
                raise ValueError("frame must be an integer")
        except (ValueError, KeyError, TypeError) as error:
            await self.send_event("error", {"detail": f"Bad request: {error}."})
            return
        if not self.proposal.frame_in <= frame < self.proposal.frame_out:
            await self.send_event("error", {"detail": f"Frame {frame} is outside this proposal's frames "
                                                     f"{self.proposal.frame_in}–{self.proposal.frame_out - 1}."})
            return
        await self.send_frame(frame)

    async def send_frame(self, frame: int):
        timecode = frame_timecode(start_timecode=self.clip.start_timecode, frame_rate=self.clip.frame_rate,
                                  frame=frame)
        for side in SIDES:
            image = await asyncio.to_thread(review_frame_path(self.proposal.media_dir, side, frame).read_bytes)
            header = {"proposal": self.proposal.pk, "version": self.proposal.version_label, "frame": frame,
                      "timecode": timecode, "side": side}
            await self.send(bytes_data=pack_frame_message(header, image))

    async def relay(self, message):
        """A group event from ``reviews.events.broadcast``, passed on to the browser."""
        await self.send_event(message["event"], message["data"])


class ProductionConsumer(AsyncWebsocketConsumer):
    """``/ws/productions/<code>/``: live job progress and new proposals of one production."""

    async def connect(self):
        user = self.scope["user"]
        if not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        production = await database_sync_to_async(selectors.production_for)(
            user, self.scope["url_route"]["kwargs"]["code"]
        )
        if production is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.group = events.production_group(production.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def relay(self, message):
        await self.send(text_data=json.dumps({"event": message["event"], "data": message["data"]}))
