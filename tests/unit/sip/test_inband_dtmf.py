"""Keys heard in the audio: the DTMF detector on synthetic tones and on recorded speech, and
which INVITEs make the engine listen for them."""

from __future__ import annotations

import wave

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.voice.inband_dtmf import DtmfDetector
from callcenter.voice.sip.uris import keys_in_audio
from tests.support.amd_real_corpus import SOUNDS
from tests.support.audio import dtmf, tone

ALL = "0123456789*#ABCD"


def heard(audio: np.ndarray, chunk: int = 160) -> str:
    d = DtmfDetector()
    return "".join(d.feed(audio[i:i + chunk]) for i in range(0, len(audio), chunk))


def test_every_key_through_line_noise() -> None:
    audio = dtmf(ALL, on_s=0.07, off_s=0.06)
    noise = np.random.default_rng(7).normal(0, 250, len(audio))
    assert heard((audio + noise).clip(-32768, 32767).astype(np.int16)) == ALL


def test_a_held_key_is_one_key_and_a_repeat_after_a_pause_is_two() -> None:
    assert heard(dtmf("5", on_s=1.5)) == "5"
    assert heard(dtmf("55", on_s=0.08, off_s=0.06)) == "55"


def test_too_short_too_quiet_or_twisted_tones_are_no_keys() -> None:
    assert heard(dtmf("1", on_s=0.03)) == ""  # a blip, not a press
    assert heard(dtmf("1", level=0.0005)) == ""  # under the line's noise floor
    # one frequency 12 dB under the other: a tone pair no phone sends
    t = np.arange(800) / 8000
    twisted = 8000 * np.sin(2 * np.pi * 697 * t) + 2000 * np.sin(2 * np.pi * 1209 * t)
    assert heard(twisted.astype(np.int16)) == ""
    assert heard(tone(1.0, 1000)) == ""  # a single tone (a beep)


@settings(max_examples=30, deadline=None)
@given(keys=st.text(alphabet=ALL, min_size=1, max_size=6),
       chunk=st.integers(min_value=1, max_value=2000))
def test_the_keys_do_not_depend_on_how_the_audio_is_cut(keys: str, chunk: int) -> None:
    assert heard(dtmf(keys), chunk) == keys


def test_recorded_speech_talks_off_no_key() -> None:
    """Half an hour of Asterisk's recorded prompts (a real voice, 8 kHz): not one key."""
    files = sorted(SOUNDS.rglob("*.wav"))
    assert len(files) > 300, f"Asterisk's prompts missing under {SOUNDS}"
    for path in files:
        with wave.open(str(path)) as w:
            audio = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
            assert w.getframerate() == 8000
        assert heard(audio, 4000) == "", path


@pytest.mark.parametrize(("sdp", "listen"), [
    ("m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n", True),
    ("m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n", False),
    ("m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 TELEPHONE-EVENT/8000\r\n", False),
    ("", False),  # no offer in the INVITE: the engine's own offer carries the events
])
def test_which_invites_make_the_engine_listen(sdp: str, listen: bool) -> None:
    invite = ("INVITE sip:200@127.0.0.1 SIP/2.0\r\nCall-ID: x\r\n"
              f"Content-Type: application/sdp\r\n\r\nv=0\r\n{sdp}")
    assert keys_in_audio(invite) is listen
