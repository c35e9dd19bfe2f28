"""TwiML for each IVR action, parsed as XML and checked verb by verb; callback URLs; the shared
announcement and notification helpers; the REST client's re-basing."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from twilio.twiml.voice_response import VoiceResponse

from callcenter import ivr
from callcenter.calls.announcements import queue_announcement
from callcenter.calls.notifications import notification_event
from callcenter.voice.twilio import CallbackUrls, HttpxTwilioClient, twiml


def media(path: str) -> str:
    return "https://engine.example.com/twilio/media/" + path.rsplit("/", 1)[-1]


def parse(resp: VoiceResponse | str) -> list[ET.Element]:
    root = ET.fromstring(str(resp))
    assert root.tag == "Response"
    return list(root)


def test_gather_holds_its_prompts_and_always_posts_back() -> None:
    resp = VoiceResponse()
    g = ivr.Gather(
        (
            ivr.Say("Press 1.", "de-DE", "female"),
            ivr.Play("/srv/prompts/a.wav"),
            ivr.Play("https://cdn.example.com/b.mp3"),
        ),
        timeout_s=4.4,
        num_digits=1,
        finish_key=None,
    )
    twiml.add_gather(resp, g, "https://e/twilio/gather?step=3", media)
    [gather] = parse(resp)
    assert gather.tag == "Gather"
    assert gather.attrib == {
        "input": "dtmf",
        "action": "https://e/twilio/gather?step=3",
        "method": "POST",
        "timeout": "4",
        "numDigits": "1",
        "finishOnKey": "",
        "actionOnEmptyResult": "true",
    }
    say, local, remote = gather
    assert (say.tag, say.text, say.get("language"), say.get("voice")) == (
        "Say",
        "Press 1.",
        "de-DE",
        "woman",
    )
    assert (local.tag, local.text) == ("Play", "https://engine.example.com/twilio/media/a.wav")
    assert (remote.tag, remote.text) == ("Play", "https://cdn.example.com/b.mp3")


def test_gather_without_num_digits_ends_at_the_finish_key() -> None:
    resp = VoiceResponse()
    twiml.add_gather(resp, ivr.Gather((), timeout_s=6, finish_key="#"), "u", media)
    [gather] = parse(resp)
    assert "numDigits" not in gather.attrib and gather.get("finishOnKey") == "#"


def test_enqueue_transfer_record_and_bridge() -> None:
    resp = VoiceResponse()
    twiml.add_enqueue(resp, "CA1", "https://e/wait", "https://e/done?step=2")
    ours = "+4930999"
    twiml.add_transfer(resp, ivr.Transfer("sip:desk@pbx.example.com", 20), "https://e/t", ours)
    twiml.add_transfer(resp, ivr.Transfer("tel:+4930123456"), "https://e/t", ours)
    twiml.add_transfer(resp, ivr.Transfer("client:alice"), "https://e/t", ours)
    twiml.add_record(
        resp,
        ivr.Record(max_s=60, beep=False, finish_key="#", voicemail=True),
        "https://e/r",
        "https://e/rs",
    )
    enqueue, sip, number, client, record = parse(resp)
    assert (enqueue.tag, enqueue.text) == ("Enqueue", "CA1")
    assert enqueue.get("waitUrl") == "https://e/wait" and enqueue.get("waitUrlMethod") == "POST"
    assert enqueue.get("action") == "https://e/done?step=2"
    assert sip.tag == "Dial" and sip.get("timeout") == "20" and sip.get("action") == "https://e/t"
    assert [(c.tag, c.text) for c in sip] == [("Sip", "sip:desk@pbx.example.com")]
    assert [(c.tag, c.text) for c in number] == [("Number", "+4930123456")]
    assert {sip.get("callerId"), number.get("callerId"), client.get("callerId")} == {ours}
    assert number.get("timeout") == "30"  # ivr.Transfer's default
    assert [(c.tag, c.text) for c in client] == [("Client", "alice")]
    assert record.tag == "Record" and record.get("maxLength") == "60"
    assert record.get("playBeep") == "false" and record.get("finishOnKey") == "#"
    assert record.get("recordingStatusCallback") == "https://e/rs"
    [dial] = parse(twiml.bridge_to_queue("CA1", None))
    assert dial.tag == "Dial" and "record" not in dial.attrib
    assert [(c.tag, c.text) for c in dial] == [("Queue", "CA1")]


def test_queue_wait_wraps_music_in_a_one_key_gather_only_with_a_callback_key() -> None:
    [play] = parse(twiml.queue_wait("https://m/x.mp3", [], media, None))
    assert (play.tag, play.text) == ("Play", "https://m/x.mp3")
    [gather] = parse(
        twiml.queue_wait("https://m/x.mp3", [ivr.Say("Hi.", "en-US")], media, "https://e/key")
    )
    assert gather.get("numDigits") == "1" and gather.get("action") == "https://e/key"
    assert [c.tag for c in gather] == ["Say", "Play"]
    assert [v.tag for v in parse(twiml.hangup())] == ["Hangup"]
    assert parse(twiml.empty()) == []


def test_callback_urls_carry_the_public_base_and_the_step() -> None:
    urls = CallbackUrls("https://cc.example.com/")
    assert urls.step("gather", 7) == "https://cc.example.com/twilio/gather?step=7"
    assert urls.make("agent/answer", call="CA1") == (
        "https://cc.example.com/twilio/agent/answer?call=CA1"
    )


def test_rest_client_rebases_only_twilio_api_urls() -> None:
    client = HttpxTwilioClient("http://127.0.0.1:9999/")
    assert client.rebase("https://api.twilio.com/2010-04-01/Accounts/AC1/Calls.json") == (
        "http://127.0.0.1:9999/2010-04-01/Accounts/AC1/Calls.json"
    )
    assert client.rebase("https://example.com/x") == "https://example.com/x"


def test_position_announcement_follows_the_queue_node() -> None:
    q = ivr.Enqueue("support")
    assert queue_announcement(q, 3, 150) == (
        "You are number 3 in the queue. Your estimated wait is about 2 minutes."
    )
    assert queue_announcement(q, 1, 20) == (
        "You are number 1 in the queue. Your estimated wait is about 1 minute."
    )
    assert queue_announcement(q, 2, None) == "You are number 2 in the queue."
    quiet = ivr.Enqueue("support", announce_position=False, announce_wait_time=False)
    assert queue_announcement(quiet, 2, 60) == ""


def test_notifications_become_snake_case_events_with_plain_data() -> None:
    assert notification_event(ivr.SurveyAnswer("csat", "q1", 4)) == (
        "survey_answer",
        {"survey": "csat", "question_id": "q1", "value": 4},
    )
    kind, data = notification_event(ivr.SetVariable("when", object()))
    assert kind == "set_variable" and isinstance(data["value"], str)
    assert notification_event(ivr.AddToDoNotCall("+1555"))[0] == "add_to_do_not_call"


def test_call_back_says_whom_then_dials_the_customer_showing_our_number() -> None:
    base = "https://engine.example.com/twilio"
    say, dial = parse(twiml.call_back(
        ivr.Say("Call back 1 5 5 5.", "en-US"), "+1555", "+4930123456", 30,
        base + "/callback/dialed?task=t&attempt=2", base + "/callback/customer?task=t&attempt=2",
        base + "/recording?call=CA1&kind=call&file=x.wav"))
    assert (say.tag, say.text, say.get("language")) == ("Say", "Call back 1 5 5 5.", "en-US")
    assert dial.get("callerId") == "+4930123456" and dial.get("timeout") == "30"
    assert dial.get("action", "").endswith("/callback/dialed?task=t&attempt=2")
    assert dial.get("record") == "record-from-answer-dual"
    [number] = dial
    assert (number.tag, number.text) == ("Number", "+1555")
    assert number.get("statusCallbackEvent") == "answered"
    assert number.get("statusCallback", "").endswith("/callback/customer?task=t&attempt=2")
    [_, unrecorded] = parse(twiml.call_back(ivr.Say("x", "en-US"), "sip:bob@example.com", "+49",
                                            2, "a", "b", None))
    assert unrecorded.get("record") is None and unrecorded.get("timeout") == "5"
    assert [v.tag for v in unrecorded] == ["Sip"]
