"""Static lint of the Dockerfile and .dockerignore (there is no Docker engine here to build the image).

Build command (documented in the Dockerfile), from the repository root:
    docker build -t ghcr.io/ece-restart-operator/ece-restart-operator:0.1.0 .
checkov's Dockerfile policies also run on it, in test_checkov.py.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.chart.chartlib import ROOT

ENTRYPOINT = ["python", "-m", "ece_restart", "run"]
# name:<major.minor.patch>[-variant][@digest], or name[:tag]@digest
PINNED_TAG = re.compile(
    r"^[^:@]+:(\d+\.\d+\.\d+)[-\w.]*(@sha256:[0-9a-f]{64})?$"
    r"|^[^:@]+(:[-\w.]+)?@sha256:[0-9a-f]{64}$"
)
BUILD_TOOLS = re.compile(r"\b(apt-get|apt|apk|yum|dnf|microdnf)\s+(-\S+\s+)*(install|add)\b|\bgcc\b|\bbuild-essential\b"
                         r"|\bpip\s+install\b|\bmake\b")


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with line continuations joined and comments dropped."""
    result: list[tuple[str, str]] = []
    logical = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not logical and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if stripped.endswith("\\"):
            logical += stripped[:-1] + " "
            continue
        logical += stripped
        keyword, _, arguments = logical.partition(" ")
        result.append((keyword.upper(), arguments.strip()))
        logical = ""
    return result


def stages(text: str) -> tuple[dict[str, str], list[Stage]]:
    args: dict[str, str] = {}
    found: list[Stage] = []
    for keyword, arguments in instructions(text):
        if keyword == "ARG" and not found and "=" in arguments:
            name, _, default = arguments.partition("=")
            args[name] = default.strip('"')
        elif keyword == "FROM":
            words = [w for w in arguments.split() if not w.startswith("--platform")]
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            found.append(Stage(base=words[0], name=name))
        elif found:
            found[-1].instructions.append((keyword, arguments))
    return args, found


def lint(dockerfile: str) -> list[str]:
    """What in the Dockerfile breaks the project's image rules; empty when it complies."""
    problems = []
    args, all_stages = stages(dockerfile)
    if len(all_stages) < 2:
        problems.append("not multi-stage")
    names = {stage.name for stage in all_stages if stage.name}
    for stage in all_stages:
        base = re.sub(r"\$\{?(\w+)\}?", lambda match: args.get(match[1], match[0]), stage.base)
        if base in names:
            continue
        if "$" in base:
            problems.append(f"base image {stage.base} cannot be resolved statically")
        elif base.endswith(":latest") or (":" not in base.split("/")[-1] and "@" not in base):
            problems.append(f"base image {base} uses latest")
        elif not PINNED_TAG.match(base):
            problems.append(f"base image {base} is not pinned to a full version or digest")
    if not all_stages:
        return problems
    final = all_stages[-1]
    if "slim" not in final.base and "distroless" not in final.base:
        problems.append("final stage is not a slim base")
    users = [arguments for keyword, arguments in final.instructions if keyword == "USER"]
    if not users:
        problems.append("final stage has no USER")
    else:
        uid = users[-1].split(":")[0]
        if not uid.isdigit():
            problems.append(f"USER {users[-1]} is not numeric (runAsNonRoot cannot verify a user name)")
        elif int(uid) == 0:
            problems.append("USER is root")
    for keyword, arguments in final.instructions:
        if keyword == "RUN" and BUILD_TOOLS.search(arguments):
            problems.append(f"final stage installs build tools: RUN {arguments}")
    entrypoints = [arguments for keyword, arguments in final.instructions if keyword == "ENTRYPOINT"]
    if not entrypoints or not entrypoints[-1].startswith("["):
        problems.append("ENTRYPOINT is missing or not in exec form")
    elif json.loads(entrypoints[-1]) != ENTRYPOINT:
        problems.append(f"ENTRYPOINT is not {ENTRYPOINT}")
    return problems


def dockerignore_includes(patterns: list[str], path: str) -> bool:
    """Whether .dockerignore keeps `path` in the build context (last matching pattern wins, `!` re-includes)."""
    included = True
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw[1:] if negate else raw
        pattern = pattern.strip("/")
        regex = "".join(
            ".*" if token == "**" else "[^/]*" if token == "*" else "[^/]" if token == "?" else re.escape(token)
            for token in re.split(r"(\*\*|\*|\?)", pattern)
        )
        if any(re.fullmatch(regex, candidate) for candidate in candidates):
            included = negate
    return included


