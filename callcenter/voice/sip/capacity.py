"""The call capacity pjsua really got.

pjproject clamps ``UaConfig.maxCalls`` to its compile-time ``PJSUA_MAX_CALLS`` without a word
(the PyPI wheel: 4 calls, the 5th is answered ``486 Busy Here``). After ``libInit`` we ask pjsua
itself (``pjsua_call_get_max_count`` through ctypes on the loaded extension) and refuse to run
with fewer call slots than configured.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

from callcenter.errors import CallCenterError


class CapacityError(CallCenterError):
    exit_code = 7


def _native(pj: Any, name: str) -> Any:
    """A C function of the loaded pjsua2 extension (dlopen returns the same instance)."""
    ext = getattr(pj, "_pjsua2", None) or sys.modules.get("_pjsua2")
    path = getattr(ext, "__file__", None)
    if not path:
        return None
    try:
        return getattr(ctypes.CDLL(path), name)
    except (OSError, AttributeError):
        return None


def effective_max_calls(pj: Any) -> int | None:
    """pjsua's call-slot limit after ``libInit``, or None when it cannot be read."""
    fn = _native(pj, "pjsua_call_get_max_count")
    if fn is None:
        return None
    fn.restype, fn.argtypes = ctypes.c_uint, []
    return int(fn())


def quiet_pjlib(pj: Any, level: int) -> None:
    """Set pjlib's log level before ``libCreate`` prints its start-up lines."""
    fn = _native(pj, "pj_log_set_level")
    if fn is not None:
        fn.argtypes = [ctypes.c_int]
        fn(level)


def check_capacity(pj: Any, required: int) -> int:
    got = effective_max_calls(pj)
    if got is None:
        raise CapacityError(
            "cannot read pjsua's call limit from this pjsua2 build: install the engine's build "
            "with `bash scripts/build-pjsua2.sh --install .venv/bin/python`"
        )
    if got < required:
        raise CapacityError(
            f"this pjsua2 carries only {got} simultaneous calls but sip.max_calls is {required}: "
            "install the engine's build (`bash scripts/build-pjsua2.sh --install "
            ".venv/bin/python`) or lower CALLCENTER_SIP__MAX_CALLS"
        )
    return got
