"""The Dockerfile, without building it (no image can be built here): hadolint finds
nothing; every path it copies exists and is in the build context; every command it runs
is a real entry point; the base is pinned; the final stage runs as a non-root user and
holds no build tools nor dev dependencies."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from config.health import LIVENESS_PATH
from tests.helm.helpers import entry_point_problems

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
HADOLINT = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
BUILD_TOOLS = {"gcc", "g++", "make", "build-essential", "git", "curl", "wget"}


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, keyword: str) -> list[str]:
        return [rest for kw, rest in self.instructions if kw == keyword]


def instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, rest) per instruction, continuation lines joined, comments dropped."""
    logical, pending = [], ""
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        line, pending = pending + line, ""
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            logical.append((keyword.upper(), rest.strip()))
    return logical


def stages(text: str) -> list[Stage]:
    arguments: dict[str, str] = {}
    found: list[Stage] = []
    for keyword, rest in instructions(text):
        if keyword == "ARG" and not found and "=" in rest:
            name, _, value = rest.partition("=")
            arguments[name] = value
        elif keyword == "FROM":
            parts = rest.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: arguments[m.group(1)], parts[0])
            name = parts[2] if len(parts) > 2 and parts[1].upper() == "AS" else str(len(found))
            found.append(Stage(name=name, base=base))
        elif found:
            found[-1].instructions.append((keyword, rest))
    return found


def exec_form(rest: str) -> list[str]:
    command = json.loads(rest)
    assert isinstance(command, list), f"not in exec form: {rest}"
    return command


def copy_sources(rest: str) -> tuple[str | None, list[str]]:
    """(--from stage or None, sources) of a COPY."""
    words = shlex.split(rest)
    flags = [w for w in words if w.startswith("--")]
    paths = [w for w in words if not w.startswith("--")]
    origin = next((f.split("=", 1)[1] for f in flags if f.startswith("--from=")), None)
    return origin, paths[:-1]


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern matching the path (or a parent of it) decides."""
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        pattern = pattern.removeprefix("!").rstrip("/")
        parts = path.rstrip("/").split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatch(prefix, pattern) for prefix in prefixes):
            ignored = not negated
    return ignored


def dockerignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


@pytest.fixture(scope="module")
def parsed() -> list[Stage]:
    return stages(DOCKERFILE.read_text())


def test_hadolint_finds_nothing():
    result = subprocess.run(
        [HADOLINT, "--no-fail", "--format", "json", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    # Every level, info and style included: the file is short enough to keep clean.
    assert json.loads(result.stdout) == []


def test_the_base_image_is_pinned(parsed):
    for stage in parsed:
        if stage.base in {s.name for s in parsed}:
            continue
        tag = stage.base.partition(":")[2]
        assert "@sha256:" in stage.base or re.fullmatch(r"\d+\.\d+\.\d+-[a-z-]+", tag), (
            f"{stage.base}: pin a full version tag or a digest"
        )


def test_every_copied_path_exists_and_is_in_the_build_context(parsed):
    patterns = dockerignore_patterns()
    names = [stage.name for stage in parsed]
    for position, stage in enumerate(parsed):
        for rest in stage.args("COPY") + stage.args("ADD"):
            origin, sources = copy_sources(rest)
            if origin is not None:
                assert origin in names[:position], f"COPY --from={origin}: no earlier stage"
                continue
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
                assert not dockerignored(source, patterns), f"COPY {source}: .dockerignore drops it"


def test_the_build_context_leaves_out_what_the_image_does_not_need():
    patterns = dockerignore_patterns()
    for path in (".venv", ".data", ".git", "tests", "bench", "sandbox", "docs", "helm"):
        assert dockerignored(path, patterns), path
    assert dockerignored("platform/config/__pycache__", patterns)


def test_every_command_is_a_real_entry_point(parsed):
    final = parsed[-1]
    commands = [exec_form(rest) for rest in final.args("CMD") + final.args("ENTRYPOINT")]
    health = final.args("HEALTHCHECK")
    assert len(health) == 1
    commands.append(exec_form(health[0].split(" CMD ", 1)[1]))
    assert commands, "the image names no command"
    for command in commands:
        assert entry_point_problems(command) == [], command


def test_the_healthcheck_asks_the_served_port_for_liveness(parsed):
    final = parsed[-1]
    (cmd,) = final.args("CMD")
    served = exec_form(cmd)
    port = served[served.index("--port") + 1]
    probe = exec_form(final.args("HEALTHCHECK")[0].split(" CMD ", 1)[1])[-1]
    assert f"http://127.0.0.1:{port}{LIVENESS_PATH}" in probe
    assert final.args("EXPOSE") == [port]


def test_the_build_steps_run_real_commands(parsed):
    # What RUN calls through manage.py must exist: collectstatic and friends.
    for stage in parsed:
        for rest in stage.args("RUN"):
            for step in rest.split("&&"):
                words = [w for w in shlex.split(step) if "=" not in w or w.startswith("-")]
                if words[:2] == ["python", "manage.py"]:
                    assert entry_point_problems(words) == [], step


def test_collectstatic_runs_with_the_build_environment(parsed):
    """The settings load with exactly the environment the RUN gives them, and the static
    files are found (a dry run: nothing is written, no database is reached)."""
    final = parsed[-1]
    (run,) = [rest for rest in final.args("RUN") if "collectstatic" in rest]
    step = next(s for s in run.split("&&") if "collectstatic" in s)
    words = shlex.split(step)
    env = dict(w.split("=", 1) for w in words if "=" in w and not w.startswith("-"))
    argv = [w for w in words if "=" not in w or w.startswith("-")]
    pythonpath = next(rest for rest in final.args("ENV") if "PYTHONPATH=" in rest)
    roots = re.search(r"PYTHONPATH=(\S+)", pythonpath).group(1)
    env["PYTHONPATH"] = roots.replace("/app", str(ROOT))
    env["PATH"] = os.environ["PATH"]
    assert argv[0] == "python"
    result = subprocess.run(
        [sys.executable, *argv[1:], "--dry-run"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_the_final_stage_runs_as_a_non_root_user(parsed):
    users = parsed[-1].args("USER")
    assert users, "the final stage sets no USER"
    user = users[-1].split(":")[0]
    assert user.isdigit() and int(user) != 0, "a numeric, non-zero UID (runAsNonRoot checks it)"


def test_the_final_stage_has_no_build_tools_nor_dev_dependencies(parsed):
    final = parsed[-1]
    runs = " ".join(final.args("RUN"))
    assert "pip install" not in runs, "dependencies come from the build stage's virtualenv"
    installed = set(re.findall(r"apt-get install[^&]*", runs))
    assert not any(tool in words.split() for words in installed for tool in BUILD_TOOLS)
    copied = [copy_sources(rest) for rest in final.args("COPY")]
    assert ("build", ["/opt/venv"]) in copied
    for stage in parsed:
        for rest in stage.args("RUN"):
            assert "[dev]" not in rest and ".[dev" not in rest, "dev extras in the image"
