"""A griffe extension for the documentation site: Sphinx roles in docstrings as inline code.

nvsense's numpy-style docstrings name other objects with Sphinx roles (``:func:`noise_floor```,
``:class:`~nvsense.storage.RunWriter```, ``:data:`MIN_SAMPLES```), which read well in
``help()`` and in an editor.  mkdocstrings would show the role markup literally; this turns
each into inline code of the name as Sphinx would display it (``~`` keeps the last part).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:func|meth|class|mod|data|attr|obj|exc|const|ref):`([^`]+)`")


def plain_roles(text: str) -> str:
    """``text`` with every Sphinx cross-reference role replaced by inline code."""

    def display(match: re.Match[str]) -> str:
        target = match.group(1).strip()
        explicit = re.fullmatch(r"(.+?)\s*<[^>]+>", target)  # :func:`title <target>`
        if explicit:
            return f"`{explicit.group(1)}`"
        if target.startswith("~"):
            target = target[1:].rsplit(".", 1)[-1]
        return f"`{target}`"

    return _ROLE.sub(display, text)


class SphinxRoles(griffe.Extension):
    """Rewrite Sphinx roles in every docstring griffe loads."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = plain_roles(obj.docstring.value)
