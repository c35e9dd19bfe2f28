"""Errors that stop the engine at a boundary, each saying what was wrong and what to do.

The CLI turns any :class:`CallCenterError` into one line on stderr and a non-zero exit code.
"""

from __future__ import annotations


class CallCenterError(Exception):
    """Base of the engine's own errors: ``str(err)`` is a complete, user-facing sentence."""

    exit_code = 1


class ConfigError(CallCenterError):
    """A configuration value or file is invalid."""

    exit_code = 2


class DatabaseError(CallCenterError):
    """The database cannot be reached or is not in the expected state."""

    exit_code = 3


class BusError(CallCenterError):
    """The event bus (MQTT broker) cannot be reached or refused us."""

    exit_code = 4


class NotFound(CallCenterError):
    """A named object (agent, queue, ...) does not exist."""

    exit_code = 5


class AlreadyExists(CallCenterError):
    """A named object (agent, queue, ...) exists already."""

    exit_code = 6
