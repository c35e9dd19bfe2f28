#!/usr/bin/env python3
"""Keep the GIL in pjsua2's SWIG accessors: a post-processing step of scripts/build-pjsua2.sh.

SWIG's ``-threads`` wraps *every* wrapped function in ``SWIG_PYTHON_THREAD_BEGIN_ALLOW`` /
``END_ALLOW``, down to the getter of one int (``CallInfo.state``). Releasing the GIL hands it
to whichever thread waits for it (the event loop, the call-record writer), and the pj thread
then waits to take it back, up to a switch interval (5 ms) each time. A call reads about
thirty fields on the pj thread (``prm.callId``, ``info.state``, ``mi.status``, ...), so under
load these hand-offs, not the work, capped the pj thread: it sat in futex waits more than half
its time at 700 calls/s while its SIP socket filled.

Member-variable accessors (``_wrap_<Class>_<member>_get`` / ``_set``) only copy memory: they take
no pjsua lock and cannot block, so they keep the GIL. Everything else (calls into pjsua that
may take a lock another pj thread holds) still releases it.

    python3 pjsua2_keep_gil.py pjsua2_wrap.cpp     # rewrites the file in place, prints a count
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ACCESSOR = re.compile(
    r"^SWIGINTERN PyObject \*_wrap_\w+_(?:get|set)\(PyObject \*self, PyObject \*args\) \{$"
)
ALLOW = ("SWIG_PYTHON_THREAD_BEGIN_ALLOW;", "SWIG_PYTHON_THREAD_END_ALLOW;")


def keep_gil(source: str) -> tuple[str, int]:
    """``source`` with the thread-allow lines removed from accessor wrappers; how many."""
    out: list[str] = []
    inside = False
    changed = 0
    for line in source.splitlines(keepends=True):
        if not inside and ACCESSOR.match(line.rstrip("\r\n")):
            inside, touched = True, False
        elif inside and line.startswith("}"):
            inside = False
            changed += touched
        elif inside and line.strip() in ALLOW:
            touched = True
            continue
        out.append(line)
    return "".join(out), changed


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: pjsua2_keep_gil.py PATH/TO/pjsua2_wrap.cpp", file=sys.stderr)
        return 2
    path = Path(sys.argv[1])
    text, changed = keep_gil(path.read_text())
    if changed == 0:
        print(
            f"{path}: found no SWIG accessor that releases the GIL: did SWIG's output change? "
            "(expected `_wrap_<Class>_<member>_get` functions with SWIG_PYTHON_THREAD_BEGIN_ALLOW)",
            file=sys.stderr,
        )
        return 1
    path.write_text(text)
    print(changed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
