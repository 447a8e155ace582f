"""Whether a container's command is something the image can run: a management command
whose parser takes the arguments given, a module or console script that exists."""

from __future__ import annotations

import ast
import importlib.util
import re
import tomllib
from importlib.metadata import distribution, entry_points
from pathlib import Path

from django.core.management import CommandError, get_commands, load_command_class

ROOT = Path(__file__).resolve().parents[2]
# What the kubelet expands in a StatefulSet pod's command (the shard's pod index).
EXPANSIONS = {"$(SHARD_INDEX)": "0"}


def runtime_dependencies() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = (re.match(r"[A-Za-z0-9._-]+", spec) for spec in project["dependencies"])
    return {name.group(0).lower() for name in names if name}


def _expanded(argv: list[str]) -> list[str]:
    out = []
    for arg in argv:
        for variable, value in EXPANSIONS.items():
            arg = arg.replace(variable, value)
        out.append(arg)
    return out


def management_command_problems(name: str, args: list[str]) -> list[str]:
    commands = get_commands()
    if name not in commands:
        return [f"manage.py has no command {name!r}"]
    parser = load_command_class(commands[name], name).create_parser("manage.py", name)
    try:
        parser.parse_args(args)
    except (CommandError, SystemExit) as error:
        return [f"manage.py {name} refuses {' '.join(args)!r}: {error}"]
    return []


def _defines(module: str, attribute: str) -> bool:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return False
    tree = ast.parse(Path(spec.origin).read_text())
    return any(
        isinstance(node, ast.Assign | ast.AnnAssign)
        and any(
            isinstance(target, ast.Name) and target.id == attribute
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        )
        for node in tree.body
    )


def console_script_problems(name: str) -> list[str]:
    found = entry_points(group="console_scripts", name=name)
    if not found:
        return [f"no console script {name!r} is installed"]
    owner = next(iter(found)).dist
    dist = owner.name if owner is not None else "?"
    if dist.lower() not in runtime_dependencies():
        return [f"{name!r} comes from {dist}, not a runtime dependency in pyproject.toml"]
    distribution(dist)  # installed
    return []


def entry_point_problems(argv: list[str]) -> list[str]:
    """What keeps ``argv`` (an exec-form command, run from the repository root) from
    being a real entry point of the image."""
    argv = _expanded(argv)
    if not argv:
        return ["an empty command"]
    if argv[0] == "python":
        if argv[1:2] == ["manage.py"] and len(argv) > 2:
            return management_command_problems(argv[2], argv[3:])
        if argv[1:2] == ["-m"]:
            found = importlib.util.find_spec(argv[2]) is not None
            return [] if found else [f"no module {argv[2]!r}"]
        if argv[1:2] == ["-c"]:
            compile(argv[2], "<command>", "exec")
            return []
        return [f"python runs nothing known: {argv!r}"]
    if argv[0] == "uvicorn":
        problems = console_script_problems("uvicorn")
        module, _, attribute = argv[1].partition(":")
        if not _defines(module, attribute):
            problems.append(f"{argv[1]!r} is not a module-level name")
        return problems
    return [f"unknown program {argv[0]!r}"]
