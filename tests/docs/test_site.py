"""The documentation site builds strictly, and nothing points at documentation that is gone."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_site_builds_strictly(tmp_path):
    # --strict: a broken link or anchor, a page missing from the nav, or a docstring that
    # mkdocstrings cannot read (the API reference) fails the build.
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "DISABLE_MKDOCS_2_WARNING": "true"}
    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(site)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stderr[-5000:]}"
    # every page of docs/ is in the site, and the API reference covers every package
    for page in (ROOT / "docs").rglob("*.md"):
        built = site / page.relative_to(ROOT / "docs").with_suffix("")
        if page.name == "index.md":
            built = built.parent
        assert (built / "index.html").is_file(), f"{page} is not in the built site"
    for init in (ROOT / "nvsense").rglob("__init__.py"):
        name = ".".join(init.parent.relative_to(ROOT).parts)
        if name.endswith((".benches", ".sims")):
            continue
        assert (site / "reference" / name / "index.html").is_file(), f"no API page for {name}"
    noise = (site / "reference" / "nvsense.analysis.noise" / "index.html").read_text()
    assert 'id="nvsense.analysis.noise.noise_floor"' in noise  # rendered from the docstring


def test_nothing_points_at_the_old_readme_sections():
    # docs/readme/*.md moved to docs/<topic>.md; an installed package has neither, so help
    # texts and messages name the documentation's page instead of a path in the source tree.
    stale = []
    for path in [*ROOT.glob("nvsense/**/*.py"), *ROOT.glob("docs/**/*.md"),
                 ROOT / "README.md", ROOT / "Makefile", *ROOT.glob("tools/*.py")]:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"docs/readme\b|make readme", line):
                stale.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not stale, "\n".join(stale)


def test_campaign_help_points_at_the_documentation_not_a_source_path(capsys):
    from nvsense.cli import main

    try:
        main(["campaign", "--help"])
    except SystemExit:
        pass
    text = " ".join(capsys.readouterr().out.split())
    assert "docs/" not in text
    assert "Campaigns page of the nvsense documentation" in text


def test_sphinx_roles_in_docstrings_show_as_inline_code():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "griffe_sphinx_roles", ROOT / "tools" / "griffe_sphinx_roles.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = ("See :func:`nvsense.analysis.noise_floor`, :class:`~nvsense.storage.RunWriter`, "
            ":data:`MIN_SAMPLES`, :py:meth:`Bench.check <nvsense.Bench.check_settings>` and "
            "``literal``.")
    assert module.plain_roles(text) == (
        "See `nvsense.analysis.noise_floor`, `RunWriter`, `MIN_SAMPLES`, `Bench.check` and "
        "``literal``.")


def _slug(heading: str) -> str:
    """The anchor Python-Markdown's toc extension gives a heading (its default slugify)."""
    text = re.sub(r"[^\w\s-]", "", heading.strip().lower())
    return re.sub(r"[-\s]+", "-", text).strip("-")


def test_links_to_sections_of_the_same_page_exist():
    # mkdocs --strict checks anchors into other pages, not "(#anchor)" within a page: pages
    # moved out of the one-file README kept links to sections that now live elsewhere
    broken = []
    for page in (ROOT / "docs").rglob("*.md"):
        text = page.read_text(encoding="utf-8")
        anchors = {_slug(m.group(1)) for m in re.finditer(r"^#+\s+(.*)$", text, re.M)}
        for link in re.finditer(r"\]\(#([^)]+)\)", text):
            if link.group(1) not in anchors:
                broken.append(f"{page.relative_to(ROOT)}: #{link.group(1)}")
    assert not broken, "links to sections that are not on the page:\n" + "\n".join(broken)
