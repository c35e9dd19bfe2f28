"""Twilio's REST API as the engine uses it: place and steer calls, fetch recordings.

:class:`TwilioRest` wraps the official :class:`twilio.rest.Client` with an asynchronous HTTP
client of our own (:class:`HttpxTwilioClient`, on httpx) that sends every request for
``https://api.twilio.com`` to ``api_base_url`` instead: production leaves it alone, tests point
it at a local stand-in. The same httpx client downloads recording media, with the same
rewrite and credentials.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
from twilio.http import AsyncHttpClient
from twilio.http.response import Response
from twilio.rest import Client

log = logging.getLogger(__name__)

TWILIO_API = "https://api.twilio.com"


class TwilioRestError(RuntimeError):
    """Twilio's REST API refused a request or could not be reached."""


class HttpxTwilioClient(AsyncHttpClient):
    """The twilio library's HTTP transport on httpx, optionally re-based to a stand-in."""

    def __init__(self, api_base_url: str = TWILIO_API, timeout: float = 10.0) -> None:
        super().__init__(log, is_async=True, timeout=timeout)
        self.api_base_url = api_base_url.rstrip("/")
        self.http = httpx.AsyncClient(timeout=timeout)

    def rebase(self, url: str) -> str:
        if url.startswith(TWILIO_API):
            return self.api_base_url + url[len(TWILIO_API) :]
        return url

    async def request(
        self,
        method: str,
        uri: str,
        params: Mapping[str, object] | None = None,
        data: Mapping[str, object] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        reply = await self.http.request(
            method.upper(),
            self.rebase(uri),
            params=_form(params),
            data=_form(data),
            headers=dict(headers or {}),
            auth=auth,
            timeout=timeout or self.timeout,
            follow_redirects=allow_redirects,
        )
        return Response(reply.status_code, reply.text, reply.headers)

    async def aclose(self) -> None:
        await self.http.aclose()


def _form(values: Mapping[str, object] | None) -> dict[str, Any] | None:
    """twilio passes lists for repeated keys (StatusCallbackEvent) and drops unset values."""
    if not values:
        return None
    return {k: v for k, v in values.items() if v is not None}


class TwilioRest:
    """The calls the voice layer makes to Twilio; each raises :class:`TwilioRestError`."""

    def __init__(self, account_sid: str, auth_token: str, api_base_url: str = TWILIO_API) -> None:
        self.http_client = HttpxTwilioClient(api_base_url)
        self.auth = (account_sid, auth_token)
        self.client = Client(account_sid, auth_token, http_client=self.http_client)

    async def create_call(self, **kwargs: Any) -> str:
        """``calls.create`` (same keyword arguments); returns the new CallSid."""
        try:
            call = await self.client.calls.create_async(**kwargs)
        except Exception as exc:  # twilio raises TwilioRestException or transport errors
            raise TwilioRestError(f"creating a call to {kwargs.get('to')!r} failed: {exc}") from exc
        return str(call.sid)

    async def update_call(self, call_sid: str, **kwargs: Any) -> None:
        """``calls(sid).update``: ``url=`` redirects, ``twiml=`` replaces, ``status=`` ends."""
        try:
            await self.client.calls(call_sid).update_async(**kwargs)
        except Exception as exc:
            raise TwilioRestError(f"updating call {call_sid} failed: {exc}") from exc

    async def end_call(self, call_sid: str, answered: bool) -> None:
        """Cancel a ringing call or hang up an answered one."""
        await self.update_call(call_sid, status="completed" if answered else "canceled")

    async def download(self, media_url: str, path: Path) -> int:
        """Fetch a recording's media (``RecordingUrl`` + ``.wav``) to ``path``; returns bytes."""
        url = self.http_client.rebase(media_url)
        try:
            reply = await self.http_client.http.get(url, auth=self.auth, follow_redirects=True)
            reply.raise_for_status()
        except httpx.HTTPError as exc:
            raise TwilioRestError(f"downloading {url} failed: {exc}") from exc
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".part")
        tmp.write_bytes(reply.content)
        tmp.replace(path)
        return len(reply.content)

    async def aclose(self) -> None:
        await self.http_client.aclose()
