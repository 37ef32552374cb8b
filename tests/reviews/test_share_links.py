"""Share links: who may make one, what a guest without an account sees (their name burnt in and
carried by the forensic mark), every view audited, and the refusals — an expired or revoked
link, a wrong password (throttled), a decision."""
import datetime
import io

import cv2
import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from engine.ops import watermark
from reviews.errors import NotAllowed, ServiceError
from reviews.models import AuditEvent, ForensicMark, ReviewNote, ShareGuest, ShareLink
from reviews.services.share_links import share_link_create, share_link_revoke

from .helpers import decode

pytestmark = pytest.mark.django_db(transaction=True)

WEEK = datetime.timedelta(days=7)


def arrive(client: Client, token: str, name: str, password: str = ""):
    return client.post(f"/share/{token}/", {"name": name, "password": password})


def test_a_guest_reviews_and_writes_notes_under_their_name_and_never_decides(proposal, people, settings, tmp_path):
    settings.LOUPE_FORENSIC_WATERMARK = True
    # Supervisors and producers share; others may not.
    with pytest.raises(NotAllowed):
        share_link_create(proposal=proposal, actor=people["artist"], expires_in=WEEK)
    with pytest.raises(ServiceError, match="between one hour and 30 days"):
        share_link_create(proposal=proposal, actor=people["producer"], expires_in=datetime.timedelta(days=31))
    link, token = share_link_create(proposal=proposal, actor=people["producer"], expires_in=WEEK,
                                    label="studio notes")
    assert link.token_sha256 != token and token not in str(AuditEvent.objects.filter(action="share_link.create")
                                                              .values_list("payload", flat=True).get())

    guest = Client()
    assert b'name="name"' in guest.get(f"/share/{token}/").content  # asks for the name first
    assert arrive(guest, token, "   ").status_code == 400
    assert arrive(guest, token, "Dana Exec").status_code == 302
    page = guest.get(f"/share/{token}/").content.decode()
    assert "You are reviewing as a guest, Dana Exec" in page
    assert "Approve" not in page and "Reject" not in page

    frame = proposal.frame_in + 2
    response = guest.get(f"/share/{token}/frames/after/{frame}.jpg")
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    visitor = ShareGuest.objects.get(link=link)
    mark = ForensicMark.objects.get(share_guest=visitor)
    assert mark.channel == ForensicMark.Channel.SHARE_LINK and mark.viewer == visitor.user
    assert watermark.detect(decode(response.content)).payload == mark.payload
    leaked = tmp_path / "leak.png"
    cv2.imwrite(str(leaked), cv2.cvtColor(decode(response.content), cv2.COLOR_RGB2BGR))
    out = io.StringIO()
    call_command("watermark_identify", str(leaked), stdout=out)
    assert "guest 'Dana Exec' through share link" in out.getvalue() and "made by producer" in out.getvalue()
    # The name is burnt in: the guest's frame differs from the stored review frame where the text is.
    assert response.content != guest.get(f"/share/{token}/frames/before/{frame}.jpg").content

    assert guest.post(f"/share/{token}/notes/", {"frame": frame, "text": "the window flares"}).status_code == 302
    note = ReviewNote.objects.get(proposal=proposal)
    assert (note.frame, note.text, note.author.get_full_name()) == (frame, "the window flares", "Dana Exec (guest)")
    assert "Dana Exec (guest)" in guest.get(f"/share/{token}/").content.decode()

    # Decide: refused. The guest has no account: the API turns them away.
    decide = guest.post(f"/api/productions/TEST/proposals/{proposal.pk}/decisions/",
                        {"decision": "approve"}, content_type="application/json")
    assert decide.status_code == 403
    assert guest.get(f"/review/{proposal.pk}/").status_code == 302  # to the sign-in page
    assert not visitor.user.is_active and not visitor.user.has_usable_password()
    assert not visitor.user.memberships.exists()

    views = AuditEvent.objects.filter(action="share_link.view", actor=visitor.user)
    assert {v.payload["what"].split("/")[-2] if v.payload["what"] != "page" else "page" for v in views} == \
        {"page", "after", "before"}
    assert AuditEvent.objects.filter(action="share_link.arrive", payload__guest="Dana Exec").count() == 1
    # The chain holds with the guest's events in it (this production: the external copy of the
    # checkpoints is shared by the whole test run, whose other productions are gone).
    call_command("verify_audit", "--production", "TEST", stdout=io.StringIO())


