"""IVR actions as TwiML verbs, with :class:`twilio.twiml.voice_response.VoiceResponse`.

One function per verb; each takes the absolute callback URLs it needs, so this module knows
nothing of calls or steps. ``Play`` of a local file needs a URL Twilio can fetch: the caller
passes ``media_url`` (the layer serves registered prompt files under ``/twilio/media``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from callcenter import ivr

MediaUrl = Callable[[str], str]

# Our flow files name espeak-ng variants; Twilio has its own voice names (Polly.*, man, woman).
_VOICES = {"female": "woman", "male": "man"}


def add_prompt(
    parent: VoiceResponse | Gather, prompt: ivr.Say | ivr.Play, media_url: MediaUrl
) -> None:
    match prompt:
        case ivr.Say(text=text, language=language, voice=voice):
            kwargs = {"language": language}
            if voice:
                kwargs["voice"] = _VOICES.get(voice, voice)
            parent.say(text, **kwargs)
        case ivr.Play(file=file):
            parent.play(file if "://" in file else media_url(file))


def add_gather(resp: VoiceResponse, g: ivr.Gather, action_url: str, media_url: MediaUrl) -> None:
    """``<Gather>`` with the prompts inside (the caller may barge in); no keys still posts to
    ``action_url`` (``actionOnEmptyResult``), which the layer turns into ``GatherTimeout``."""
    gather = resp.gather(
        input="dtmf",
        action=action_url,
        method="POST",
        timeout=max(1, round(g.timeout_s)),
        num_digits=g.num_digits,
        finish_on_key=g.finish_key or "",
        action_on_empty_result=True,
    )
    for p in g.prompts:
        add_prompt(gather, p, media_url)


def add_enqueue(resp: VoiceResponse, twilio_queue: str, wait_url: str, action_url: str) -> None:
    resp.enqueue(
        twilio_queue, action=action_url, method="POST", wait_url=wait_url, wait_url_method="POST"
    )


def add_transfer(resp: VoiceResponse, t: ivr.Transfer, action_url: str, caller_id: str) -> None:
    """``<Dial>`` to a SIP URI, a Twilio Client (``client:NAME``) or a phone number, showing
    ``caller_id``; the action URL gets the outcome (``DialCallStatus``)."""
    dial = resp.dial(
        action=action_url,
        method="POST",
        timeout=max(5, round(t.timeout_s)),
        caller_id=caller_id,
    )
    add_destination(dial, t.target)


def add_destination(dial: Dial, target: str, **noun: str) -> None:
    """``<Sip>``, ``<Client>`` or ``<Number>`` inside ``dial``; ``noun``: its attributes
    (``status_callback=...``)."""
    if target.startswith(("sip:", "sips:")):
        dial.sip(target, **noun)
    elif target.startswith("client:"):
        dial.client(target.removeprefix("client:"), **noun)
    else:
        dial.number(target.removeprefix("tel:"), **noun)


def add_record(resp: VoiceResponse, r: ivr.Record, action_url: str, status_url: str) -> None:
    resp.record(
        action=action_url,
        method="POST",
        max_length=r.max_s,
        play_beep=r.beep,
        finish_on_key=r.finish_key or "",
        recording_status_callback=status_url,
        recording_status_callback_method="POST",
        recording_status_callback_event="completed",
    )


def queue_wait(
    music_url: str, say: Iterable[ivr.Say | ivr.Play], media_url: MediaUrl, key_url: str | None
) -> VoiceResponse:
    """What a caller waiting in ``<Enqueue>`` hears until Twilio asks the wait URL again:
    announcements, then one round of music; inside a one-key ``<Gather>`` when the queue
    offers a call-back key."""
    resp = VoiceResponse()
    parent: VoiceResponse | Gather = resp
    if key_url is not None:
        parent = resp.gather(input="dtmf", num_digits=1, action=key_url, method="POST", timeout=1)
    for p in say:
        add_prompt(parent, p, media_url)
    parent.play(music_url)
    return resp


def _recorded(recording_status_url: str | None) -> dict[str, str]:
    """An agent's ``<Dial>`` recorded dual-channel from the answer (None: not recorded)."""
    if recording_status_url is None:
        return {}
    return {
        "record": "record-from-answer-dual",
        "recording_status_callback": recording_status_url,
        "recording_status_callback_method": "POST",
        "recording_status_callback_event": "completed",
    }


def bridge_to_queue(twilio_queue: str, recording_status_url: str | None) -> VoiceResponse:
    """The agent's leg: ``<Dial><Queue>`` takes the one caller waiting in that queue."""
    resp = VoiceResponse()
    dial = resp.dial(**_recorded(recording_status_url))
    dial.queue(twilio_queue)
    return resp


def call_back(
    prompt: ivr.Say, number: str, caller_id: str, timeout_s: float, action_url: str,
    answered_url: str, recording_status_url: str | None,
) -> VoiceResponse:
    """The agent's leg of a call-back: ``prompt`` (whom it calls back), then ``<Dial>`` to
    the customer showing ``caller_id``; ``answered_url`` hears the customer answer, the
    action how the dial ended (``DialCallStatus``)."""
    resp = VoiceResponse()
    add_prompt(resp, prompt, lambda file: file)
    dial = resp.dial(
        action=action_url,
        method="POST",
        timeout=max(5, round(timeout_s)),
        caller_id=caller_id,
        **_recorded(recording_status_url),
    )
    add_destination(
        dial, number, status_callback=answered_url, status_callback_event="answered",
        status_callback_method="POST",
    )
    return resp


LOST_CALL = ("We are sorry: we lost track of your call after a change on our side. "
             "Please call us again.")


def lost_call(language: str) -> str:
    """For a caller's call the node does not know (it began at another node): why, then
    the end of the call."""
    resp = VoiceResponse()
    resp.say(LOST_CALL, language=language)
    resp.hangup()
    return str(resp)


def hangup() -> str:
    resp = VoiceResponse()
    resp.hangup()
    return str(resp)


def empty() -> str:
    return str(VoiceResponse())
