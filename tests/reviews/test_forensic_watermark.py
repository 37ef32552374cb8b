"""The forensic watermark in the portal: every review frame sent carries an invisible payload
issued to that viewing session, and ``manage.py watermark_identify`` names the person from a
degraded capture of it — through the review room's WebSocket and the frame views alike."""
import io

import cv2
import numpy as np
import pytest
from django.core.management import call_command
from django.test import Client

from engine.ops import watermark
from reviews.models import AuditEvent, ForensicMark

from .helpers import decode, fetch, mean_abs_difference

pytestmark = pytest.mark.django_db(transaction=True)


def leak(image_rgb: np.ndarray, path) -> str:
    """What a leak does to a frame: cropped to 80 %, half size, JPEG at quality 60."""
    height, width = image_rgb.shape[:2]
    cropped = image_rgb[height // 10:height * 9 // 10, width // 10:width * 9 // 10]
    small = cv2.resize(cropped, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(path), cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 60])
    return str(path)


def identify(path) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("watermark_identify", path, stdout=out)
    except SystemExit as exit:
        return exit.code, out.getvalue()
    return 0, out.getvalue()


def test_a_leaked_review_room_frame_names_its_viewer(proposal, people, tmp_path):
    frame = proposal.frame_in + 2
    director = decode(fetch(proposal, people["director"], [frame])[(frame, "after")][1])
    artist = decode(fetch(proposal, people["artist"], [frame])[(frame, "before")][1])
    marks = ForensicMark.objects.filter(proposal=proposal, channel=ForensicMark.Channel.REVIEW_ROOM)
    by_viewer = {mark.viewer.username: mark.payload for mark in marks}
    assert set(by_viewer) == {"director", "artist"} and len(set(by_viewer.values())) == 2
    assert AuditEvent.objects.filter(action="forensic_mark.issue", actor=people["director"],
                                     payload__payload=f"{by_viewer['director']:08x}").count() == 1

    assert watermark.detect(director).payload == by_viewer["director"]
    code, out = identify(leak(director, tmp_path / "director.jpg"))
    assert code == 0, out
    assert f"payload {by_viewer['director']:08x}" in out
    assert "(director), production TEST, v001 of CUPS, review room opened" in out
    code, out = identify(leak(artist, tmp_path / "artist.jpg"))
    assert code == 0 and "(artist), production TEST" in out


def test_frame_views_carry_one_mark_per_browser_session(proposal, people, tmp_path):
    client = Client()
    client.force_login(people["producer"])
    frame = proposal.frame_in + 1
    url = f"/media/proposals/{proposal.pk}/review/before/{frame}.jpg"
    first, second = client.get(url), client.get(url)
    assert first.status_code == second.status_code == 200
    marks = ForensicMark.objects.filter(viewer=people["producer"], channel=ForensicMark.Channel.FRAME_VIEW)
    assert marks.count() == 1
    image = decode(first.content)
    code, out = identify(leak(image, tmp_path / "producer.jpg"))
    assert code == 0 and f"payload {marks.get().payload:08x}" in out and "frame view" in out


def test_an_unmarked_frame_or_an_unknown_payload_names_nobody(proposal, tmp_path, settings):
    stored = settings.MEDIA_ROOT / proposal.media_dir / "review" / "after" / f"{proposal.frame_in:06d}.jpg"
    code, out = identify(leak(decode(stored.read_bytes()), tmp_path / "plain.jpg"))
    assert code == 1 and out.startswith("no forensic watermark found")
    foreign = watermark.embed(decode(stored.read_bytes()), 0x0BADF00D)
    assert mean_abs_difference(foreign, decode(stored.read_bytes())) < 3.0
    code, out = identify(leak(foreign, tmp_path / "foreign.jpg"))
    assert code == 1 and "0badf00d" in out and "never issued" in out


def test_the_setting_turns_the_mark_off(proposal, people, settings):
    settings.LOUPE_FORENSIC_WATERMARK = False
    frame = proposal.frame_in
    fetch(proposal, people["director"], [frame])
    assert not ForensicMark.objects.exists()