def test_expired_revoked_and_wrong_password_links_are_refused_clearly(small_proposal, people, settings):
    settings.LOUPE_SHARE_PASSWORD_FAILURES = 3
    link, token = share_link_create(proposal=small_proposal, actor=people["supervisor"], expires_in=WEEK,
                                    password="river-of-light")
    stored = ShareLink.objects.get(pk=link.pk).password_hash
    assert stored.startswith("pbkdf2_sha256$") and "river-of-light" not in stored

    guest = Client(REMOTE_ADDR="127.0.0.9")
    wrong = arrive(guest, token, "Sam Agent", "guess-one")
    assert wrong.status_code == 400 and "That password is not the link" in wrong.content.decode()
    arrive(guest, token, "Sam Agent", "guess-two")
    arrive(guest, token, "Sam Agent", "guess-three")
    throttled = arrive(guest, token, "Sam Agent", "river-of-light")  # even the right one, until the window ends
    assert throttled.status_code == 429 and int(throttled["Retry-After"]) > 0
    assert "Too many wrong passwords" in throttled.content.decode()
    assert not ShareGuest.objects.exists()
    assert AuditEvent.objects.filter(action="share_link.password_refused").count() == 3
    # Another address is not held back by this one's failures.
    other = Client(REMOTE_ADDR="127.0.0.10")
    assert arrive(other, token, "Sam Agent", "river-of-light").status_code == 302
    assert other.get(f"/share/{token}/frames/after/{small_proposal.frame_in}.jpg").status_code == 200

    share_link_revoke(link=link, actor=people["supervisor"])
    revoked = other.get(f"/share/{token}/")
    assert revoked.status_code == 410 and "revoked by the production" in revoked.content.decode()
    assert other.get(f"/share/{token}/frames/after/{small_proposal.frame_in}.jpg").status_code == 410
    assert other.post(f"/share/{token}/notes/", {"frame": small_proposal.frame_in, "text": "x"}).status_code == 410

    expiring, token = share_link_create(proposal=small_proposal, actor=people["supervisor"], expires_in=WEEK)
    ShareLink.objects.filter(pk=expiring.pk).update(expires_at=timezone.now() - datetime.timedelta(minutes=1))
    expired = Client().get(f"/share/{token}/")
    assert expired.status_code == 410 and "This share link expired on" in expired.content.decode()
    assert Client().get("/share/not-a-token/").status_code == 404

    # The page that makes links: supervisors and producers.
    supervisor = Client()
    supervisor.force_login(people["supervisor"])
    made = supervisor.post(f"/review/{small_proposal.pk}/share/", {"label": "agent", "days": "2", "password": ""})
    assert made.status_code == 200 and 'id="share-url"' in made.content.decode()
    assert ShareLink.objects.filter(label="agent").count() == 1
    refused = supervisor.post(f"/review/{small_proposal.pk}/share/", {"days": "90"})
    assert refused.status_code == 400 and "between one hour and 30 days" in refused.content.decode()
    artist = Client()
    artist.force_login(people["artist"])
    assert artist.get(f"/review/{small_proposal.pk}/share/").status_code == 403


