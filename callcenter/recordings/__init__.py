"""Recordings built for compliance: integrity, retention and legal hold.

- :mod:`~callcenter.recordings.integrity`: each finished file's SHA-256 and size, and
  ``verify`` that finds files missing or changed since.
- :mod:`~callcenter.recordings.retention`: the policy (keep N days) and the pure choice of
  what is due; :mod:`~callcenter.recordings.purge` deletes it (files, rows marked
  ``deleted``, audited) and puts recordings on legal hold and off it.
- :mod:`~callcenter.recordings.service`: the engine's periodic purge.

The record of each recording as it is made (started, paused, stopped) is
:class:`callcenter.calls.recordings.RecordingLog`; its rows are
:class:`callcenter.store.recordings.Recording`.
"""
