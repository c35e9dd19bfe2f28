"""The live agent desktop in headless Chromium (Playwright) over real SIP calls.

A preview campaign: agent 1001 (logged in on a nailed-up SIPp line) signs in on the page, asks
for the next lead, sees its custom fields, dials it; a SIPp callee answers and the page shows
the call (its id, the campaign, the lead's fields) without a reload, then the ended call
awaiting a disposition; in wrap-up the agent asks for more time (+30 s), then sets the
disposition from the page and it is in the database. A lead field holding HTML is shown as
text.

An inbound call: a SIPp caller reaches agent 1001's SIPp phone; from the page the agent holds
and resumes the caller, is told why a transfer to an unknown queue fails, and transfers the
caller to the billing queue, whose agent takes the call; the page shows it as the last call.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright import async_api
from sqlalchemy import select

from callcenter.engine import Engine
from callcenter.store.models import Call, CallEvent, Disposition
from dialer.store import LeadAttempt
from tests.integration.test_sip_preview import CALLED, preview_campaign
from tests.support.sip_engine import connected_call, finished_call, make_caller, two_agents

MARKUP = "<b>VIP</b> & co"


async def signed_in(browser: Any, engine: Engine, code: str) -> Any:
    """A page of the engine's desktop, signed in as agent ``code`` and following its desk."""
    page = await browser.new_page()
    await page.goto(f"http://127.0.0.1:{engine.http_port}/desktop")
    await page.get_by_label("Agent code").fill(code)
    await page.get_by_role("button", name="Sign in").click()
    await async_api.expect(page.locator("#connection")).to_have_text("live")
    return page


SCRIPT = "Hello {{first_name}}, about your {{plan}} plan: {{note}}"
SPOKEN = f"Hello P0, about your gold plan: {MARKUP}"  # a lead's markup stays text


async def test_the_desktop_pops_a_real_call_and_sets_its_disposition(
        engine: Engine, tmp_path: Path, browser: Any) -> None:
    expect = async_api.expect
    # The line logs out 20 s after its login: everything up to the dial happens before.
    callee, line = await preview_campaign(engine, tmp_path, "callee_preview.xml", CALLED,
                                          script=SCRIPT, plan="gold", note=MARKUP)
    try:
        page = await signed_in(browser, engine, "1001")
        await expect(page.locator("#state")).to_have_text("ready")
        await page.get_by_role("button", name="Next lead: pv").click()
        lead = page.get_by_label("Next lead")
        await expect(lead).to_contain_text(CALLED)
        await expect(lead).to_contain_text("gold")
        await expect(page.get_by_label("Preview script")).to_have_text(SPOKEN)
        await expect(page.locator("#state")).to_have_text("paused")  # reading the lead
        await expect(page.locator("#state-reason")).to_have_text("(preview)")
        await page.get_by_role("button", name="Dial").click()

        call_id = await connected_call(engine, "1001")
        details = page.get_by_label("Call details")
        await expect(details).to_contain_text(call_id)  # pushed: no reload
        await expect(details).to_contain_text("pv")
        await expect(details).to_contain_text(CALLED)
        fields = page.get_by_label("Lead")
        await expect(fields.locator("tr", has_text="plan")).to_contain_text("gold")
        await expect(fields.locator("tr", has_text="note")).to_contain_text(MARKUP)
        await expect(page.get_by_label("Script", exact=True)).to_have_text(SPOKEN)
        assert await page.locator("#lead b").count() == 0  # the CSV's text, not markup
        await expect(page.get_by_label("Call", exact=True)).to_have_value(call_id)

        # The callee hangs up after 3 s: the call waits for its disposition.
        await expect(page.locator("#last-call")).to_contain_text(call_id, timeout=15_000)
        await expect(page.locator("#no-call")).to_be_visible()
        await expect(page.locator("#state")).to_have_text("wrap-up")
        await page.get_by_role("button", name="More time (+30 s)").click()  # of 10 s
        result = page.locator("#result")
        await expect(result).to_have_text(re.compile(r"^Wrap-up extended: \d+ s left\.$"))
        assert 30 < int(re.findall(r"\d+", await result.inner_text())[0]) <= 40
        await page.get_by_label("Notes").fill("bought the gold plan")
        await page.get_by_role("button", name="Sale").click()
        await expect(page.locator("#result")).to_have_text(
            f"Disposition sale saved on call {call_id}.")
        await expect(page.locator("#last-call")).to_be_hidden()
        await expect(page.get_by_label("Call", exact=True)).to_have_value("")
    finally:
        result = await callee.wait(30)
        line_result = await line.wait(40)
    assert result.ok, result.stderr + result.errors
    assert line_result.ok, line_result.stderr + line_result.errors

    def read(s):  # type: ignore[no-untyped-def]
        code = s.scalar(select(Disposition.code).join(Call, Call.disposition_id == Disposition.id)
                        .where(Call.id == call_id))
        notes = s.scalar(select(CallEvent.data).where(CallEvent.call_id == call_id,
                                                      CallEvent.kind == "disposition"))
        return code, notes, s.scalar(select(LeadAttempt.disposition))

    code, notes, attempt_disposition = await engine.db.run(read)
    assert code == "sale" and notes == {"code": "sale", "notes": "bought the gold plan"}
    assert attempt_disposition == "sale"  # the campaign's attempt took it too


async def test_the_agent_holds_and_transfers_a_real_call_from_the_page(
        engine: Engine, tmp_path: Path, browser: Any) -> None:
    expect = async_api.expect
    phone, billing = await two_agents(engine, tmp_path, 30000, 2000)
    try:
        page = await signed_in(browser, engine, "1001")
        await expect(page.locator("#state")).to_have_text("ready")
        caller = make_caller(tmp_path, engine)
        await caller.start()
        call_id = await connected_call(engine, "1001")
        details = page.get_by_label("Call details")
        await expect(details).to_contain_text(call_id)
        await expect(details).to_contain_text("inbound")
        await expect(details).to_contain_text("support")
        await expect(page.locator("#state")).to_have_text("on a call")

        await page.get_by_role("button", name="Hold").click()
        await expect(page.locator("#result")).to_have_text("The caller is on hold.")
        await expect(details).to_contain_text("On hold")  # the held event, through the bus
        await expect(page.get_by_role("button", name="Hold")).to_be_disabled()
        await page.get_by_role("button", name="Resume").click()
        await expect(details).not_to_contain_text("On hold")

        await page.get_by_label("Transfer to").fill("queue:nope")
        await page.get_by_role("button", name="Transfer", exact=True).click()
        await expect(page.locator("#result.error")).to_have_text("no queue 'nope'")
        await page.get_by_label("Transfer to").fill("queue:billing")
        await page.get_by_role("button", name="Transfer", exact=True).click()
        await expect(page.locator("#last-call")).to_contain_text(call_id)  # awaits 1001's code
        await expect(page.locator("#no-call")).to_be_visible()
        await expect(page.get_by_label("Call", exact=True)).to_have_value(call_id)
        result = await caller.wait(60)
        assert result.ok, result.stderr + result.errors
        assert (await billing.wait(10)).ok
    finally:
        for peer in (phone, billing):
            if peer.proc is not None and peer.proc.returncode is None:
                peer.proc.kill()  # the first phone is still in its long talk
    call = await finished_call(engine)
    kinds = [e.kind for e in call.events]
    assert [k for k in kinds if k in ("held", "resumed", "transferred")] == [
        "held", "resumed", "transferred"]
    assert call.agent_id == engine.directory.agents["1002"].id
