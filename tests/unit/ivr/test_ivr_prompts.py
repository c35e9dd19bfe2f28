"""Prompt rendering with the real espeak-ng (Debian package espeak-ng)."""

from __future__ import annotations

import stat
import wave
from pathlib import Path

import numpy as np
import pytest

from callcenter.voice.prompts import PromptError, PromptRenderer, resample


def counting_espeak(tmp_path: Path) -> tuple[str, Path]:
    """A wrapper around espeak-ng that logs each synthesis (not --version) to a file."""
    log = tmp_path / "calls.log"
    script = tmp_path / "espeak-counting"
    script.write_text(
        "#!/bin/sh\n"
        f'case "$1" in --version) ;; *) echo "$@" >> {log} ;; esac\n'
        'exec espeak-ng "$@"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script), log


def test_renders_8khz_mono_speech_and_hits_the_cache(tmp_path: Path) -> None:
    espeak, log = counting_espeak(tmp_path)
    renderer = PromptRenderer(tmp_path / "cache", espeak=espeak)
    first = renderer.render("Welcome to Example Corp. For sales, press 1.", "en-US")
    with wave.open(str(first)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
        frames = wav.getnframes()
        samples = np.frombuffer(wav.readframes(frames), dtype="<i2")
    assert 1.0 < frames / 8000 < 10.0
    assert np.sqrt(np.mean(samples.astype(np.float64) ** 2)) > 300  # speech, not silence
    assert len(log.read_text().splitlines()) == 1

    again = PromptRenderer(tmp_path / "cache", espeak=espeak).render(
        "Welcome to Example Corp. For sales, press 1.", "en-US"
    )
    assert again == first
    assert len(log.read_text().splitlines()) == 1  # the cache hit did not run espeak

    other = renderer.render("Willkommen bei Example Corp.", "de-DE", "female")
    assert other != first
    assert log.read_text().splitlines()[-1].startswith("-v de+f3")


def test_missing_espeak_names_the_debian_package(tmp_path: Path) -> None:
    renderer = PromptRenderer(tmp_path, espeak="espeak-ng-not-installed")
    with pytest.raises(PromptError, match="install the Debian package 'espeak-ng'"):
        renderer.render("hello")


def test_resample_keeps_a_tone_at_its_frequency() -> None:
    rate = 22050
    t = np.arange(rate) / rate
    tone = (10000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    out = resample(tone, rate, 8000)
    assert out.size == 8000
    peak = np.argmax(np.abs(np.fft.rfft(out.astype(np.float64))))
    assert peak == 440  # 1 s of audio: bin index == frequency in Hz


async def test_render_async_answers_a_known_prompt_without_a_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    renderer = PromptRenderer(tmp_path)
    first = await renderer.render_async("Hello there.", "en-US")
    assert first.is_file()

    def no_thread(*_: object, **__: object) -> None:
        raise AssertionError("a known prompt went to a worker thread")

    monkeypatch.setattr(asyncio, "to_thread", no_thread)
    assert await renderer.render_async("Hello there.", "en-US") == first


async def test_a_burst_of_calls_wanting_a_new_prompt_renders_it_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first seconds of a busy (re)started engine: hundreds of calls want the same new
    prompt at once. One espeak-ng runs; a caller hanging up meanwhile cancels only its wait."""
    import asyncio

    renderer = PromptRenderer(tmp_path)
    runs: list[list[str]] = []
    real_run = renderer._run

    def counting_run(args: list[str], stdin: bytes) -> bytes:
        if "--stdout" in args:
            runs.append(args)
        return real_run(args, stdin)

    monkeypatch.setattr(renderer, "_run", counting_run)
    waits = [asyncio.ensure_future(renderer.render_async("Welcome.", "en-US")) for _ in range(50)]
    await asyncio.sleep(0)
    waits[0].cancel()  # that caller hung up
    results = await asyncio.gather(*waits[1:])
    assert len(runs) == 1
    assert len(set(results)) == 1 and results[0].is_file()
    assert waits[0].cancelled()
    assert renderer._rendering == {}  # nothing left behind once the render is done


async def test_a_failed_render_fails_every_waiting_call_and_the_next_call_retries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from callcenter.voice.prompts import PromptError

    renderer = PromptRenderer(tmp_path, espeak="no-such-espeak-binary")
    waits = [renderer.render_async("Hello.", "en-US") for _ in range(3)]
    results = await asyncio.gather(*waits, return_exceptions=True)
    assert all(isinstance(r, PromptError) for r in results)
    renderer.espeak = "espeak-ng"
    assert (await renderer.render_async("Hello.", "en-US")).is_file()
