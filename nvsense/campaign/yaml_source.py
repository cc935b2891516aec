"""A YAML document that remembers where each value came from, for errors that name the line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..yaml_lines import line_of
from .errors import CampaignError

__all__ = ["YamlDocument", "read_yaml"]


@dataclass(frozen=True)
class YamlDocument:
    """Parsed YAML ``data`` with its node tree ``root`` (``None`` for a plain mapping).

    Attributes
    ----------
    label
        The file name (or ``"campaign"`` for a mapping), used at the head of error messages.
    """

    data: Any
    root: yaml.Node | None
    label: str
    path: Path | None = None

    def line(self, *keys: str | int) -> int | None:
        """1-based line of the value at ``keys`` (a key of a mapping, an index of a list); the
        line of the deepest part that exists when the full path does not."""
        return line_of(self.root, keys)

    def where(self, *keys: str | int) -> str:
        """``"FILE, line N"`` for the value at ``keys`` (``"FILE"`` without line numbers)."""
        line = self.line(*keys)
        return f"{self.label}, line {line}" if line else self.label


def read_yaml(path: str | Path) -> YamlDocument:
    """Read a YAML file, with its node tree for line numbers.

    Raises
    ------
    CampaignError
        The file is missing, unreadable, not valid YAML (naming the line), or repeats a key
        (YAML would silently keep the last one; in a campaign that hides a mistake).
    """
    path = Path(path)
    if not path.is_file():
        raise CampaignError(f"campaign file {str(path)!r} not found; give the path of a YAML "
                            "campaign file (examples in examples/campaigns/)")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CampaignError(f"cannot read campaign file {path}: {exc}") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise CampaignError(f"{path}{where}: not valid YAML ({problem}); check the indentation "
                            "and quoting there") from None
    if root is not None:
        _reject_duplicate_keys(root, str(path))
    return YamlDocument(data=data, root=root, label=str(path), path=path)


def _reject_duplicate_keys(node: yaml.Node, label: str) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            name = str(key.value)
            line = key.start_mark.line + 1
            if name in seen:
                raise CampaignError(f"{label}, line {line}: {name!r} is given twice (first on "
                                    f"line {seen[name]}); keep one")
            seen[name] = line
            _reject_duplicate_keys(value, label)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _reject_duplicate_keys(item, label)
