"""The REST API of share links (supervisors and producers make, list and revoke them) and of a
person's notifications (list, mark read, preferences): paginated like the other lists, with
errors a person can act on; and the OpenAPI schema generates without a warning."""
import io

import pytest
from django.core.management import call_command
from django.test import Client

from reviews.models import AuditEvent, Notification, NotificationKind, NotificationPreferences, ShareLink

from .test_permission_matrix import add_objects

pytestmark = pytest.mark.django_db

API = "/api/productions/TEST/share-links/"


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_share_links_through_the_api(production, people):
    objects = add_objects(production, "API")
    supervisor = client_of(people["supervisor"])
    made = supervisor.post(API, {"playlist": objects["playlist"], "days": 2, "password": "studio-cut-2",
                                 "label": "studio"}, content_type="application/json")
    assert made.status_code == 201, made.json()
    link = made.json()
    assert (link["scope"], link["playlist"], link["proposal"], link["state"], link["password"]) == \
        ("playlist", objects["playlist"], None, "live", True)
    token = link["url"].rsplit("/share/", 1)[1].strip("/")
    assert ShareLink.objects.get(pk=link["id"]).token_sha256 != token and "password" not in str(link.get("url"))
    # The guest's page answers the token (asking for the name first).
    assert b'name="name"' in Client().get(f"/share/{token}/").content

    one = supervisor.post(API, {"proposal": objects["proposal"], "days": 1}, content_type="application/json")
    assert one.status_code == 201 and one.json()["scope"] == "proposal"
    # Errors a person can act on; nothing made.
    for body, message in (({"days": 1}, "exactly one"),
                          ({"proposal": objects["proposal"], "playlist": objects["playlist"], "days": 1}, "exactly one"),
                          ({"proposal": objects["proposal"], "days": 90}, "between one hour and 30 days"),
                          ({"proposal": objects["proposal"], "days": 1, "password": "short"}, "at least 8"),
                          ({"proposal": 2_000_000_000, "days": 1}, "not one of this production's versions"),
                          ({"playlist": 2_000_000_000, "days": 1}, "not one of this production's playlists"),
                          ({"proposal": objects["proposal"]}, "days")):
        refused = supervisor.post(API, body, content_type="application/json")
        assert refused.status_code == 400 and message in refused.json()["detail"], (body, refused.json())
    assert ShareLink.objects.count() == 3  # the two, and add_objects' own

    listed = supervisor.get(API, {"scope": "playlist"}).json()
    assert (listed["count"], [row["id"] for row in listed["results"]]) == (1, [link["id"]])
    assert "url" not in listed["results"][0]  # the token is never shown again
    assert supervisor.get(API, {"limit": 1}).json()["next"] is not None  # paginated like the other lists
    assert supervisor.get(API, {"proposal": objects["proposal"]}).json()["count"] == 2
    playlists = supervisor.get("/api/productions/TEST/playlists/").json()  # paginated too, now
    assert playlists["count"] == 1 and len(playlists["results"][0]["items"]) == 2

    revoked = supervisor.post(f"{API}{link['id']}/revoke/")
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    assert revoked.json()["revoked_by"] == "supervisor"
    assert supervisor.post(f"{API}{link['id']}/revoke/").json()["detail"] == "This share link is revoked already."
    assert Client().get(f"/share/{token}/").status_code == 410
    assert AuditEvent.objects.filter(action__in=["share_link.create", "share_link.revoke"]).count() == 3

    # Supervisors and producers only: the others may not even list them.
    artist = client_of(people["artist"])
    assert artist.get(API).status_code == 403
    assert artist.post(API, {"proposal": objects["proposal"], "days": 1},
                       content_type="application/json").status_code == 403
    assert client_of(people["producer"]).get(API).status_code == 200


def test_notifications_through_the_api(production, people):
    artist, director = people["artist"], people["director"]
    for index, kind in enumerate((NotificationKind.ASSIGNMENT, NotificationKind.DECISION, NotificationKind.JOB_FAILED)):
        Notification.objects.create(recipient=artist, production=production, kind=kind, text=f"news {index}",
                                    url="/assignments/")
    Notification.objects.create(recipient=director, production=production, kind=NotificationKind.DECISION,
                                text="for the director")
    Notification.objects.create(recipient=artist, production=production, kind=NotificationKind.DECISION,
                                text="email only", in_app=False)
    client = client_of(artist)
    listed = client.get("/api/account/notifications/").json()
    assert listed["count"] == 3 and [n["text"] for n in listed["results"]] == ["news 2", "news 1", "news 0"]
    assert listed["results"][0]["production"] == "TEST" and listed["results"][0]["read_at"] is None
    assert client.get("/api/account/notifications/", {"limit": 2}).json()["next"] is not None
    assert client.get("/api/account/notifications/", {"kind": "decision"}).json()["count"] == 1

    first = listed["results"][-1]["id"]
    theirs = Notification.objects.get(recipient=director).pk
    marked = client.post("/api/account/notifications/read/", {"ids": [first, theirs]}, content_type="application/json")
    assert marked.json() == {"marked": 1}  # someone else's is not touched
    assert Notification.objects.get(pk=theirs).read_at is None
    assert client.get("/api/account/notifications/", {"unread": "true"}).json()["count"] == 2
    assert client.post("/api/account/notifications/read/", {}, content_type="application/json").json() == \
        {"marked": 2}
    assert client.get("/api/account/notifications/", {"unread": "true"}).json()["count"] == 0

    preferences = client.get("/api/account/notifications/preferences/").json()
    assert preferences["email_delivery"] == "immediate"
    assert preferences["kinds"]["decision"] == {"in_app": True, "email": True}
    changed = client.patch("/api/account/notifications/preferences/",
                           {"kinds": {"decision": {"in_app": True, "email": False}}, "email_delivery": "daily_digest"},
                           content_type="application/json")
    assert changed.status_code == 200
    assert changed.json()["kinds"]["decision"] == {"in_app": True, "email": False}
    assert changed.json()["kinds"]["assignment"] == {"in_app": True, "email": True}  # not named: kept
    stored = NotificationPreferences.objects.get(user=artist)
    assert not stored.wants("decision", "email") and stored.email_delivery == "daily_digest"
    unknown = client.patch("/api/account/notifications/preferences/", {"kinds": {"gossip": {"in_app": True,
                                                                                           "email": True}}},
                           content_type="application/json")
    assert unknown.status_code == 400 and "gossip" in unknown.json()["detail"]
    assert NotificationPreferences.objects.get(user=artist).kinds == stored.kinds  # nothing half-written
    assert Client().get("/api/account/notifications/").status_code in (401, 403)


def test_the_openapi_schema_generates_without_warnings(tmp_path):
    """drf-spectacular's generator raises on its first warning (``--fail-on-warn``) and the
    schema validates against the OpenAPI specification (``--validate``)."""
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(tmp_path / "schema.yaml"),
                 stdout=io.StringIO(), stderr=io.StringIO())
    assert "/api/productions/{code}/share-links/" in (tmp_path / "schema.yaml").read_text()
