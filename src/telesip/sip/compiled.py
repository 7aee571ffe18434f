"""Which build of the SIP core is imported: the compiled one (`telesip.native` builds it with
mypyc) while its stamp matches the sources on disk and this interpreter, else the sources.

`telesip/sip/__init__.py` calls `use(__path__)` before it imports anything: a fresh build's
directory goes first in the package's path, so `import telesip.sip.message` loads the C
extension; an edited source, another Python, a missing build or `TELESIP_NATIVE=0` leave the
path alone and the pure modules load, never a stale build. Standard library only.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import MutableSequence
from pathlib import Path

__all__ = [
    "GROUP", "NATIVE_MODULES", "STAMP", "compiled_dir", "fingerprint", "loaded", "source", "state",
    "use",
]  # fmt: skip

#: the modules compiled, in the order mypyc is given them (one group: calls between them are
#: C calls); each must keep to what mypyc compiles (no monkeypatching of their classes)
NATIVE_MODULES = (
    "telesip.sip.fields",
    "telesip.sip.message",
    "telesip.sip.auth",
    "telesip.sip.transaction",
    "telesip.sip.registration",
    "telesip.workers.stats",
    "telesip.workers.lines",
    "telesip.workers.registrar",
    "telesip.workers.wire",  # not transport.py: tests and benches replace the UDP shell's send
)
GROUP = "telesip.sip.native"  # the shared library: telesip/sip/native__mypyc.<ext>
_PACKAGE_DIR = Path(__file__).resolve().parent
_ROOT = _PACKAGE_DIR.parent.parent  # the directory that holds the telesip package
STAMP = "STAMP.json"


def compiled_dir(package: str = "telesip.sip") -> Path:
    """Where the compiled modules of `package` are (those of telesip.sip, with the stamp and the
    shared library, at the top; another package's in a subdirectory named after it)."""
    top = _PACKAGE_DIR / "_compiled"
    return top if package == "telesip.sip" else top / package.rpartition(".")[2]


def source(module: str) -> Path:
    return _ROOT.joinpath(*module.split(".")).with_suffix(".py")


def fingerprint() -> dict[str, object]:
    """What a build is valid for: this interpreter and the exact sources."""
    return {
        "python": sys.implementation.cache_tag,
        "sources": {m: hashlib.sha256(source(m).read_bytes()).hexdigest() for m in NATIVE_MODULES},
    }


def state() -> str:
    """ "fresh" (the build matches), "off" (TELESIP_NATIVE=0), "missing" or "stale"."""
    if os.environ.get("TELESIP_NATIVE", "1") == "0":
        return "off"
    try:
        stamp = json.loads((compiled_dir() / STAMP).read_text())
    except (OSError, ValueError):
        return "missing"
    return "fresh" if stamp == fingerprint() else "stale"


def use(package_path: MutableSequence[str], package: str = "telesip.sip") -> bool:
    """Called by a package that has compiled modules (telesip.sip, telesip.workers) before it
    imports them: their directory goes first in the package's path when the build is fresh.
    True when it did."""
    if state() != "fresh":
        return False
    where = str(compiled_dir(package))
    if where not in package_path:
        package_path.insert(0, where)
    return True


def loaded() -> dict[str, bool]:
    """Module -> whether the compiled one is what is imported now."""
    out: dict[str, bool] = {}
    for name in NATIVE_MODULES:
        mod = sys.modules.get(name)
        out[name] = mod is not None and not str(getattr(mod, "__file__", "")).endswith(".py")
    return out
