"""Every page as every role, in real Chromium: no script error, no console error and no failed
request (a broken thumbnail, a missing favicon, a 500) anywhere — and an unknown address answers
with Loupe's own page, navigation included (issue 25)."""
import pytest
from playwright.sync_api import sync_playwright

from reviews.models import Role

from .browser import launch, open_signed_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

MISSING = "/productions/TEST/no-such-page/"


def pages_for(role: str, proposal, playlist) -> list[str]:
    shot = proposal.fix_request.shot
    pages = ["/", "/assignments/", "/account/security/", "/productions/TEST/", "/productions/TEST/shots/",
             f"/productions/TEST/shots/{shot.pk}/", "/productions/TEST/jobs/", "/productions/TEST/consent/",
             f"/review/{proposal.pk}/", "/api/", "/api/docs/", MISSING]
    # Dailies: the playlists, one playlist, its live session and its summary (a note's thumbnail).
    pages += ["/productions/TEST/playlists/", f"/productions/TEST/playlists/{playlist.pk}/",
              f"/productions/TEST/playlists/{playlist.pk}/session/", f"/productions/TEST/playlists/{playlist.pk}/summary/"]
    pages += ["/notifications/", "/notifications/preferences/"]
    if role in (Role.SUPERVISOR, Role.PRODUCER):
        pages += [f"/review/{proposal.pk}/share/", f"/productions/TEST/playlists/{playlist.pk}/share/"]
    if role == Role.PRODUCER:
        pages += [f"/productions/TEST/reports/{key}/" for key in ("consent", "disclosure", "audit", "scorecard")]
    return pages


def test_every_page_as_every_role_has_no_errors(asgi_server, awaiting_consent, people):
    from reviews.services.playlists import playlist_create
    from reviews.services.review_notes import review_note_create

    proposal = awaiting_consent.fix_request.proposals.select_related("fix_request__shot").get()
    playlist = playlist_create(production=proposal.production, actor=people["supervisor"], name="Dailies",
                               proposals=[proposal])
    review_note_create(proposal=proposal, author=people["director"], frame=proposal.frame_in, text="Warmer")
    walks = {role: pages_for(role, proposal, playlist) for role in Role.values}  # the database is read before the browser runs
    problems = []
    with sync_playwright() as playwright:
        browser = launch(playwright)
        for role in Role.values:
            page = open_signed_in(browser, f"{asgi_server}/", role)
            page.wait_for_url(f"{asgi_server}/")
            where = {"url": ""}
            page.on("pageerror", lambda error: problems.append((role, where["url"], f"script error: {error}")))
            page.on("console", lambda message: message.type == "error" and not (
                where["url"] == MISSING and "status of 404" in message.text)
                and problems.append((role, where["url"], f"console: {message.text}")))
            page.on("requestfailed", lambda request: "ERR_ABORTED" not in (request.failure or "")  # left by a navigation
                    and problems.append((role, where["url"], f"failed: {request.url} {request.failure}")))
            page.on("response", lambda response: response.status >= 400 and not (
                where["url"] == MISSING and response.url.endswith(MISSING))
                and problems.append((role, where["url"], f"HTTP {response.status}: {response.url}")))
            for url in walks[role]:
                where["url"] = url
                response = page.goto(f"{asgi_server}{url}", wait_until="networkidle")
                if url == "/api/docs/":  # Swagger UI, from this installation's static files, shows the schema
                    page.locator(".swagger-ui .info .title").wait_for()
                if url == MISSING:
                    assert response.status == 404
                    assert page.locator("header.bar a.brand").count() == 1  # the navigation
                    assert page.locator("main a[href='/']").count() == 1
            page.context.close()
        browser.close()
    assert problems == []
