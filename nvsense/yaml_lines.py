"""Line numbers of values in YAML files, for error messages that point at the line."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml

__all__ = ["line_of"]


def line_of(root: yaml.Node | None, keys: Iterable[Any]) -> int | None:
    """1-based line of the value at ``keys`` (mapping keys, list indices) in a composed YAML
    tree (``yaml.compose``); the line of the deepest part that exists when the full path does
    not, and None without a tree."""
    if root is None:
        return None
    node, line = root, root.start_mark.line + 1
    for part in keys:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == str(part):
                    node, line = value, key.start_mark.line + 1
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line
