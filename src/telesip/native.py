"""The SIP core's hot path compiled to C with mypyc, from these same sources.

A worker spends most of its CPU reading answers, building REGISTERs, hashing digests and
moving registrations and transactions along (docs/benchmarks.md). Those modules
(`NATIVE_MODULES`) are plain typed Python; mypyc (part of mypy) turns each into a C extension
that runs the same code without the interpreter's dispatch: about a third less CPU per
registration. Nothing else changes: the sources stay the truth, the tests run against what
is loaded, and the pure Python is always there to fall back to.

    python -m telesip.native build     # compile (bin/_bootstrap does it after installing)
    python -m telesip.native status    # what is in use, and why

The build goes to `src/telesip/sip/_compiled/` (not in git) with a stamp of the sources it
was made from; `telesip.sip.compiled` decides at import whether it is used (only while the
stamp matches the sources on disk and this Python: never a stale build). `TELESIP_NATIVE=0`
turns the compiled modules off (a pure run, to compare the two).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from telesip.sip.compiled import (
    GROUP,
    NATIVE_MODULES,
    STAMP,
    compiled_dir,
    fingerprint,
    loaded,
    source,
    state,
)

__all__ = ["build", "main", "run"]


def build(*, force: bool = False, verbose: bool = False) -> str:
    """Compile NATIVE_MODULES into `compiled_dir()`; a no-op when the build is fresh. Raises
    RuntimeError (with mypyc's or the C compiler's last lines) when it cannot be built."""
    if not force and state() == "fresh":
        return "fresh"
    target = compiled_dir()
    pkg_dir = source(NATIVE_MODULES[0]).parents[1]  # the telesip package's directory
    with tempfile.TemporaryDirectory(prefix="telesip-native-") as tmp:
        # mypy reads the package from a copy: in an installed environment the package sits in
        # site-packages, where mypy would take every other module there (typing_extensions.py,
        # ...) for the program's own and refuse to build
        root = Path(tmp, "src")
        shutil.copytree(
            pkg_dir,
            root / pkg_dir.name,
            ignore=shutil.ignore_patterns("_compiled*", "__pycache__"),
        )
        paths = [str(source(m).relative_to(pkg_dir.parent)) for m in NATIVE_MODULES]
        script = (
            "import sys\n"
            "from setuptools import setup\n"
            "from mypyc.build import mypycify\n"
            # no configuration is found beside the copy: the few untyped libraries the
            # program imports (re2, qrcode, ...) are taken as Any, as the project's own
            # configuration takes them
            f"paths = {['--ignore-missing-imports', *paths]!r}\n"
            f"modules = mypycify(paths, opt_level='3', group_name={GROUP!r}, "
            f"target_dir={tmp + '/c'!r})\n"
            f"setup(name='telesip-native', ext_modules=modules, script_args=['build_ext', "
            f"'--build-lib', {tmp + '/lib'!r}, '--build-temp', {tmp + '/tmp'!r}])\n"
        )
        proc = subprocess.run(
            [sys.executable, "-c", script],
            cwd=root,
            capture_output=not verbose,
            text=True,
            env={**os.environ, "MYPY_CACHE_DIR": f"{tmp}/mypy"},
        )
        if proc.returncode != 0:
            tail = "\n".join(((proc.stdout or "") + (proc.stderr or "")).splitlines()[-15:])
            raise RuntimeError(f"mypyc could not build the SIP core:\n{tail}")
        fresh = Path(tmp) / "out"
        for package in sorted({m.rpartition(".")[0] for m in NATIVE_MODULES}):
            built = Path(tmp, "lib", *package.split("."))
            into = fresh / compiled_dir(package).relative_to(compiled_dir())
            into.mkdir(parents=True, exist_ok=True)
            for lib in built.glob("*.so"):
                shutil.copy2(lib, into / lib.name)
        (fresh / STAMP).write_text(json.dumps(fingerprint()))
        # swapped in by two renames: a process starting meanwhile finds no build (and runs the
        # pure modules), never a half-copied one
        staged, old = target.with_name("_compiled.new"), target.with_name("_compiled.old")
        for leftover in (staged, old):
            shutil.rmtree(leftover, ignore_errors=True)
        shutil.copytree(fresh, staged)
        if target.exists():
            target.rename(old)
        staged.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    return "built"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    cmd = args[0] if args else "status"
    if cmd == "build":
        try:
            print(f"SIP core (mypyc): {build(force='--force' in args, verbose='-v' in args)}")
        except RuntimeError as exc:
            print(f"{exc}\nthe pure Python SIP core will be used", file=sys.stderr)
            return 1
        return 0
    if cmd == "status":
        import telesip.workers  # noqa: F401 - applies use() (and imports telesip.sip)

        used = loaded()
        print(f"SIP core build: {state()} ({compiled_dir()})")
        for name, native in used.items():
            print(f"  {name}: {'compiled' if native else 'pure Python'}")
        return 0
    print("usage: python -m telesip.native [build [--force] [-v] | status]", file=sys.stderr)
    return 2


def run() -> int:
    """main() for the command line: a reader that stops early (`status | head`) ends the output
    quietly, as it does for any other command, not in a traceback."""
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # nothing more can be written, and the interpreter's own flush at exit would fail
        # again: point stdout at /dev/null so it has nothing left to say
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 128 + 13  # what a shell shows for a command ended by SIGPIPE
    return code


if __name__ == "__main__":
    raise SystemExit(run())
