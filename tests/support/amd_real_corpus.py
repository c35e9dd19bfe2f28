"""A labelled corpus of recorded human voices for answering-machine detection.

Built from Asterisk's own prompts (Debian's ``asterisk-core-sounds-en-wav``: one woman's voice
recorded in a studio, 8 kHz 16-bit mono), cut and joined as a dialer hears them in the
first seconds after the answer:

- machines: voicemail greetings assembled as Asterisk's voicemail plays them ("The person at
  extension" + digits + "is unavailable" / "is on the phone", then sometimes "Please leave
  your message after the tone..."; "Nobody is available to take your call" + ...) and
  network announcements of 2.5 s of speech or more, with their natural pauses; sometimes
  Asterisk's beep after; some start after a short ring-back, the others after 0-1 s of
  silence; then 2 s of silence;
- persons: 0.2-1 s of silence (the handset picked up), one short word (half of them
  "Hello", the others "Goodbye", "No", a digit, ...: at most 1.2 s), then silence while they
  wait for the caller; a third of them say a second word after 0.5-1.5 s ("Hello ...
  hello?").

Two splits with separate words and greetings and seeds, ``tune`` and ``held-out``: change the
detector looking at the first, report on the second. Background talk (:func:`babble`) is made
of other prompts, used in neither. ``tests/support/amd_line.py: on_line`` puts a greeting on a
line (level, noise, G.711), :func:`heard_at` resamples what the line carries.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from dialer.amd import Verdict
from dialer.amd_wav import read_wav
from tests.support.amd_line import Greeting, framed, resample, talkers

# asterisk-core-sounds-en-wav installs the prompts under en_US_f_Allison; the `en` link to
# them comes from the asterisk-core-sounds-en package's alternatives, which may be absent.
_SOUND_DIRS = (Path("/usr/share/asterisk/sounds/en"),
               Path("/usr/share/asterisk/sounds/en_US_f_Allison"))
SOUNDS = next((d for d in _SOUND_DIRS if d.is_dir()), _SOUND_DIRS[0])
RATE = 8000  # the prompts' rate
PACKAGE = "asterisk-core-sounds-en-wav"


@dataclass(frozen=True)
class Split:
    words: list[str]  # a person's opening, besides "Hello"
    greetings: list[list[str]]  # a machine's prompts, "#" an extension number
    seed: int


SPLITS = {
    "tune": Split(
        words=["goodbye", "vm-no", "auth-thankyou", "digits/1", "digits/3", "digits/5",
                  "digits/7", "digits/9"],
        greetings=[
            ["vm-theperson", "#", "vm-isunavail"],
            ["vm-theperson", "#", "vm-isunavail", "vm-intro"],
            ["vm-nobodyavail", "vm-intro"],
            ["number-not-answering", "please-try-call-later"],
            ["ss-noservice"],
            ["vm-mailboxfull"],
            ["unidentified-no-callback"],
        ],
        seed=1,
    ),
    "held-out": Split(
        words=["vm-goodbye", "im-sorry", "number", "cancelled", "digits/oh", "digits/2",
                  "digits/4", "digits/6", "digits/8"],
        greetings=[
            ["vm-theperson", "#", "vm-isonphone"],
            ["vm-theperson", "#", "vm-isonphone", "vm-intro"],
            ["vm-nobodyavail", "vm-leavemsg"],
            ["cannot-complete-as-dialed", "check-number-dial-again"],
            ["feature-not-avail-line"],
            ["vm-sorry"],
            ["vm-tempgreeting", "vm-intro"],
        ],
        seed=2,
    ),
}
BABBLE = ["demo-congrats", "priv-callee-options", "basic-pbx-ivr-main", "demo-echotest"]


@cache
def prompt(name: str) -> np.ndarray:
    """The recording ``name`` (``hello``, ``digits/4``) on the int16 scale at 8 kHz, its
    leading and trailing room tone cut (from 40 dB under its loudest 10 ms)."""
    path = SOUNDS / f"{name}.wav"
    if not path.is_file():
        raise AssertionError(
            f"{path} is missing: the real-voice AMD corpus needs Asterisk's recorded prompts, "
            f"apt-get install {PACKAGE}"
        )
    samples, rate = read_wav(path)
    assert rate == RATE, f"{path}: {rate} Hz, expected {RATE}"
    x = samples[:, 0]
    n = RATE // 100
    energy = np.abs(x[: x.size // n * n]).reshape(-1, n).mean(axis=1)
    loud = np.nonzero(energy >= energy.max() * 0.01)[0]
    return x[loud[0] * n:(loud[-1] + 1) * n]


def _silence(rng: np.random.Generator, low: float, high: float) -> np.ndarray:
    return np.zeros(int(rng.uniform(low, high) * RATE))


def ring_back(seconds: float) -> np.ndarray:
    """North American ring-back: 440 + 480 Hz, about 20 dB under a voice's peaks."""
    t = np.arange(int(seconds * RATE)) / RATE
    return 800 * (np.sin(2 * np.pi * 440 * t) + np.sin(2 * np.pi * 480 * t))