def dockerignore_patterns(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def test_dockerfile_follows_the_image_rules() -> None:
    assert lint((ROOT / "Dockerfile").read_text()) == []


GOOD = (ROOT / "Dockerfile").read_text()
BASE = "python:3.12.12-slim-bookworm"


@pytest.mark.parametrize(
    ("dockerfile", "problem"),
    [
        (GOOD.replace("USER 65532:65532", "USER 0"), "USER is root"),
        (GOOD.replace("USER 65532:65532", "USER app"),
         "USER app is not numeric (runAsNonRoot cannot verify a user name)"),
        (GOOD.replace("USER 65532:65532\n", ""), "final stage has no USER"),
        (GOOD.replace(f"FROM {BASE}\n", "FROM python:latest\n"), "base image python:latest uses latest"),
        (GOOD.replace(f"FROM {BASE}\n", "FROM python\n"), "base image python uses latest"),
        (GOOD.replace(f"FROM {BASE}\n", "FROM python:3.12-slim\n"),
         "base image python:3.12-slim is not pinned to a full version or digest"),
        (GOOD.replace(f"FROM {BASE}\n", "FROM python:3.12.12-bookworm\n"), "final stage is not a slim base"),
        (GOOD.replace("COPY --from=build", "RUN apt-get update && apt-get install -y gcc\nCOPY --from=build"),
         "final stage installs build tools: RUN apt-get update && apt-get install -y gcc"),
        (GOOD.replace('ENTRYPOINT ["python", "-m", "ece_restart", "run"]', "ENTRYPOINT python -m ece_restart run"),
         "ENTRYPOINT is missing or not in exec form"),
        ("FROM python:3.12.12-slim-bookworm\nUSER 1000\nENTRYPOINT [\"python\", \"-m\", \"ece_restart\", \"run\"]\n",
         "not multi-stage"),
        ("ARG IMAGE\nFROM ${IMAGE} AS build\nFROM python:3.12.12-slim\nUSER 1\n"
         'ENTRYPOINT ["python", "-m", "ece_restart", "run"]\n', "base image ${IMAGE} cannot be resolved statically"),
    ],
    ids=["root", "named-user", "no-user", "latest", "no-tag", "floating-tag", "not-slim", "build-tools",
         "shell-entrypoint", "single-stage", "unresolved-arg"],
)
def test_lint_catches(dockerfile: str, problem: str) -> None:
    assert problem in lint(dockerfile)


def test_pinned_digest_and_arg_defaults_are_accepted() -> None:
    digest = "python:3.12.12-slim-bookworm@sha256:" + "a" * 64
    dockerfile = f"ARG BASE={digest}\n" + GOOD.replace(f"FROM {BASE} AS build", "FROM ${BASE} AS build")
    assert lint(dockerfile) == []


def test_build_context_holds_exactly_what_the_image_needs() -> None:
    patterns = dockerignore_patterns((ROOT / ".dockerignore").read_text())
    for path in ("pyproject.toml", "README.md", "operator/ece_restart/__init__.py", "operator/ece_restart/__main__.py",
                 "charts/ece-restart-operator/files/crd.yaml", "examples/01-restart-kibana.yaml"):
        assert dockerignore_includes(patterns, path), path
    for path in (".git/config", "tests/conftest.py", ".venv/bin/python", "operator/ece_restart/__pycache__/a.pyc",
                 "charts/ece-restart-operator/values.yaml", "manifests/install.yaml", ".env", "bench/x.py"):
        assert not dockerignore_includes(patterns, path), path


def test_every_copy_source_exists_and_is_in_the_build_context() -> None:
    patterns = dockerignore_patterns((ROOT / ".dockerignore").read_text())
    _, all_stages = stages((ROOT / "Dockerfile").read_text())
    copies = [shlex.split(arguments) for stage in all_stages for keyword, arguments in stage.instructions
              if keyword == "COPY" and "--from=" not in arguments]
    assert copies
    for words in copies:
        for source in words[:-1]:
            assert (ROOT / source).exists(), source
            files = [p for p in (ROOT / source).rglob("*") if p.is_file()] if (ROOT / source).is_dir() else [
                ROOT / source]
            for file in files:
                relative = str(file.relative_to(ROOT))
                if "__pycache__" not in relative:
                    assert dockerignore_includes(patterns, relative), relative


def test_the_package_copy_includes_everything_pyproject_force_includes() -> None:
    # pyproject.toml force-includes files into the wheel (the CRD, the examples): the build stage must have them.
    pyproject = (ROOT / "pyproject.toml").read_text()
    dockerfile = (ROOT / "Dockerfile").read_text()
    force_included = re.findall(r'^"([^"]+)" = "ece_restart/', pyproject, flags=re.MULTILINE)
    assert force_included
    for included in force_included:
        assert f"COPY {included} " in dockerfile, included
    assert Path(ROOT / "README.md").exists(), "pyproject's readme is needed to build the wheel"
