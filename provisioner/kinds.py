"""The bot kinds of ``bot_templates/``: each folder's ``template.yaml`` and message
templates, loaded once per process (they ship with the code)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "bot_templates"
DEFAULT_LANGUAGE = "en"


class KindNotFound(LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no bot kind {name!r}; kinds: {', '.join(sorted(kinds()))}")
        self.name = name


@dataclass(frozen=True)
class Kind:
    name: str
    title: str
    description: str
    parameters: dict[str, Any]  # a JSON Schema (draft 2020-12)
    commands: tuple[tuple[str, str], ...]  # (command, description): the default menu
    variables: dict[str, tuple[str, ...]]  # message key -> the variables its text may use
    messages: dict[str, dict[str, str]] = field(repr=False)  # language -> key -> source
    folder: Path = field(repr=False, default=TEMPLATES_DIR)

    @property
    def languages(self) -> list[str]:
        return sorted(self.messages)

    def message_source(self, key: str, language: str) -> str:
        """The Jinja source of ``key`` in ``language``, else in English."""
        if key not in self.variables:
            raise KeyError(f"{self.name} has no message {key!r}")
        by_language = self.messages.get(language, {})
        return by_language.get(key) or self.messages[DEFAULT_LANGUAGE][key]


def _load(folder: Path) -> Kind:
    spec = yaml.safe_load((folder / "template.yaml").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(spec["parameters"])
    messages = {
        path.stem: yaml.safe_load(path.read_text(encoding="utf-8"))
        for path in sorted((folder / "messages").glob("*.yaml"))
    }
    variables = {key: tuple(names) for key, names in spec["messages"].items()}
    missing = sorted(set(variables) - set(messages.get(DEFAULT_LANGUAGE, {})))
    if missing:
        raise ValueError(f"{folder.name}: no English text for {missing}")
    for language, texts in messages.items():
        unknown = sorted(set(texts) - set(variables))
        if unknown:
            raise ValueError(f"{folder.name}/messages/{language}.yaml: unknown keys {unknown}")
    return Kind(
        name=spec["name"],
        title=spec["title"],
        description=spec["description"],
        parameters=spec["parameters"],
        commands=tuple((c["command"], c["description"]) for c in spec["commands"]),
        variables=variables,
        messages=messages,
        folder=folder,
    )


@functools.cache
def kinds() -> dict[str, Kind]:
    """Every kind by name."""
    found = {}
    for folder in sorted(TEMPLATES_DIR.iterdir()):
        if (folder / "template.yaml").is_file():
            kind = _load(folder)
            if kind.name != folder.name:
                raise ValueError(f"{folder}: template.yaml names it {kind.name!r}")
            found[kind.name] = kind
    return found


def kind_get(name: str) -> Kind:
    try:
        return kinds()[name]
    except KeyError:
        raise KindNotFound(name) from None