def _person(rng: np.random.Generator, words: list[str], i: int) -> Greeting:
    first = "hello" if i % 2 == 0 else words[i // 2 % len(words)]
    said = [prompt(first)]
    names = [first]
    if rng.uniform() < 1 / 3:  # "Hello ... hello?" (or another word): nobody answered
        second = first if rng.uniform() < 0.5 else str(rng.choice(words))
        said += [_silence(rng, 0.5, 1.5), prompt(second)]
        names.append(second)
    lead = _silence(rng, 0.2, 1.0)
    return framed(Verdict.HUMAN, rng, np.concatenate(said), RATE, tail_s=5.0, lead=lead,
                  name=" ".join(names))


def _machine(rng: np.random.Generator, parts: list[str]) -> Greeting:
    said: list[np.ndarray] = []
    names: list[str] = []
    for part in parts:
        if said:
            said.append(_silence(rng, 0.15, 0.5))
        if part == "#":  # an extension number, digit by digit
            digits = [f"digits/{d}" for d in rng.integers(0, 10, int(rng.integers(3, 5)))]
            for k, digit in enumerate(digits):
                said += [_silence(rng, 0.05, 0.2)] if k else []
                said.append(prompt(digit))
            names.append("".join(d[-1] for d in digits))
        else:
            said.append(prompt(part))
            names.append(part)
    if rng.uniform() < 0.5:
        said += [_silence(rng, 0.3, 0.8), prompt("beep")]
        names.append("beep")
    lead = None  # 0-1 s of silence
    if rng.uniform() < 1 / 3:
        lead = np.concatenate([ring_back(rng.uniform(0.3, 1.0)), _silence(rng, 0.2, 0.5)])
        names.insert(0, "ring")
    return framed(Verdict.MACHINE, rng, np.concatenate(said), RATE, tail_s=2.0, lead=lead,
                  name=" ".join(names))


def greetings(split: str = "tune", count: int = 24, seed: int | None = None) -> list[Greeting]:
    """``count`` persons and ``count`` machines of ``split``, alternately, at 8 kHz; the
    split's own seed unless ``seed`` is given."""
    spec = SPLITS[split]
    rng = np.random.default_rng(spec.seed if seed is None else seed)
    out: list[Greeting] = []
    for i in range(count):
        out.append(_person(rng, spec.words, i))
        out.append(_machine(rng, spec.greetings[i % len(spec.greetings)]))
    return out


def babble() -> np.ndarray:
    """Four other prompts over one another, at 8 kHz: background talk of real speech."""
    return talkers([prompt(name) for name in BABBLE])


def heard_at(pcm: np.ndarray, rate: int) -> np.ndarray:
    """An 8 kHz line's int16 audio as recorded at ``rate`` (nothing above 4 kHz)."""
    return np.clip(np.round(resample(pcm, RATE, rate)), -32768, 32767).astype(np.int16)
