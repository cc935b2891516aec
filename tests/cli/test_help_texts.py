"""Every ``nvsense`` command's ``--help``: defaults shown only where there is one, once, and no
help text that stops at a colon."""

from __future__ import annotations

import argparse
import re

import pytest

from nvsense.cli import build_parser
from nvsense.cli._help import HelpFormatter, apply_help_format


def every_parser() -> list[argparse.ArgumentParser]:
    return apply_help_format(build_parser())


def option_helps(parser: argparse.ArgumentParser) -> list[tuple[str, str]]:
    """(option, its help as printed) for every documented argument of ``parser``."""
    formatter = parser._get_formatter()
    out = []
    for action in parser._actions:
        if action.help in (None, argparse.SUPPRESS):
            continue
        name = ", ".join(action.option_strings) or action.dest
        out.append((name, " ".join(formatter._expand_help(action).split())))
    return out


def test_the_walk_reaches_every_command():
    progs = {p.prog for p in every_parser()}
    for prog in ("nvsense odmr", "nvsense track", "nvsense campaign run", "nvsense campaign check",
                 "nvsense campaign status", "nvsense runs", "nvsense show", "nvsense nv lines",
                 "nvsense widefield fit", "nvsense instruments check"):
        assert prog in progs
    assert all(p.formatter_class is HelpFormatter for p in every_parser())


@pytest.mark.parametrize("parser", every_parser(), ids=lambda p: p.prog)
def test_help_shows_real_defaults_once_and_ends_no_sentence_at_a_colon(parser):
    text = parser.format_help()
    for empty in ("(default: None)", "(default: False)", "(default: True)", "(default: [])"):
        assert empty not in text, f"{parser.prog}: {empty}"
    assert not (parser.description or "").rstrip().endswith(":"), parser.prog
    for name, help_text in option_helps(parser):
        assert not help_text.endswith(":"), f"{parser.prog} {name}: {help_text!r}"
        assert len(re.findall(r"\bdefault\b", help_text, re.I)) <= 1, \
            f"{parser.prog} {name}: {help_text!r}"


def test_a_real_default_the_help_does_not_state_is_shown():
    helps = dict(option_helps(next(p for p in every_parser() if p.prog == "nvsense fit")))
    assert helps["--model"].endswith("(default: lorentzian)")
    assert helps["--baseline"].endswith("(default: constant)")
    helps = dict(option_helps(next(p for p in every_parser() if p.prog == "nvsense track")))
    assert "(default" not in helps["--json"]  # a flag: nothing to show
    # a default that a bench file's defaults.track may replace says so, once
    assert helps["--rate"].endswith("(default: the bench file's, else 100Hz)")
    assert helps["--dither-periods"].endswith("(default: the bench file's, else 10)")
