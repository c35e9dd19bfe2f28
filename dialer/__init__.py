"""The predictive dialer: outbound campaigns that keep agents talking within the law.

What it offers (each module is one concept; pacing and compliance are pure, time comes in
as ``now``):

- :mod:`dialer.pacing`: :class:`DialerSnapshot`, the :class:`Pacer` protocol and three
  pacers, :class:`ProgressivePacer`, :class:`AdaptivePacer` (VICIdial-style baseline) and
  :class:`PredictivePacer` (ours); :mod:`dialer.age_watch`: the talk, wrap-up and ring times
  it learns from ages across snapshots when the dialer does not give them;
- :mod:`dialer.compliance`: :func:`check_dial` -> :class:`DialDecision` (calling hours in the
  called party's zones, holidays, DNC lists, attempt limits, 72 h hold after an abandon,
  abandon-rate ceiling), plus the 15 s ring and 2 s connect rules;
- :mod:`dialer.leads`: CSV lead lists to E.164 leads, bad rows reported by line;
  :mod:`dialer.csv_source`: the files as spreadsheets save them (encoding, delimiter, header
  names, rows of uneven length);
- :mod:`dialer.retry`: retry rules by outcome and disposition;
- :mod:`dialer.callback_times`: a scheduled callback's time read and checked (pure);
  :mod:`dialer.callbacks`: scheduled callbacks in the store (anyone's or one agent's);
- :mod:`dialer.amd`: answering-machine detection on audio frames (after Asterisk app_amd,
  with a threshold that adapts to the line's noise and level);
- :mod:`dialer.amd_wav`: AMD on WAV recordings (PCM, float, G.711), scored when labelled;
- :mod:`dialer.sim`: a seeded discrete-event campaign simulator and the clairvoyant bound.
"""

from dialer.amd import AmdDetector, AmdResult, AmdSettings, Verdict, detect
from dialer.amd_wav import AmdScore, AudioFileError, detect_file, read_wav
from dialer.compliance import (
    AbandonCounts,
    Attempt,
    CampaignRules,
    DialDecision,
    DncLists,
    Reason,
    check_dial,
)
from dialer.leads import ColumnMapping, Lead, LeadImport, LeadListError, parse_leads
from dialer.pacing import (
    AdaptivePacer,
    DialerSnapshot,
    Pacer,
    PredictivePacer,
    ProgressivePacer,
)
from dialer.retry import Outcome, RetryPolicy, RetryRule, next_attempt
from dialer.sim import ClairvoyantPacer, SimConfig, SimResult, simulate

__all__ = [
    "AbandonCounts", "AdaptivePacer", "AmdDetector", "AmdResult", "AmdScore", "AmdSettings",
    "Attempt", "AudioFileError", "CampaignRules", "ClairvoyantPacer", "ColumnMapping",
    "DialDecision", "DialerSnapshot", "DncLists", "Lead", "LeadImport", "LeadListError",
    "Outcome", "Pacer", "PredictivePacer", "ProgressivePacer", "Reason", "RetryPolicy",
    "RetryRule", "SimConfig", "SimResult", "Verdict", "check_dial", "detect", "detect_file",
    "next_attempt", "parse_leads", "read_wav", "simulate",
]
