"""Runs deploy/Dockerfile's steps as a script on this machine, the way a build would run them,
without Docker (no engine and no base images here).

The image's paths (``/opt/telesip``, ``/var/lib/telesip``) are moved under a scratch root;
``ARG`` takes the given build arguments; ``ENV`` is expanded as Docker does; ``COPY`` copies
from the repository root minus what Dockerfile.dockerignore leaves out; ``RUN`` runs in bash
(a ``--mount=type=cache`` option is dropped: pip's cache is this machine's); ``WORKDIR``
makes the directory. Steps not run, recorded in ``Image.skipped``: ``RUN useradd ...``, which
creates the image's system account (it would change this machine's users: ``USER`` is checked
to name it), and ``RUN apt-get ...``, the build stage's C compiler (it would change this
machine's packages; the tests' machine has gcc). Every stage runs into the same scratch root,
so ``COPY --from=STAGE`` of a path to the same path finds it there (anything else is refused).
``FROM`` (the last stage's base, and every stage in ``stages``), ``VOLUME``, ``EXPOSE``,
``HEALTHCHECK`` and ``CMD`` are recorded for the tests.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
IMAGE_ROOTS = ("/opt/telesip", "/var/lib/telesip")
_VAR = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


@dataclass
class Image:
    root: Path  # the scratch directory standing for the image's /
    env: dict[str, str] = field(default_factory=dict)
    base: str = ""
    stages: list[str] = field(default_factory=list)  # every FROM's arguments, in order
    user: str = "root"
    workdir: Path | None = None
    volumes: list[str] = field(default_factory=list)
    exposed: list[str] = field(default_factory=list)
    healthcheck: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def path(self, text: str) -> str:
        """``text`` with the image's paths moved under the scratch root."""
        for prefix in IMAGE_ROOTS:
            text = text.replace(prefix, f"{self.root}{prefix}")
        return text


def instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order; continuation lines joined, comments dropped."""
    steps: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        word, _, rest = (pending + line).partition(" ")
        steps.append((word.upper(), rest.strip()))
        pending = ""
    return steps


def _expand(value: str, env: dict[str, str]) -> str:
    return _VAR.sub(lambda m: env.get(m.group(1) or m.group(2), ""), value)


def _ignored() -> list[str]:
    """Names Dockerfile.dockerignore leaves out of what COPY takes (its ``**/`` patterns)."""
    ignore = (DOCKERFILE.parent / "Dockerfile.dockerignore").read_text().splitlines()
    return [p.removeprefix("**/") for p in ignore if p.startswith("**/")]


def build(root: Path, build_args: dict[str, str], host_env: dict[str, str]) -> Image:
    """Run the Dockerfile's steps into ``root``; raises CalledProcessError on a failing RUN."""
    image = Image(root=root)
    env = dict(host_env)
    cwd = root
    for word, rest in instructions():
        if word == "FROM":
            image.stages.append(rest)
            image.base = rest.split()[0]
        elif word == "ARG":
            name, _, default = rest.partition("=")
            env[name] = build_args.get(name, default)
        elif word == "ENV":
            for pair in shlex.split(rest):
                name, _, value = pair.partition("=")
                env[name] = image.path(_expand(value, env))
                image.env[name] = env[name]
        elif word == "COPY" and rest.startswith("--from="):
            _, source, dest = shlex.split(rest)
            if source != dest or not Path(image.path(source)).exists():
                raise AssertionError(f"COPY {rest}: not the same path, or nothing built there")
        elif word == "COPY":
            *sources, dest = shlex.split(rest)
            target = Path(image.path(dest))
            for source in sources:
                src = ROOT / source
                if src.is_dir():
                    shutil.copytree(src, target, ignore=shutil.ignore_patterns(*_ignored()))
                else:
                    target.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(src, target / src.name)
        elif word == "RUN":
            command = re.sub(r"^(--mount=\S+\s+)+", "", rest)
            if command.startswith(("useradd ", "apt-get ")):
                image.skipped.append(command)
                continue
            subprocess.run(
                ["bash", "-euc", image.path(command)],
                env=env,
                cwd=cwd,
                check=True,
                capture_output=True,
                text=True,
            )
        elif word == "USER":
            image.user = rest
        elif word == "WORKDIR":
            cwd = Path(image.path(rest))
            cwd.mkdir(parents=True, exist_ok=True)
            image.workdir = cwd
        elif word == "VOLUME":
            image.volumes = [image.path(v) for v in json.loads(rest)]
        elif word == "EXPOSE":
            image.exposed = rest.split()
        elif word == "HEALTHCHECK":
            _, _, cmd = rest.partition("CMD ")
            image.healthcheck = json.loads(cmd)
        elif word == "CMD":
            image.cmd = json.loads(rest)
        else:
            raise AssertionError(f"the script does not know Dockerfile instruction {word}")
    for name in ("PATH", "VIRTUAL_ENV"):
        image.env.setdefault(name, env.get(name, ""))
    return image


def host_env(python_dir: Path) -> dict[str, str]:
    """What a RUN step sees: the base image's ``python`` first on PATH, this machine's pip
    settings (its package mirrors and cache stand in for the registry and the cache mount)."""
    keep = {k: v for k, v in os.environ.items() if k.startswith("PIP_")}
    return keep | {
        "PATH": f"{python_dir}:/usr/local/bin:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
    }
