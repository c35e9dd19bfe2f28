"""The pjsua2 wheel keeps Python callbacks (SWIG directors) only for the callbacks listed in
scripts/build-pjsua2.sh: a subclass overriding any other one would silently never be called."""

from __future__ import annotations

import ast
import re
from pathlib import Path

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
