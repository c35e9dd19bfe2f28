"""The baseline for bench/sip_load.py: a bare pjsua2 user agent that answers every call, plays
one prompt and hangs up after ``--hold`` seconds. No IVR, no ACD, no database: what pjsua2
alone costs, on the same build and settings as the engine's SIP stack (one pj thread,
mainThreadOnly, null audio device, 8 kHz bridge, IPv6 media off, SIP socket buffers)."""

from __future__ import annotations

import argparse
import gc
import signal
import time

import pjsua2 as pj

from callcenter.voice.sip import udp


class Call(pj.Call):
    def __init__(self, owner: Agent, acc: pj.Account, call_id: int) -> None:
        super().__init__(acc, call_id)
        self.owner = owner
        self.player: pj.AudioMediaPlayer | None = None
        self.answered_at = 0.0

    def onCallState(self, prm: pj.OnCallStateParam) -> None:  # noqa: N802
        info = self.getInfo()
        if info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.player = None
            self.owner.calls.pop(info.id, None)

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:  # noqa: N802
        info = self.getInfo()
        for mi in info.media:
            active = mi.type == pj.PJMEDIA_TYPE_AUDIO and mi.status == pj.PJSUA_CALL_MEDIA_ACTIVE
            if active and self.player is None:
                self.player = pj.AudioMediaPlayer()
                self.player.createPlayer(self.owner.prompt, pj.PJMEDIA_FILE_NO_LOOP)
                self.player.startTransmit(self.getAudioMedia(mi.index))


class Agent(pj.Account):
    def __init__(self, prompt: str) -> None:
        super().__init__()
        self.prompt = prompt
        self.calls: dict[int, Call] = {}

    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:  # noqa: N802
        call = Call(self, self, prm.callId)
        self.calls[prm.callId] = call
        op = pj.CallOpParam()
        op.statusCode = 200
        call.answer(op)
        call.answered_at = time.monotonic()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--prompt", required=True)
    ap.add_argument("--hold", type=float, default=5.0)
    ap.add_argument("--max-calls", type=int, default=4000)
    args = ap.parse_args()
    ep = pj.Endpoint()
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = True
    cfg.uaConfig.maxCalls = args.max_calls
    cfg.logConfig.level = 1
    cfg.logConfig.consoleLevel = 1
    cfg.medConfig.clockRate = cfg.medConfig.sndClockRate = 8000
    cfg.medConfig.noVad = True
    cfg.medConfig.maxMediaPorts = 2 * args.max_calls + 64
    ep.libInit(cfg)
    ep.audDevManager().setNullDev()
    t = pj.TransportConfig()
    t.port, t.boundAddress = args.port, "127.0.0.1"
    # The same SIP socket buffers as the engine's default (callcenter/voice/sip/udp.py).
    t.sockOptParams = udp.sock_opts(pj, udp.DEFAULT_BUFFER_BYTES)
    ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, t)
    ep.libStart()
    acfg = pj.AccountConfig()
    acfg.idUri = f"sip:bare@127.0.0.1:{args.port}"
    acfg.mediaConfig.ipv6Use = pj.PJSUA_IPV6_DISABLED
    agent = Agent(args.prompt)
    agent.create(acfg, True)
    running = True

    def stop(*_: object) -> None:
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("ready", flush=True)
    while running:
        ep.libHandleEvents(5)
        now = time.monotonic()
        for call in list(agent.calls.values()):
            if call.answered_at and now - call.answered_at > args.hold:
                call.answered_at = 0.0
                op = pj.CallOpParam()
                op.statusCode = 200
                call.hangup(op)
    ep.hangupAllCalls()
    for _ in range(100):
        ep.libHandleEvents(10)
    agent.calls.clear()
    agent.shutdown()
    del agent
    gc.collect()
    ep.libDestroy()


if __name__ == "__main__":
    main()
