"""The pjsua2 wheel keeps Python callbacks (SWIG directors) only for the callbacks listed in
scripts/build-pjsua2.sh: a subclass overriding any other one would silently never be called."""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
BUILD = ROOT / "scripts" / "build-pjsua2.sh"


def _kept(cls: str) -> set[str]:
    m = re.search(rf'^DIRECTOR_CALLBACKS_{cls.upper()}="([^"]*)"', BUILD.read_text(), re.M)
    assert m, f"DIRECTOR_CALLBACKS_{cls.upper()} is missing from {BUILD}"
    return set(m.group(1).split())


def _overrides() -> dict[str, dict[str, set[str]]]:
    """pjsua2 class -> subclass (file:name) -> the on* callbacks it defines."""
    found: dict[str, dict[str, set[str]]] = {"Call": {}, "Account": {}}
    for path in [*ROOT.glob("callcenter/**/*.py"), *ROOT.glob("bench/**/*.py")]:
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            bases = " ".join(ast.unparse(b) for b in node.bases)
            for cls in found:
                if re.search(rf"\bpj\.{cls}\b", bases):
                    found[cls][f"{path.relative_to(ROOT)}:{node.name}"] = {
                        f.name
                        for f in node.body
                        if isinstance(f, ast.FunctionDef) and re.fullmatch(r"on[A-Z]\w*", f.name)
                    }
    return found


def test_every_overridden_pjsua2_callback_keeps_its_director() -> None:
    found = _overrides()
    assert found["Call"] and found["Account"], "no pjsua2 subclasses found: the scan is broken"
    for cls, subclasses in found.items():
        kept = _kept(cls)
        for where, callbacks in subclasses.items():
            missing = callbacks - kept
            assert not missing, (
                f"{where} overrides {sorted(missing)}, built without a director: add them to "
                f"DIRECTOR_CALLBACKS_{cls.upper()} in scripts/build-pjsua2.sh"
            )


def test_the_engines_callbacks_are_among_them() -> None:
    found = _overrides()
    leg = found["Call"]["callcenter/voice/sip/stack.py:_Leg"]
    assert {"onCallState", "onCallMediaState", "onDtmfDigit"} <= leg


def _keep_gil() -> Any:
    path = ROOT / "scripts" / "pjsua2_keep_gil.py"
    spec = importlib.util.spec_from_file_location("pjsua2_keep_gil", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.keep_gil


_WRAPPERS = """\
SWIGINTERN PyObject *_wrap_CallInfo_state_get(PyObject *self, PyObject *args) {
  arg1 = reinterpret_cast< pj::CallInfo * >(argp1);
  {
    SWIG_PYTHON_THREAD_BEGIN_ALLOW;
    result = (pjsip_inv_state) ((arg1)->state);
    SWIG_PYTHON_THREAD_END_ALLOW;
  }
  return resultobj;
}


SWIGINTERN PyObject *_wrap_CallOpParam_statusCode_set(PyObject *self, PyObject *args) {
  {
    SWIG_PYTHON_THREAD_BEGIN_ALLOW;
    if (arg1) (arg1)->statusCode = arg2;
    SWIG_PYTHON_THREAD_END_ALLOW;
  }
}


SWIGINTERN PyObject *_wrap_Call_answer(PyObject *self, PyObject *args) {
  {
    SWIG_PYTHON_THREAD_BEGIN_ALLOW;
    (arg1)->answer((pj::CallOpParam const &)*arg2);
    SWIG_PYTHON_THREAD_END_ALLOW;
  }
}
"""


def test_field_accessors_keep_the_gil_and_calls_into_pjsua_release_it() -> None:
    """A getter or setter only copies memory; a call into pjsua may wait for a lock and must
    let other threads run meanwhile."""
    text, changed = _keep_gil()(_WRAPPERS)
    assert changed == 2
    getter, setter, answer = text.split("\n\n\n")
    assert "ALLOW" not in getter and "((arg1)->state)" in getter
    assert "ALLOW" not in setter and "(arg1)->statusCode = arg2;" in setter
    assert answer.count("SWIG_PYTHON_THREAD_") == 2 and "->answer(" in answer


def test_the_build_keeps_the_gil_in_accessors_and_rebuilds_when_that_changes() -> None:
    build = BUILD.read_text()
    assert 'KEEP_GIL_PY="$REPO_ROOT/scripts/pjsua2_keep_gil.py"' in build
    assert 'cat "$KEEP_GIL_PY"' in build  # part of the cache key
    assert re.search(r'"\$KEEP_GIL_PY" "\$SWIG_DIR/pjsua2_wrap.cpp"', build)
