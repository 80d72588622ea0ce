"""A resident's whole email subscription against the real service: `run.py serve` as a subprocess,
mail through aiosmtpd with STARTTLS and AUTH, links taken from the mails it received.

Subscribe on the page → confirmation mail → follow its link → confirm → an alert sent with
`run.py send` arrives → the List-Unsubscribe one-click POST from that alert → nothing more arrives.
"""

from __future__ import annotations

import asyncio
import re
import urllib.parse
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import aiohttp
import pytest
import trustme

from tests.processes import Service, free_port, query, run_cli
from tests.smtp_server import PASSWORD, USER, Relay

ADDRESS = "taro.mamada@example.jp"
SiteFactory = Callable[..., Path]


async def mails(relay: Relay, n: int, within: float = 30.0) -> list[EmailMessage]:
    """The relay's first ``n`` messages, waiting for them to arrive."""
    arrived = await asyncio.to_thread(relay.mailbox.wait, n, within)
    assert arrived, f"{len(relay.mailbox.received)} mails arrived within {within:g} s, not {n}"
    return [m.parsed() for m in relay.mailbox.received[:n]]


async def settled(db: Path, alert_id: str, within: float = 30.0) -> None:
    """Wait until the service has finished delivering ``alert_id`` (its state is done)."""
    deadline = asyncio.get_running_loop().time() + within
    while query(db, "SELECT state FROM alerts WHERE id = ?", alert_id) != [("done",)]:
        assert asyncio.get_running_loop().time() < deadline, f"alert {alert_id} not done within {within:g} s"
        await asyncio.sleep(0.05)


def text_of(mail: EmailMessage) -> str:
    body = mail.get_body(("plain",))
    assert body is not None
    content: str = body.get_content()
    return content


async def test_subscribe_confirm_receive_and_unsubscribe_in_one_click(
    site: SiteFactory,
    relay: Relay,
    ca: trustme.CA,
    run_py: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))  # the relay's certificate is from this CA
    monkeypatch.setenv("SMTP_USERNAME", USER)
    monkeypatch.setenv("SMTP_PASSWORD", PASSWORD)
    monkeypatch.setenv("BROADCASTER_SECRET_KEY", "e2e-secret-key-0123456789abcdef")
    config = site(
        {
            "city": {"public_url": base},
            "email": {"host": "127.0.0.1", "port": relay.port, "tls": "starttls", "timeout": 10.0},
            "channels.email": {"batch_size": 10},
        }
    )
    db = tmp_path / "var" / "broadcaster.db"

    service = await Service.start(run_py, config, port, tmp_path)
    try:
        await service.wait_for("serving on")
        async with aiohttp.ClientSession(base_url=base, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            form = await (await http.get("/subscribe")).text()
            [csrf] = re.findall(r'name="csrf" value="([^"]+)"', form)
            data = [("csrf", csrf), ("address", ADDRESS), ("categories", "crime"), ("language", "ja")]
            sent = await http.post("/subscribe", data=data)
            assert sent.status == 200 and "確認メールをお送りしました" in await sent.text()

            [confirmation] = await mails(relay, 1)
            assert confirmation["To"] == ADDRESS
            [link] = re.findall(r"http://\S+", text_of(confirmation))
            assert link.startswith(f"{base}/subscribe/confirm?t=")
            page = await (await http.get(link)).text()
            assert query(db, "SELECT state FROM subscribers") == [("pending",)]
            [token] = re.findall(r'name="t" value="([^"]+)"', page)
            [csrf] = re.findall(r'name="csrf" value="([^"]+)"', page)
            done = await http.post("/subscribe/confirm", data={"csrf": csrf, "t": token})
            assert done.status == 200 and "登録が完了しました" in await done.text()
            assert query(db, "SELECT state FROM subscribers") == [("active",)]

            send = ["send", "--category", "crime", "--level", "2", "--title", "不審者情報", "--yes"]
            result = await run_cli(run_py, config, *send, "--body", "間々田地区で声かけ事案がありました。")
            assert result.rc == 0, result.stderr
            [_, alert] = await mails(relay, 2)
            assert alert["Subject"].endswith("不審者情報") and "間々田地区" in text_of(alert)
            assert alert["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            [https_link] = re.findall(r"<(http[^>]+)>", alert["List-Unsubscribe"])

            # what a mail provider does for RFC 8058: POST to the header's URL, no cookies, no page
            parts = urllib.parse.urlsplit(https_link)
            assert f"{parts.scheme}://{parts.netloc}" == base
        async with aiohttp.ClientSession() as provider:
            one_click = await provider.post(https_link, data={"List-Unsubscribe": "One-Click"})
            assert one_click.status == 200, await one_click.text()
        assert query(db, "SELECT state FROM subscribers") == [("gone",)]

        again = await run_cli(run_py, config, *send, "--body", "二度目のお知らせ")
        assert again.rc == 0, again.stderr
        [(second,)] = query(db, "SELECT id FROM alerts ORDER BY created_at DESC LIMIT 1")
        await settled(db, second)  # every channel has finished with it: a mail would have arrived by now
        assert query(db, "SELECT COUNT(*) FROM deliveries WHERE alert_id = ? AND channel = 'email'", second) == [(0,)]
        assert len(relay.mailbox.received) == 2
    finally:
        rc = await service.stop()
    assert rc == 0, service.tail()
    assert ADDRESS not in "\n".join(service.lines), "an address reached the service log"
