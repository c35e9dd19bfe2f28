"""Fixtures of the integration tests."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright import async_api

from callcenter.engine import Engine
from tests.support.sip_engine import engine_fixture
from tests.support.twilio_standin import TwilioStandIn


@pytest.fixture
async def engine(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Engine]:
    """An engine with SIP on a free port and tests/integration/flows/sip_queue.yaml on 200."""
    async for eng in engine_fixture(tmp_path, sqlite_url):
        yield eng


@pytest.fixture
async def standin() -> AsyncIterator[TwilioStandIn]:
    """Twilio's REST API and webhooks, played on loopback (tests/support/twilio_standin.py)."""
    twilio = TwilioStandIn()
    await twilio.start()
    yield twilio
    await twilio.stop()


@pytest.fixture
async def browser(chromium: str) -> AsyncIterator[Any]:
    """Headless Chromium for the async tests of the pages (Playwright's async API)."""
    async with async_api.async_playwright() as p:
        launched = await p.chromium.launch(executable_path=chromium, headless=True,
                                           args=["--no-sandbox"])
        yield launched
        await launched.close()
