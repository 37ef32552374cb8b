"""Dailies playlists through the API and the services: built from the shot board's filter, from
fix requests and by hand; reordered, trimmed and added to, by post supervisors only, every change
in the audit trail; the session summary with its notes, decisions and annotated thumbnails, as
JSON, CSV and PDF."""
import csv
import io

import cv2
import numpy as np
import pytest
from django.db import transaction
from django.test import Client

from reviews.dailies import annotated_frame_jpeg
from reviews.errors import NotAllowed, ServiceError
from reviews.models import AuditEvent, Playlist, ReviewNote
from reviews.services.annotations import annotation_create
from reviews.services.audit import audit_verify
from reviews.services.playlists import playlist_create, playlist_reorder
from reviews.services.proposals import proposal_decide
from reviews.services.review_notes import review_note_create

pytestmark = pytest.mark.django_db

API = "/api/productions/TEST/playlists/"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def proposal_ids(data) -> list[int]:
    return [item["proposal"] for item in data["items"]]


def test_build_reorder_remove_and_add_through_the_api(five_versions, people):
    supervisor = client_for(people["supervisor"])
    ids = [version.pk for version in five_versions]

    # From the shot board's filter: every shot in review whose code matches, in cut order.
    built = supervisor.post(API, {"name": "Dailies 7 Dec", "board_filter": {"status": "in_review", "q": "CAR_00"}},
                            content_type="application/json")
    assert built.status_code == 201, built.content
    assert proposal_ids(built.json()) == ids
    assert built.json()["source"] == "board"

    # From fix requests, in the order given: the newest version of each.
    fixes = [five_versions[3].fix_request_id, five_versions[0].fix_request_id]
    from_fixes = supervisor.post(API, {"name": "Two fixes", "fix_requests": fixes}, content_type="application/json")
    assert proposal_ids(from_fixes.json()) == [ids[3], ids[0]]

    # By hand, then reordered, trimmed and added to.
    playlist = supervisor.post(API, {"name": "By hand", "proposals": ids[:3]}, content_type="application/json").json()
    url = f"{API}{playlist['id']}/"
    items = [item["id"] for item in playlist["items"]]
    reordered = supervisor.put(f"{url}order/", {"items": [items[2], items[0], items[1]]},
                               content_type="application/json")
    assert proposal_ids(reordered.json()) == [ids[2], ids[0], ids[1]]
    trimmed = supervisor.delete(f"{url}items/{items[0]}/")
    assert proposal_ids(trimmed.json()) == [ids[2], ids[1]]
    assert [item["position"] for item in trimmed.json()["items"]] == [0, 1]
    added = supervisor.post(f"{url}items/", {"proposals": [ids[4], ids[2]]}, content_type="application/json")
    assert proposal_ids(added.json()) == [ids[2], ids[1], ids[4]]  # one already there stays where it was
    assert proposal_ids(client_for(people["artist"]).get(url).json()) == [ids[2], ids[1], ids[4]]

    # Every change is in the audit trail, which still verifies.
    actions = list(AuditEvent.objects.filter(action__startswith="playlist.").values_list("action", flat=True))
    assert actions == ["playlist.create"] * 3 + ["playlist.reorder", "playlist.remove", "playlist.add"]
    assert audit_verify(production=five_versions[0].production) == []


def test_what_is_refused(two_versions, people):
    supervisor = client_for(people["supervisor"])
    ids = [version.pk for version in two_versions]
    for role in ("director", "artist", "producer", "performer"):
        refused = client_for(people[role]).post(API, {"name": "x", "proposals": ids}, content_type="application/json")
        assert refused.status_code == 403, role
        assert "Only a supervisor of TEST may build and change dailies playlists." in refused.json()["detail"]
    no_match = supervisor.post(API, {"name": "x", "board_filter": {"q": "NO_SUCH_SHOT"}}, content_type="application/json")
    assert no_match.status_code == 400
    assert "No shot the board shows with these filters has a version to review." in no_match.json()["detail"]
    both = supervisor.post(API, {"name": "x", "proposals": ids, "fix_requests": [two_versions[0].fix_request_id]},
                           content_type="application/json")
    assert both.status_code == 400 and "not several" in both.json()["detail"]
    unknown = supervisor.post(API, {"name": "x", "proposals": [ids[0], 2_000_000]}, content_type="application/json")
    assert unknown.status_code == 400 and "not one of this production's versions" in unknown.json()["detail"]
    nameless = supervisor.post(API, {"name": "  ", "proposals": ids}, content_type="application/json")
    assert nameless.status_code == 400
    playlist = supervisor.post(API, {"name": "ok", "proposals": ids[:2]}, content_type="application/json").json()
    wrong_order = supervisor.put(f"{API}{playlist['id']}/order/", {"items": [playlist["items"][0]["id"]]},
                                 content_type="application/json")
    assert wrong_order.status_code == 400 and "Name every item of the playlist once" in wrong_order.json()["detail"]
    # Nothing half-written: the refused requests left one playlist, in its order.
    assert Playlist.objects.count() == 1
    assert proposal_ids(supervisor.get(f"{API}{playlist['id']}/").json()) == ids[:2]
    with pytest.raises(NotAllowed):
        playlist_reorder(playlist=Playlist.objects.get(), actor=people["director"], item_ids=[])
    with pytest.raises(ServiceError):
        playlist_create(production=two_versions[0].production, actor=people["supervisor"], name="x",
                        board_filter={"colour": "red"})