def test_a_playlist_link_shares_its_versions_in_order_and_nothing_else(two_versions, people):
    """A playlist link: the guest steps through the playlist's versions in its order, notes on
    each, never decides; every view is audited; a version outside the playlist (or taken out
    of it) is out of reach; revoking the link closes every version at once."""
    from reviews.services.playlists import playlist_create, playlist_item_remove

    first, second = two_versions
    playlist = playlist_create(production=first.production, actor=people["supervisor"], name="For the studio",
                               proposals=[second, first])
    with pytest.raises(ServiceError, match="exactly one"):
        share_link_create(proposal=first, playlist=playlist, actor=people["supervisor"], expires_in=WEEK)
    with pytest.raises(NotAllowed):
        share_link_create(playlist=playlist, actor=people["director"], expires_in=WEEK)
    link, token = share_link_create(playlist=playlist, actor=people["producer"], expires_in=WEEK)
    assert (link.scope, link.playlist_id, link.proposal_id) == ("playlist", playlist.pk, None)

    guest = Client()
    assert arrive(guest, token, "Dana Exec").status_code == 302
    page = guest.get(f"/share/{token}/").content.decode()  # the playlist's first item: CAR_0020
    assert "CAR_0020" in page and "Item 1 of 2" in page and f"/share/{token}/versions/{first.pk}/" in page
    assert "Approve" not in page
    page = guest.get(f"/share/{token}/versions/{first.pk}/").content.decode()
    assert "CAR_0010" in page and "Item 2 of 2" in page and f"/share/{token}/versions/{second.pk}/" in page
    for version in (first, second):
        frame = guest.get(f"/share/{token}/versions/{version.pk}/frames/after/{version.frame_in}.jpg")
        assert frame.status_code == 200 and frame["Content-Type"] == "image/jpeg"
        assert guest.post(f"/share/{token}/notes/", {"proposal": version.pk, "frame": version.frame_in,
                                                     "text": f"note on {version.pk}"}).status_code == 302
    assert {(n.proposal_id, n.author.get_full_name()) for n in ReviewNote.objects.select_related("author")} == \
        {(first.pk, "Dana Exec (guest)"), (second.pk, "Dana Exec (guest)")}
    viewed = AuditEvent.objects.filter(action="share_link.view", payload__share_link=link.pk)
    assert {(e.target_id, e.payload["what"] == "page") for e in viewed} == \
        {(str(first.pk), True), (str(first.pk), False), (str(second.pk), True), (str(second.pk), False)}
    decide = guest.post(f"/api/productions/TEST/proposals/{first.pk}/decisions/", {"decision": "approve"},
                        content_type="application/json")
    assert decide.status_code == 403

    # Out of the playlist, out of reach: the page, its frames and notes on it.
    playlist_item_remove(item=playlist.items.get(proposal=first), actor=people["supervisor"])
    assert guest.get(f"/share/{token}/versions/{first.pk}/").status_code == 404
    assert guest.get(f"/share/{token}/versions/{first.pk}/frames/after/{first.frame_in}.jpg").status_code == 404
    assert guest.post(f"/share/{token}/notes/", {"proposal": first.pk, "frame": first.frame_in,
                                                 "text": "sneaky"}).status_code == 404
    assert "Item 1 of 1" in guest.get(f"/share/{token}/").content.decode()
    assert not ReviewNote.objects.filter(text="sneaky").exists()

    share_link_revoke(link=link, actor=people["supervisor"])
    assert guest.get(f"/share/{token}/versions/{second.pk}/").status_code == 410
    assert guest.get(f"/share/{token}/versions/{second.pk}/frames/after/{second.frame_in}.jpg").status_code == 410

    # The playlist's page offers the link to those who may share; the share page makes one.
    supervisor = Client()
    supervisor.force_login(people["supervisor"])
    assert "share-playlist-link" in supervisor.get(f"/productions/TEST/playlists/{playlist.pk}/").content.decode()
    made = supervisor.post(f"/productions/TEST/playlists/{playlist.pk}/share/", {"label": "agent", "days": "2"})
    assert made.status_code == 200 and 'id="share-url"' in made.content.decode()
    assert ShareLink.objects.get(label="agent").playlist_id == playlist.pk
    artist = Client()
    artist.force_login(people["artist"])
    assert artist.get(f"/productions/TEST/playlists/{playlist.pk}/share/").status_code == 403
