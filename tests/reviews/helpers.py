"""Helpers for talking to the portal the way a browser does."""
import json
import re
import struct

import cv2
import numpy as np
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from portal.asgi import application


def signed_in(user) -> Client:
    """A test client signed in as ``user``."""
    client = Client()
    client.force_login(user)
    return client


def post_json(user, url: str, body=None):
    """POST ``body`` as JSON (an empty body when None) to ``url`` as ``user``, signed in."""
    return signed_in(user).post(url, json.dumps(body) if body is not None else "", content_type="application/json")


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


def websocket_handshake(path: str, headers: list[tuple[bytes, bytes]]) -> tuple[bool, int | None]:
    """Open a WebSocket at ``path`` with ``headers`` through the real ASGI application and close
    it again: (accepted, the close code when refused)."""
    socket = WebsocketCommunicator(application, path, headers=headers)

    async def attempt():
        connected, code = await socket.connect()
        if connected:
            await socket.disconnect()
        return connected, code

    return async_to_sync(attempt)()


def websocket(path: str, user=None) -> WebsocketCommunicator:
    headers = [(b"host", b"127.0.0.1"), (b"origin", b"http://127.0.0.1")]
    if user is not None:
        headers.append((b"cookie", session_cookie(user)))
    return WebsocketCommunicator(application, path, headers=headers)


def unpack_frame_message(data: bytes) -> tuple[dict, np.ndarray]:
    """The review protocol's binary message → (header, decoded image uint8 [H, W, 3] RGB)."""
    (length,) = struct.unpack(">I", data[:4])
    header = json.loads(data[4:4 + length])
    image = cv2.imdecode(np.frombuffer(data[4 + length:], np.uint8), cv2.IMREAD_COLOR)
    return header, cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def review_size(frame: np.ndarray) -> np.ndarray:
    """``frame`` resized the way review frames are (area averaging to LOUPE_REVIEW_WIDTH)."""
    height, width = frame.shape[:2]
    if width <= settings.LOUPE_REVIEW_WIDTH:
        return frame
    new_width = settings.LOUPE_REVIEW_WIDTH
    new_height = max(2, round(height * new_width / width / 2) * 2)
    return cv2.resize(frame, (new_width, new_height), interpolation=cv2.INTER_AREA)


def mean_abs_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


async def receive_frames(socket: WebsocketCommunicator, count: int, timeout: float = 60) -> list[tuple[dict, np.ndarray]]:
    """The next ``count`` binary frame messages on a review socket (text events in between are
    skipped), unpacked."""
    frames = []
    while len(frames) < count:
        message = await socket.receive_output(timeout)
        if message["type"] == "websocket.send" and message.get("bytes") is not None:
            frames.append(unpack_frame_message(message["bytes"]))
    return frames


async def receive_event(socket: WebsocketCommunicator, event: str, timeout: float = 60, where=None) -> dict:
    """The data of the next text event named ``event`` (and satisfying ``where``, if given) on a
    socket; other messages are skipped."""
    while True:
        message = await socket.receive_output(timeout)
        if message["type"] == "websocket.send" and message.get("text") is not None:
            decoded = json.loads(message["text"])
            if decoded["event"] == event and (where is None or where(decoded["data"])):
                return decoded["data"]


def outside_watermark(image: np.ndarray, reviewer: str) -> np.ndarray:
    """A boolean mask [H, W] of the pixels ``reviewer``'s burn-in watermark does not touch."""
    from django.utils import timezone

    from reviews.watermark import watermark_boxes, watermark_text

    height, width = image.shape[:2]
    mask = np.ones((height, width), bool)
    for x0, y0, x1, y1 in watermark_boxes(width=width, height=height,
                                          text=watermark_text(reviewer=reviewer, at=timezone.now())):
        mask[y0:y1, x0:x1] = False
    return mask


def decode(jpeg: bytes) -> np.ndarray:
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def fetch(proposal, user, frames: list[int]) -> dict[tuple[int, str], tuple[dict, bytes]]:
    """Connect as ``user``, request each frame, and return {(frame, side): (header, image bytes)}."""
    socket = websocket(f"/ws/review/{proposal.pk}/", user)

    async def run():
        connected, _ = await socket.connect()
        assert connected
        got = {}
        for frame in frames:
            await socket.send_to(text_data=json.dumps({"type": "frame", "frame": frame}))
            for _ in range(2):
                data = (await socket.receive_output(60))
                while data.get("bytes") is None:
                    data = await socket.receive_output(60)
                (length,) = struct.unpack(">I", data["bytes"][:4])
                header = json.loads(data["bytes"][4:4 + length])
                got[(header["frame"], header["side"])] = (header, data["bytes"][4 + length:])
        await socket.disconnect()
        return got

    return async_to_sync(run)()


def signed_in_with_second_factor(user) -> Client:
    """A test client signed in as ``user`` with a second factor: a confirmed TOTP device of theirs
    (made if they have none) recorded in the session, as the sign-in's code step leaves it."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or TOTPDevice.objects.create(
        user=user, name="Authenticator app", confirmed=True)
    client = signed_in(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


CSRF_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"')


def without_csrf_token(text: str) -> str:
    """``text`` with its CSRF token left out: Django masks it afresh on every response, and the
    404 page's navigation carries one in its sign-out form."""
    return CSRF_TOKEN.sub('name="csrfmiddlewaretoken"', text)
