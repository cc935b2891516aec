"""Generate the API reference of the documentation site (run by mkdocs-gen-files).

Every package of nvsense gets a page with its docstring and the names it exports (its
``__all__``), and every module a page with everything public in it, rendered by mkdocstrings
from the docstrings.  The pages and their navigation (``reference/SUMMARY.md``, read by
mkdocs-literate-nav) are made at every build from the source tree, so a new module appears in
the reference without editing anything, and a docstring mkdocstrings cannot read fails the
strict build.  Folders that hold only data (bench files, pyvisa-sim models) are left out.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "nvsense"

#: Modules and packages without Python API: the ``python -m`` entry point and data folders.
SKIP = ("nvsense.__main__", "nvsense.cli.__main__", "nvsense.instruments.benches",
        "nvsense.instruments.drivers.sims")


@dataclass
class Package:
    """A package and the modules directly in it."""

    name: str
    modules: list[str] = field(default_factory=list)
    packages: list[Package] = field(default_factory=list)


def skipped(name: str) -> bool:
    """Whether ``name`` (dotted) is left out of the reference."""
    return any(name == s or name.startswith(s + ".") for s in SKIP)


def package_tree(path: Path = PACKAGE) -> Package:
    """The package at ``path`` with its modules and sub-packages, sorted by name."""
    name = ".".join(path.relative_to(ROOT).parts)
    tree = Package(name)
    for child in sorted(path.iterdir()):
        dotted = f"{name}.{child.stem}"
        if child.is_dir() and (child / "__init__.py").exists() and not skipped(dotted):
            tree.packages.append(package_tree(child))
        elif (child.suffix == ".py" and child.name != "__init__.py"
              and not child.name.startswith("_") and not skipped(dotted)):
            tree.modules.append(dotted)
    return tree


def summary_line(name: str) -> str:
    """First sentence of a module's docstring, read without importing it."""
    path = ROOT.joinpath(*name.split("."))
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    first = doc.strip().split("\n\n")[0].replace("\n", " ")
    return first.split(". ")[0].rstrip(".").replace("|", "\\|")


def page_of(name: str) -> str:
    """Path of a module's page inside ``reference/``."""
    return f"{name}.md"


def package_page(pkg: Package) -> str:
    """Markdown of a package's page: its API, then a table of its modules."""
    rows = [f"| [`{m}`]({page_of(m)}) | {summary_line(m)} |" for m in pkg.modules]
    rows += [f"| [`{p.name}`]({page_of(p.name)}) | {summary_line(p.name)} |"
             for p in pkg.packages]
    text = f"# `{pkg.name}`\n\n::: {pkg.name}\n"
    if rows:
        text += ("\n## Modules\n\n| module | what it holds |\n| --- | --- |\n"
                 + "\n".join(rows) + "\n")
    return text


def nav_lines(pkg: Package, depth: int = 0) -> list[str]:
    """literate-nav lines for a package: a section with its overview page and modules."""
    indent = "    " * depth
    lines = [f"{indent}* {pkg.name}", f"{indent}    * [{pkg.name}]({page_of(pkg.name)})"]
    for module in pkg.modules:
        lines.append(f"{indent}    * [{module.rsplit('.', 1)[1]}]({page_of(module)})")
    for sub in pkg.packages:
        lines += nav_lines(sub, depth + 1)
    return lines


def all_packages(pkg: Package) -> list[Package]:
    """``pkg`` and every package below it."""
    return [pkg] + [p for sub in pkg.packages for p in all_packages(sub)]


def write_pages() -> None:
    """Write the reference pages through mkdocs-gen-files (called at every site build)."""
    import mkdocs_gen_files

    tree = package_tree()
    packages = all_packages(tree)
    for pkg in packages:
        with mkdocs_gen_files.open(f"reference/{page_of(pkg.name)}", "w") as f:
            f.write(package_page(pkg))
        for module in pkg.modules:
            with mkdocs_gen_files.open(f"reference/{page_of(module)}", "w") as f:
                f.write(f"# `{module}`\n\n::: {module}\n")
    rows = [f"| [`{p.name}`]({page_of(p.name)}) | {summary_line(p.name)} |" for p in packages]
    with mkdocs_gen_files.open("reference/index.md", "w") as f:
        f.write("# API reference\n\n"
                "Generated from the docstrings at every build of this site. Each package's "
                "page shows the names it exports (what to import); each module's page shows "
                "everything public in it. The user-guide pages show how they fit together.\n\n"
                "| package | what it holds |\n| --- | --- |\n" + "\n".join(rows) + "\n")
    nav = ["* [Overview](index.md)", *nav_lines(tree)]
    with mkdocs_gen_files.open("reference/SUMMARY.md", "w") as f:
        f.write("\n".join(nav) + "\n")


if __name__ in ("__main__", "<run_path>"):  # mkdocs-gen-files runs it with runpy
    write_pages()