def test_the_session_summary_as_json_csv_and_pdf(two_versions, people):
    first, second = two_versions
    playlist = playlist_create(production=first.production, actor=people["supervisor"], name="Dailies",
                               proposals=[second, first])
    with transaction.atomic():
        annotation_create(proposal=first, author=people["director"], frame=first.frame_in + 1, kind="arrow",
                          points=[[0.2, 0.2], [0.6, 0.6]], color="#ff0000")
    note = review_note_create(proposal=first, author=people["director"], frame=first.frame_in + 1,
                              text="Too warm on the cheek")
    review_note_create(proposal=first, author=people["artist"], frame=first.frame_in + 1, text="Will cool it",
                       parent=note)
    proposal_decide(proposal=first, director=people["director"], decision="request_changes", note="Cooler")
    proposal_decide(proposal=second, director=people["director"], decision="approve")

    summary = client_for(people["artist"]).get(f"{API}{playlist.pk}/summary/").json()
    assert [item["decision"] for item in summary["items"]] == ["Approve", "Request changes"]
    assert summary["items"][0]["notes"] == []
    notes = summary["items"][1]["notes"]
    assert [(n["text"], n["timecode"], n["drawings"]) for n in notes] == [
        ("Too warm on the cheek", "00:00:00:01", 1), ("Will cool it", "00:00:00:01", 1)]
    assert notes[1]["reply_to"] == note.pk

    # The thumbnail is the reviewed frame with the arrow drawn on it: red along the arrow, and
    # the picture itself elsewhere.
    editor = client_for(people["producer"])
    response = editor.get(notes[0]["thumbnail"])
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    plain = cv2.imdecode(np.frombuffer(annotated_frame_jpeg(first, first.frame_in), np.uint8), cv2.IMREAD_COLOR)
    drawn = cv2.imdecode(np.frombuffer(annotated_frame_jpeg(first, first.frame_in + 1), np.uint8), cv2.IMREAD_COLOR)
    height, width = drawn.shape[:2]
    on_arrow = drawn[int(height * 0.4), int(width * 0.4)].astype(int)
    assert on_arrow[2] > 180 and on_arrow[1] < 90 and on_arrow[0] < 90  # BGR: red
    assert np.abs(drawn[int(height * 0.85), int(width * 0.1)].astype(int)
                  - plain[int(height * 0.85), int(width * 0.1)].astype(int)).max() < 40

    page = editor.get(f"/productions/TEST/playlists/{playlist.pk}/summary/")
    assert page.status_code == 200 and "Too warm on the cheek" in page.content.decode()
    rows = list(csv.reader(io.StringIO(editor.get(f"/productions/TEST/playlists/{playlist.pk}/summary/?format=csv")
                                       .content.decode("utf-8-sig"))))
    assert rows[0][:6] == ["Item", "Shot", "Fix", "Version", "Status", "Decision"]
    assert [row[1] for row in rows[1:]] == ["CAR_0020", "CAR_0010", "CAR_0010"]
    assert rows[1][5] == "Approve" and rows[1][12] == ""
    assert rows[2][5] == "Request changes" and rows[2][9] == "00:00:00:01" and rows[2][12] == "Too warm on the cheek"
    pdf = editor.get(f"/productions/TEST/playlists/{playlist.pk}/summary/?format=pdf")
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert b"Too warm on the cheek" in pdf.content and b"/Subtype /Image" in pdf.content
    assert ReviewNote.objects.count() == 2
