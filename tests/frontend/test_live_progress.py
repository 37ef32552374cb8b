"""Live job progress outside the jobs page (issue #6), in real Chromium: the shot board shows a
shot's job queued, running frame by frame and done, with a link to the new version, while the
engine renders it — without reloading."""
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from playwright.sync_api import expect, sync_playwright

from reviews.services.jobs import job_submit
from reviews.worker.jobs import job_execute

from .browser import launch, open_signed_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def in_thread(work):
    def run():
        try:
            return work()
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


def test_shot_board_shows_job_progress_live(asgi_server, fix_request, people):
    code = fix_request.production.code
    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = open_signed_in(browser, f"{asgi_server}/productions/{code}/shots/", "supervisor")
        row = page.locator(f"tr[data-shot='{fix_request.shot_id}']")
        expect(row).to_be_visible()
        page.wait_for_timeout(1000)  # the production socket is open
        # Every text the job cell shows, as it changes.
        page.evaluate("""(selector) => {
            window.jobTexts = [];
            const cell = document.querySelector(selector);
            new MutationObserver(() => window.jobTexts.push(cell.textContent.trim()))
                .observe(cell, { childList: true, subtree: true, characterData: true }); }""",
                      f"tr[data-shot='{fix_request.shot_id}'] .job")

        # Database work runs in a thread: Playwright's sync API keeps an event loop in this one.
        job = in_thread(lambda: job_submit(fix_request=fix_request, actor=people["artist"])[0])
        expect(row.locator(f"[data-job='{job.pk}']")).to_have_text("Queued 0/6")
        # The engine renders it here (as a worker would); its progress crosses Redis to the page.
        proposal = in_thread(lambda: job_execute(job_id=job.pk, worker="test"))
        expect(row.locator(f"[data-job='{job.pk}']")).to_contain_text("Succeeded 6/6")
        expect(row.locator("a.new-version")).to_have_text("v001 ready")
        assert row.locator("a.new-version").get_attribute("href") == f"/review/{proposal.pk}/"
        texts = page.evaluate("window.jobTexts")
        assert any(text.startswith("Running") for text in texts), texts
        browser.close()


def test_production_page_updates_live_on_the_embedded_defaults(embedded_asgi_server, fix_request, people):
    """No Redis: the web process relays the job's progress and its new version from the
    database (reviews/live.py), so the production page does not keep saying "Queued 0/6"."""
    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = open_signed_in(browser, f"{embedded_asgi_server}/productions/TEST/", "supervisor")
        row = page.locator(f"tr[data-fix-request='{fix_request.pk}']")
        expect(row).to_be_visible()
        page.wait_for_timeout(1500)  # the production socket is open and the relay has taken stock
        job = in_thread(lambda: job_submit(fix_request=fix_request, actor=people["artist"])[0])
        expect(row.locator(".job")).to_have_text("Queued 0/6")
        proposal = in_thread(lambda: job_execute(job_id=job.pk, worker="test"))
        expect(row.locator(".job")).to_have_text("Succeeded 6/6")
        expect(row.locator(".versions a")).to_have_attribute("href", f"/review/{proposal.pk}/")
        browser.close()
