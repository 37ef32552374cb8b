"""Driving Debian's Chromium with Playwright: launch flags for this closed network, and signing in."""
CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling Google's hosts, which this
# machine's network refuses.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


#: How long an ``expect`` waits for the page (ms): pages update over sockets, and a loaded 2-core
#: machine (CI beside other work) can take seconds to deliver.
EXPECT_TIMEOUT_MS = 15_000


def launch(playwright):
    from playwright.sync_api import expect

    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def open_signed_in(browser, url: str, username: str):
    """A new page of ``browser`` (or of a browser context) at ``url``, signed in on the way as
    ``username`` (test password ``pw-<name>``).

    Returns once the page after the password form has loaded (its scripts have run, so a click is
    heard): the target, or the second-factor step for people who have one."""
    page = browser.new_page()
    page.goto(url)
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f"pw-{username}")
    page.click("button[type=submit]")
    page.wait_for_url(lambda address: not address.split("?")[0].endswith("/login/"))
    return page
