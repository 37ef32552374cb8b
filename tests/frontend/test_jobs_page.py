"""In real Chromium: an artist sees a failed job's error on the jobs page, retries it, and
cancels the new job while it waits in the queue."""
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from reviews.models import Job, JobState
from reviews.worker.jobs import job_execute

from .browser import launch, open_signed_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_failed_job_is_explained_retried_and_the_retry_cancelled(asgi_server, fix_request, people):
    clip = fix_request.shot.clip
    clip.source_path = str(Path(clip.source_path).with_name("offline_reel.mp4"))
    clip.save()
    failed = Job.objects.create(production=fix_request.production, fix_request=fix_request,
                                frames_total=fix_request.duration_frames)
    job_execute(job_id=failed.pk, worker="test")

    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = open_signed_in(browser, f"{asgi_server}/productions/{fix_request.production.code}/jobs/", "artist")
        row = page.locator(f"tr[data-job='{failed.pk}']")
        expect(row.locator(".state")).to_contain_text("offline_reel.mp4")
        row.locator("[data-action=retry]").click()

        queued = page.locator("tr[data-state=queued]")
        expect(queued).to_have_count(1)
        retried = page.locator(f"tr[data-job='{queued.get_attribute('data-job')}']")
        retried.locator("[data-action=cancel]").click()
        expect(retried.locator(".state")).to_have_text("Cancelled")
        expect(retried.locator("[data-action=retry]")).to_be_visible()
        browser.close()

    new_job = Job.objects.exclude(pk=failed.pk).get()
    assert new_job.state == JobState.CANCELLED and new_job.fix_request_id == fix_request.pk


def test_a_double_click_on_run_makes_one_job(asgi_server, fix_request, people):
    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = open_signed_in(browser, f"{asgi_server}/productions/{fix_request.production.code}/", "artist")
        statuses = []
        page.on("response", lambda response: statuses.append(response.status)
                if response.url.endswith(f"/fix-requests/{fix_request.pk}/jobs/") else None)
        page.dblclick(f"button[data-run='{fix_request.pk}']")
        for _ in range(100):  # until both clicks have been answered
            if len(statuses) == 2:
                break
            page.wait_for_timeout(100)
        expect(page.locator(f"tr[data-fix-request='{fix_request.pk}'] .job")).to_contain_text("Queued")
        browser.close()

    assert sorted(statuses) == [200, 201]
    assert Job.objects.filter(fix_request=fix_request).count() == 1
