"""Twilio's side of a call, for tests: its REST API and its signed webhooks, on loopback.

:class:`TwilioStandIn` is a small FastAPI app under real uvicorn on a free port, implementing
the documented REST endpoints the engine calls (Calls create / update, Queues delete,
Recordings media) and recording every request it receives, with its Basic-auth credentials,
so tests can assert them. The engine's twilio ``Client`` reaches it through
``twilio.api_base_url``. :meth:`TwilioStandIn.webhook` plays Twilio calling the engine: it
signs the request exactly as Twilio does (the library's ``RequestValidator``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import itertools
import socket
import wave
from collections.abc import AsyncIterator, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
import uvicorn
from fastapi import FastAPI, Request, Response
from twilio.request_validator import RequestValidator

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "standin-auth-token-0123456789abcdef"


@dataclass
class SeenRequest:
    method: str
    path: str
    form: dict[str, list[str]]
    auth: tuple[str, str] | None

    def one(self, key: str) -> str:
        [value] = self.form[key]
        return value


def free_tcp_socket() -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class LoopbackServer:
    """Any ASGI app under real uvicorn on a free 127.0.0.1 port, in the running loop."""

    def __init__(self, app: Any, sock: socket.socket | None = None) -> None:
        self.sock = sock or free_tcp_socket()
        self.port = int(self.sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = _Server(
            uvicorn.Config(app, log_config=None, access_log=False, lifespan="off")
        )
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self.server.serve(sockets=[self.sock]))
        while not self.server.started:
            if self.task.done():
                await self.task
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self.server.should_exit = True
        if self.task is not None:
            await self.task
        self.sock.close()


def wav_bytes(seconds: float = 1.0, rate: int = 8000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x01\x00" * int(seconds * rate))
    return buf.getvalue()


@dataclass
class TwilioStandIn:
    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    recording_audio: bytes = field(default_factory=wav_bytes)
    requests: list[SeenRequest] = field(default_factory=list)
    fail_downloads: int = 0  # answer this many media downloads with 500 first

    def __post_init__(self) -> None:
        self._sids = itertools.count(1)
        self.created: asyncio.Queue[SeenRequest] = asyncio.Queue()
        self.updated: asyncio.Queue[SeenRequest] = asyncio.Queue()
        self.app = self._build_app()
        self.server = LoopbackServer(self.app)
        self.http = httpx.AsyncClient(timeout=10)

    @property
    def api_base_url(self) -> str:
        return self.server.url

    async def start(self) -> None:
        await self.server.start()

    async def stop(self) -> None:
        await self.http.aclose()
        await self.server.stop()

    def of(self, method: str, suffix: str) -> list[SeenRequest]:
        return [r for r in self.requests if r.method == method and r.path.endswith(suffix)]

    # ---- the REST API -----------------------------------------------------------------
    def _build_app(self) -> FastAPI:
        app = FastAPI()
        base = "/2010-04-01/Accounts/{account}"

        async def seen(request: Request) -> SeenRequest | Response:
            multi: dict[str, list[str]] = {}
            for k, v in parse_qsl((await request.body()).decode(), keep_blank_values=True):
                multi.setdefault(k, []).append(v)
            item = SeenRequest(request.method, request.url.path, multi, _basic(request))
            self.requests.append(item)
            if (
                item.auth != (self.account_sid, self.auth_token)
                or request.path_params.get("account") != self.account_sid
            ):
                return Response(
                    status_code=401,
                    content='{"code": 20003, "message": "Authenticate", "status": 401}',
                    media_type="application/json",
                )
            return item

        @app.post(base + "/Calls.json")
        async def create(request: Request) -> Response:
            item = await seen(request)
            if isinstance(item, Response):
                return item
            sid = f"CA{next(self._sids):032x}"
            item.form["_sid"] = [sid]
            self.created.put_nowait(item)
            return _json(
                201,
                {
                    "sid": sid,
                    "account_sid": self.account_sid,
                    "status": "queued",
                    "to": item.one("To"),
                    "from": item.one("From"),
                    "direction": "outbound-api",
                },
            )

        @app.post(base + "/Calls/{call_sid}.json")
        async def update(request: Request, call_sid: str) -> Response:
            item = await seen(request)
            if isinstance(item, Response):
                return item
            self.updated.put_nowait(item)
            status = item.form.get("Status", ["in-progress"])[0]
            return _json(200, {"sid": call_sid, "account_sid": self.account_sid, "status": status})

        @app.delete(base + "/Queues/{queue_sid}.json")
        async def delete_queue(request: Request, queue_sid: str) -> Response:
            item = await seen(request)
            return item if isinstance(item, Response) else Response(status_code=204)

        @app.get(base + "/Recordings/{name}")
        async def media(request: Request, name: str) -> Response:
            item = await seen(request)
            if isinstance(item, Response):
                return item
            if self.fail_downloads > 0:
                self.fail_downloads -= 1
                return Response(status_code=500)
            if not name.endswith(".wav"):
                return Response(status_code=404)
            return Response(self.recording_audio, media_type="audio/x-wav")

        return app

    def recording_url(self, recording_sid: str) -> str:
        """What Twilio puts in ``RecordingUrl`` (the engine re-bases it to the stand-in)."""
        return (
            f"https://api.twilio.com/2010-04-01/Accounts/{self.account_sid}"
            f"/Recordings/{recording_sid}"
        )

    # ---- Twilio calling the engine ----------------------------------------------------
    def sign(self, url: str, params: Mapping[str, str], token: str | None = None) -> str:
        return RequestValidator(token or self.auth_token).compute_signature(url, dict(params))

    async def webhook(
        self,
        url: str,
        params: Mapping[str, str],
        *,
        signature: str | None = None,
        signed: bool = True,
        via: str | None = None,
    ) -> httpx.Response:
        """POST ``params`` to ``url`` as Twilio would. ``via``: the address actually connected
        to (a proxy in front of the engine), while the signature covers ``url``."""
        headers = {}
        if signed:
            headers["X-Twilio-Signature"] = signature or self.sign(url, params)
        target = url if via is None else f"{via}/{url.split('/', 3)[3]}"
        return await self.http.post(target, data=dict(params), headers=headers)


def _basic(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return None
    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    return user, password


def _json(status: int, body: dict[str, Any]) -> Response:
    import json

    return Response(json.dumps(body), status_code=status, media_type="application/json")


def whole_engine_settings(tmp: Any, db_url: str, standin: TwilioStandIn, **twilio: Any) -> Any:
    """Settings of a whole :class:`~callcenter.engine.Engine` (HTTP API on a free port, no
    SIP) whose Twilio layer talks to ``standin``; ``twilio`` adds to the Twilio section."""
    from callcenter.config import load_settings
    from callcenter.store import open_database, upgrade
    from tests.support.brokers import free_port

    db = open_database(db_url)
    upgrade(db)
    db.dispose()
    port = free_port()
    return load_settings(
        database={"url": db_url},
        http={"host": "127.0.0.1", "port": port},
        var_dir=tmp / "var",
        recordings_dir=tmp / "recordings",
        sip={"enabled": False},
        backoffice={"smtp_port": free_port()},
        twilio={
            "enabled": True,
            "account_sid": standin.account_sid,
            "auth_token": standin.auth_token,
            "public_base_url": f"http://127.0.0.1:{port}",
            "api_base_url": standin.api_base_url,
            **twilio,
        },
    )


class TwilioEngine:
    """The engine's Twilio layer on a real database, under uvicorn, wired to a stand-in."""

    def __init__(
        self,
        tmp: Any,
        db_url: str,
        standin: TwilioStandIn,
        numbers: Mapping[str, Any],
        agents: Mapping[str, str] | None = None,
        public_base_url: str | None = None,
        queue_options: Mapping[str, Any] | None = None,
        **twilio: Any,
    ) -> None:
        self.tmp, self.db_url, self.standin = tmp, db_url, standin
        self.numbers, self.agents = numbers, agents or {}
        self.sock = free_tcp_socket()
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.public = public_base_url or self.url
        self.twilio = twilio
        self.queue_options = dict(queue_options or {})

    async def start(self) -> None:
        from fastapi import FastAPI

        from callcenter import ivr
        from callcenter.bus import InProcessBus
        from callcenter.calls import AcdService, CdrWriter, load_directory
        from callcenter.config import load_settings
        from callcenter.store import AgentRepository, QueueRepository, open_database, upgrade
        from callcenter.voice.twilio import TwilioVoiceLayer

        self.db = open_database(self.db_url)
        upgrade(self.db)
        with self.db.session() as s:
            support = QueueRepository(s).get("support")
            for key, value in self.queue_options.items():
                setattr(support, key, value)
            for code, address in self.agents.items():
                AgentRepository(s).add(code, f"Agent {code}", address)
                QueueRepository(s).add_member("support", code)
        self.settings = load_settings(
            database={"url": self.db_url},
            recordings_dir=self.tmp / "recordings",
            twilio={
                "enabled": True,
                "account_sid": self.standin.account_sid,
                "auth_token": self.standin.auth_token,
                "public_base_url": self.public,
                "api_base_url": self.standin.api_base_url,
                "numbers": {k: str(v) for k, v in self.numbers.items()},
                **self.twilio,
            },
        )
        self.directory = await self.db.run(load_directory)
        self.bus = InProcessBus("default")
        await self.bus.start()
        self.acd = AcdService(self.directory.router(), self.bus)
        self.cdr = CdrWriter(self.db, self.bus, self.directory)
        queues = set(self.directory.queues)
        flows = {n: ivr.load_flow(p, queues) for n, p in self.settings.twilio.numbers.items()}
        self.layer = TwilioVoiceLayer(self.settings, self.acd, self.cdr, self.directory, flows)
        await self.layer.start()
        app = FastAPI()
        app.include_router(self.layer.router)
        self.server = LoopbackServer(app, self.sock)
        await self.server.start()

    async def ready(self, code: str) -> None:
        from callcenter import acd

        await self.acd.handle(acd.AgentLoggedIn(code))
        await self.acd.handle(acd.AgentReady(code))

    async def stop(self) -> None:
        await self.server.stop()
        await self.layer.stop()
        await self.acd.stop()
        await self.bus.stop()
        self.db.dispose()


@contextlib.asynccontextmanager
async def running_engine(
    tmp: Any, db_url: str, numbers: Mapping[str, Any], standin: TwilioStandIn | None = None,
    **engine: Any,
) -> AsyncIterator[tuple[TwilioStandIn, TwilioEngine]]:
    """A :class:`TwilioEngine` started (``engine``: its other arguments) with its stand-in
    (a new one unless given, then stopped with it); both stopped at the end."""
    own = standin is None
    twilio = standin or TwilioStandIn()
    if own:
        await twilio.start()
    started = TwilioEngine(tmp, db_url, twilio, numbers, **engine)
    try:
        await started.start()
        yield twilio, started
    finally:
        await started.stop()
        if own:
            await twilio.stop()
