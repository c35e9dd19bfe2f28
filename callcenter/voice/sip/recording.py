"""The recording of one conversation between a caller and an agent (``sip.record_calls``).

``sip.recording_channels = "mono"``: one recorder hears both legs, ``<call>-call.wav``.
``"stereo"`` (the default): two recorders, the caller's leg into one part and the agent's into
the other, started, paused and stopped together (one pj-thread command each, see
:meth:`SipStack.record_tracks`), so both parts hold the same clock ticks; when the conversation
ends they are joined off the event loop into ``<call>-call.wav``, the caller on the left
channel and the agent on the right, and the parts are deleted.

Either way the ``recordings`` row names the final file and, once it is finished, its exact
length (``duration_s`` = audio + paused time); pauses are audited (who, why) in
``recording_audit``. A file that cannot be finished marks the row ``failed``, the reason in
the ``stopped`` audit row.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from callcenter.calls.recording_paths import side_paths
from callcenter.calls.recording_wav import RecordingFileError, join_sides, seconds, wait_complete

if TYPE_CHECKING:
    from callcenter.voice.sip.layer import SipVoiceLayer

log = logging.getLogger(__name__)

CALLER, AGENT = 0, 1  # the stereo parts (and channels: left, right)


class ConversationRecording:
    """Made by :meth:`start`; the conversation calls :meth:`pause`, :meth:`resume`,
    :meth:`agent_replaced` and finally :meth:`stop`."""

    def __init__(
        self, layer: SipVoiceLayer, path: Path, stereo: bool, recorder: int, row: int
    ) -> None:
        self.layer, self.path, self.stereo = layer, path, stereo
        self.recorder: int | None = recorder  # the stack's recording id
        self.row = row  # the recordings row
        self.paused = False

    @classmethod
    async def start(
        cls, layer: SipVoiceLayer, call_id: str, caller_leg: int, agent_leg: int
    ) -> ConversationRecording:
        stereo = layer.settings.sip.recording_channels == "stereo"
        path = layer.recording_path(call_id, "call")
        if stereo:
            caller_part, agent_part = side_paths(path)
            recorder = await layer.stack.record_tracks(
                [(str(caller_part), [caller_leg]), (str(agent_part), [agent_leg])]
            )
        else:
            recorder = await layer.stack.record(str(path), caller_leg, agent_leg)
        row = await layer.recordings.started(call_id, str(path), channels=2 if stereo else 1)
        return cls(layer, path, stereo, recorder, row)

    async def pause(self, by: str, reason: str) -> None:
        if self.recorder is None or self.paused:
            return
        await self.layer.stack.pause_recording(self.recorder, True)
        self.paused = True
        await self.layer.recordings.paused(self.row, by, reason)

    async def resume(self, by: str) -> None:
        if self.recorder is None or not self.paused:
            return
        await self.layer.stack.pause_recording(self.recorder, False)
        self.paused = False
        await self.layer.recordings.resumed(self.row, by)

    async def agent_replaced(self, agent_leg: int, new_leg: int) -> None:
        """Someone else (an attended transfer's target) now talks to the caller: they are
        recorded on the agent's side of the same file, the agent no more."""
        if self.recorder is not None:
            track = AGENT if self.stereo else 0
            await self.layer.stack.switch_recorded_leg(self.recorder, track, agent_leg, new_leg)

    async def stop(self) -> None:
        """Stop the recorders, finish the file (join the sides) and close the row."""
        if self.recorder is None:
            return
        recorder, self.recorder = self.recorder, None
        await self.layer.stack.stop_recording(recorder)
        try:
            audio_s = await asyncio.to_thread(self._finish)
        except RecordingFileError as exc:
            log.error("recording %d of %s: %s", self.row, self.path.name, exc)
            await self.layer.recordings.stopped(self.row, problem=str(exc))
            return
        await self.layer.recordings.stopped(self.row, audio_s=audio_s)

    def _finish(self) -> float:
        """Blocking: wait for pjsua to finish the file(s), join the sides; the length in s."""
        if not self.stereo:
            wait_complete(self.path)
            return seconds(self.path)
        caller_part, agent_part = side_paths(self.path)
        wait_complete(caller_part)
        wait_complete(agent_part)
        return join_sides(caller_part, agent_part, self.path)
