"""A duty officer's night in headless Chromium against `run.py serve` as a subprocess: first login with
the one-time password from `run.py users add`, compose an exercise from a 定型文, read the previews,
send it, watch the dashboard reach 100 % over SSE, cancel it, and see the cancellation on the public page.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.async_api import Browser, Page, expect

from tests.processes import run_cli, serving

NEW_PASSWORD = "a passphrase for the night shift"
LONG = 30_000  # ms: the service delivers in well under a second; this only bounds a failure


async def log_in_first_time(page: Page, base: str, name: str, one_time: str) -> None:
    """Log in with the one-time password and replace it, as the console demands."""
    await page.goto(f"{base}/console/")
    await expect(page).to_have_url(re.compile(r"/console/login\?next="))
    await page.fill("input[name=name]", name)
    await page.fill("input[name=password]", one_time)
    await page.click("button[type=submit]")
    await expect(page).to_have_url(re.compile(r"/console/password$"))
    await page.fill("input[name=current]", one_time)
    await page.fill("input[name=new]", NEW_PASSWORD)
    await page.fill("input[name=again]", NEW_PASSWORD)
    await page.click("button[type=submit]")
    await expect(page).to_have_url(re.compile(r"/console/dashboard$"))
    await expect(page.locator(".mode-banner")).to_contain_text("訓練モード")


async def test_compose_preview_send_watch_and_cancel_an_exercise_in_chromium(
    browser: Browser, run_py: list[str], site: Callable[..., Path]
) -> None:
    config = site({"website": {"show_exercises": True}})
    made = await run_cli(run_py, config, "users", "add", "sato", "--role", "operator")
    assert made.rc == 0, made.stderr
    one_time = made.stdout.strip().splitlines()[-1]

    async with serving(run_py, config) as service:
        await service.wait_for("serving on")
        base = f"http://127.0.0.1:{service.port}"
        context = await browser.new_context(locale="ja-JP")
        page = await context.new_page()
        await log_in_first_time(page, base, "sato", one_time)

        # compose from the 避難所開設 定型文: its slots from the form, its Japanese written from them
        await page.goto(f"{base}/console/compose")
        await page.click("a[href*='phrase=shelter_open']")
        await page.select_option("select[name=slot_hazard]", "大雨")
        await page.check("input[name=slot_shelter][value=間々田小学校]")
        await page.click("button[name=do][value=fill]")
        await expect(page.locator("input[name=title]")).to_have_value("間々田小学校を開設しました")
        await expect(page.locator("#phrase-edited")).to_be_hidden()
        await page.fill("textarea[name=instruction]", "早めに避難してください。")  # the officer's own words
        await expect(page.locator("#phrase-edited")).to_be_visible()  # other languages: notices
        await page.click("button[name=do][value=fill]")  # back to the 定型文's words
        await page.click("button[name=do][value=preview]:not(.default-submit)")
        preview = page.locator(".preview")
        english = preview.locator('section.language-version[data-lang="en"]')
        await expect(english).to_have_attribute("data-source", "phrasebook")
        await expect(english).to_contain_text("定型文から")
        await expect(preview.locator('section[data-lang="ja-x-easy"] ruby').first).to_be_visible()
        await expect(preview).to_contain_text("/280")  # the X post with its weighted count
        await expect(preview).to_contain_text("保存するとFMの音声を試聴できます")
        await expect(preview.locator(".ticker-length")).to_contain_text("／60文字")  # the ticker line's length
        await expect(preview.locator(".preview-email .preview-subject")).to_contain_text("間々田小学校")
        await expect(preview.locator(".fm-script")).to_contain_text("こちらは、小山市です")
        await page.click("button[name=do][value=save]")
        await expect(page).to_have_url(re.compile(r"/console/alerts/[0-9a-f-]+$"))
        alert_id = page.url.rsplit("/", 1)[1]
        await expect(page.locator("audio")).to_have_count(1)  # stored: the FM script can be heard
        assert "【訓練】" in await page.locator(".preview").inner_text()

        # the dashboard in a second tab, then send from the alert's page: the dashboard follows live
        dashboard = await context.new_page()
        await dashboard.goto(f"{base}/console/dashboard")
        state = dashboard.locator(f'[data-alert-state="{alert_id}"]')
        await expect(state).to_have_text("下書き")
        await page.click("button:has-text('訓練として送信')")
        await expect(state).to_have_text("配信完了", timeout=LONG)
        for channel in ("sns", "website", "ticker", "fm"):  # email and LINE: no tester subscribed, nothing to do
            row = dashboard.locator(f'[data-progress="{alert_id}:{channel}"] [data-field="percent"]')
            await expect(row).to_have_text("100 %")

        # a cancel is one action behind one confirmation (a tick for an exercise); the public page says so
        await page.reload()
        await page.click("a:has-text('取り消す…')")
        await page.fill("input[name=reason]", "誤って送信しました。")
        await page.check("input[name=confirm]")
        await page.click("button:has-text('取り消す（すぐに送信）')")
        await expect(page).to_have_url(re.compile(r"/console/alerts/[0-9a-f-]+$"))
        cancel_id = page.url.rsplit("/", 1)[1]
        assert cancel_id != alert_id
        # the cancel's page follows its delivery over SSE too
        await expect(page.locator(f'[data-alert-state="{cancel_id}"]')).to_have_text("配信完了", timeout=LONG)
        public = await context.new_page()
        await public.goto(f"{base}/alerts/{alert_id}")
        await expect(public.locator("body")).to_contain_text("取り消されました")
        await expect(public.locator("body")).to_contain_text("訓練")
        await page.reload()  # the cancel's page tells how long the click took to reach the first channel
        await expect(page.locator(".timing")).to_contain_text("最初の配信まで")
        await context.close()
        assert await service.stop() == 0, service.tail()
    assert NEW_PASSWORD not in "\n".join(service.lines) and one_time not in "\n".join(service.lines)
