"""In real Chromium: a reviewer's room whose web process dies (kill -9) says so, and is live
again on its own once a web process answers at the same address (as nginx gives it another),
with the room's state back."""
import subprocess

import pytest
from playwright.sync_api import expect, sync_playwright

from portal.processes import asgi_server_command

from ..conftest import REPO, _free_port, _stop, wait_for_port
from .browser import launch, open_signed_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

#: A hang guard for the way back (a new web process starting on a loaded machine), not a target:
#: bench/cluster.py measures reconnect times.
BACK_WITHIN_MS = 90_000


def _web_process(process_env, port: int) -> subprocess.Popen:
    process = subprocess.Popen(asgi_server_command(port=port), cwd=REPO, env=process_env)
    wait_for_port(port, process, "The web process")
    return process


def test_the_review_room_is_live_again_after_its_web_process_is_replaced(process_env, small_proposal, people):
    port = _free_port()
    first = _web_process(process_env, port)
    second = None
    try:
        with sync_playwright() as playwright:
            browser = launch(playwright)
            page = open_signed_in(browser, f"http://127.0.0.1:{port}/review/{small_proposal.pk}/", "director")
            connection = page.locator("#connection")
            expect(connection).to_have_text("live")
            expect(page.locator("#presenter-line")).to_have_text("Presenter: director")  # the first in presents

            first.kill()
            first.wait()
            expect(connection).to_contain_text("disconnected")
            second = _web_process(process_env, port)
            expect(connection).to_have_text("live", timeout=BACK_WITHIN_MS)
            # The room's state came back with the socket: the director still presents.
            expect(page.locator("#presenter-line")).to_have_text("Presenter: director")
            browser.close()
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                _stop(process)
