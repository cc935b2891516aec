"""The examples of the README and the documentation run as written (issue 12, "Done when").

Every fenced block of ``README.md`` and ``docs/**/*.md`` is collected:

- ``console`` blocks: each ``$ nvsense ...`` line runs (the lines after it are its output, not
  compared); ``$ echo $?`` compares the shown exit code with the previous command's;
- ``sh`` / ``shell`` / ``bash`` blocks: every line is a command and runs;
- ``python`` blocks run in order in one namespace per page, like a Python session;
- ``yaml`` and ``json`` blocks must parse;
- ``text`` (and other languages) are shown only; a block without a language is refused, so a
  command cannot hide from this test in an untagged block.

Commands run in-process through :func:`nvsense.cli.main` (as the CLI tests do) on the
simulated bench, in a temporary folder holding a copy of ``examples/``, with the data folder
(``NVSENSE_DATA_DIR``) redirected into it.  Each page is one test, its blocks in page order,
so the pages run in parallel on the test workers.  A command fails the test on a non-zero
exit (or the exit code its ``$ echo $?`` shows), a Python block on any exception.

An HTML comment just before a block (invisible on GitHub and in the site) changes this:

- ``<!-- docs-test: skip: REASON -->``: the block is not run.  Only for what CI cannot do
  (real hardware, a Ctrl-C by hand, system packages, a display); the reason is required and
  the number of such blocks is capped below;
- ``<!-- docs-test: exit N -->``: the block's commands are expected to exit with N;
- ``<!-- docs-test: file NAME -->``: the block's text is written to NAME in the folder (a
  bench or campaign file that later commands use); if the repository has a file NAME (such
  as ``examples/campaigns/power_grid.yaml``), the block must show it as it is.
"""

from __future__ import annotations

import contextlib
import glob
import io
import json
import os
import re
import shlex
import shutil
import textwrap
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]

#: At most this many blocks may be skipped: each needs something CI does not have.
MAX_SKIPPED = 14

SHELL_LANGUAGES = {"sh", "shell", "bash"}
PYTHON_LANGUAGES = {"python", "py"}
PARSED_LANGUAGES = {"yaml", "yml", "json"}

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`\s]*)[^`]*$")
_ANNOTATION = re.compile(r"^\s*<!--\s*docs-test:\s*(?P<body>.*?)\s*-->\s*$")


class DocsFormatError(ValueError):
    """A page's blocks or annotations are malformed."""


@dataclass
class Block:
    """One fenced block of a Markdown page."""

    page: Path
    line: int  # of the opening fence, 1-based
    language: str
    text: str
    skip: str | None = None
    exit_code: int = 0
    file: str | None = None

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


@dataclass
class Command:
    """One shell command of a block, with the output shown after it (console blocks)."""

    line: int
    text: str
    shown: list[str] = field(default_factory=list)


def pages() -> list[Path]:
    """The README and every Markdown page of the documentation."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def parse_annotation(body: str, where: str) -> dict[str, object]:
    """The options of a ``docs-test:`` comment."""
    if body.startswith("skip:"):
        reason = body[len("skip:"):].strip()
        if len(reason) < 10:
            raise DocsFormatError(f"{where}: 'docs-test: skip:' needs a reason saying why CI "
                                  "cannot run the block")
        return {"skip": reason}
    match = re.fullmatch(r"exit\s+(\d+)", body)
    if match:
        return {"exit_code": int(match.group(1))}
    match = re.fullmatch(r"file\s+(\S+)", body)
    if match:
        return {"file": match.group(1)}
    raise DocsFormatError(f"{where}: unknown annotation 'docs-test: {body}' (use 'skip: "
                          "REASON', 'exit N' or 'file NAME')")


def blocks(page: Path) -> list[Block]:
    """The fenced blocks of ``page`` with their annotations."""
    lines = page.read_text(encoding="utf-8").splitlines()
    out: list[Block] = []
    pending: tuple[int, dict[str, object]] | None = None
    i = 0
    rel = page.relative_to(ROOT)
    while i < len(lines):
        line = lines[i]
        annotation = _ANNOTATION.match(line)
        if annotation:
            if pending is not None:
                raise DocsFormatError(f"{rel}:{pending[0]}: annotation not followed by a block")
            pending = (i + 1, parse_annotation(annotation.group("body"), f"{rel}:{i + 1}"))
            i += 1
            continue
        fence = _FENCE.match(line)
        if not fence:
            if line.strip() and pending is not None:
                raise DocsFormatError(f"{rel}:{pending[0]}: a docs-test annotation must come "
                                      "just before its block")
            i += 1
            continue
        indent, marker = fence.group("indent"), fence.group("fence")
        start = i
        body = []
        i += 1
        while i < len(lines):
            closing = lines[i].strip()
            if closing.startswith(marker[0] * len(marker)) and set(closing) == {marker[0]}:
                break
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
            i += 1
        else:
            raise DocsFormatError(f"{rel}:{start + 1}: the block is never closed")
        options = pending[1] if pending else {}
        pending = None
        out.append(Block(page, start + 1, fence.group("info").lower(),
                         textwrap.dedent("\n".join(body)) + "\n", **options))
        i += 1
    if pending is not None:
        raise DocsFormatError(f"{rel}:{pending[0]}: annotation not followed by a block")
    return out


def commands(block: Block) -> list[Command]:
    """The commands of a console block (``$ `` lines) or a shell block (every line)."""
    out: list[Command] = []
    lines = block.text.splitlines()
    k = 0
    while k < len(lines):
        line, number = lines[k], block.line + 1 + k
        k += 1
        if block.language == "console":
            if not line.startswith("$ "):
                if out:
                    out[-1].shown.append(line)
                continue
            text = line[2:]
        else:
            text = line
        while text.rstrip().endswith("\\") and k < len(lines):  # continued on the next line
            text = text.rstrip()[:-1].rstrip() + " " + lines[k].strip()
            k += 1
        if text.strip() and not text.strip().startswith("#"):
            out.append(Command(number, text.strip()))
    return out


# --- running ------------------------------------------------------------------------------


@dataclass
class Session:
    """What one page's blocks share: the folder, the Python namespace, the last exit code."""

    folder: Path
    namespace: dict[str, object] = field(default_factory=lambda: {"__name__": "__main__"})
    last_exit: int | None = None


def run_command(command: Command, block: Block, session: Session) -> None:
    words = shlex.split(command.text, comments=True)
    env: dict[str, str] = {}
    while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    where = f"{block.page.relative_to(ROOT)}:{command.line}: $ {command.text}"
    if words == ["echo", "$?"]:
        shown = next((s.strip() for s in command.shown if s.strip()), None)
        if shown is not None and session.last_exit is not None:
            assert int(shown) == session.last_exit, (
                f"{where}: the page shows exit code {shown}, the command before it exited "
                f"with {session.last_exit}")
        return
    if not words or words[0] != "nvsense":
        raise AssertionError(f"{where}: only `nvsense` commands run in the docs tests; mark "
                             "the block with <!-- docs-test: skip: REASON --> if CI cannot "
                             "run it")
    argv = []
    for word in words[1:]:
        matches = sorted(glob.glob(word)) if any(c in word for c in "*?[") else []
        argv += matches or [word]
    code, out, err = call_cli(argv, env)
    session.last_exit = code
    expected = block.exit_code
    following = _shown_exit_code(block, command)
    if following is not None:
        expected = following
    assert code == expected, (
        f"{where}\nexited with {code}, expected {expected}\n--- stdout (end)\n{out[-3000:]}\n"
        f"--- stderr (end)\n{err[-3000:]}")


def _shown_exit_code(block: Block, command: Command) -> int | None:
    """The exit code a ``$ echo $?`` right after ``command`` shows, if there is one."""
    cmds = commands(block)
    index = next(i for i, c in enumerate(cmds) if c.line == command.line)
    if index + 1 < len(cmds) and shlex.split(cmds[index + 1].text) == ["echo", "$?"]:
        shown = [s.strip() for s in cmds[index + 1].shown if s.strip()]
        if shown and shown[0].lstrip("-").isdigit():
            return int(shown[0])
    return None


def call_cli(argv: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """Run ``nvsense ARGV`` in this process; exit code, stdout and stderr."""
    from nvsense.cli import main

    out, err = io.StringIO(), io.StringIO()
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:  # argparse: --help, or bad options
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return int(code or 0), out.getvalue(), err.getvalue()


def run_python(block: Block, session: Session) -> None:
    code = compile(block.text, block.where, "exec")
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(code, session.namespace)
    except Exception:
        raise AssertionError(f"{block.where}: the Python block failed\n"
                             f"{traceback.format_exc(limit=-6)}") from None


def check_parsed(block: Block) -> None:
    try:
        if block.language == "json":
            json.loads(block.text)
        else:
            list(yaml.safe_load_all(block.text))
    except (ValueError, yaml.YAMLError) as exc:
        raise AssertionError(f"{block.where}: the {block.language} block does not parse: "
                             f"{exc}") from None


def write_file(block: Block, session: Session) -> None:
    source = ROOT / block.file
    if source.is_file():
        assert source.read_text(encoding="utf-8") == block.text, (
            f"{block.where}: the block differs from {block.file} in the repository; show the "
            "file as it is")
    target = session.folder / block.file
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(block.text, encoding="utf-8")


@contextlib.contextmanager
def page_folder(tmp_path: Path) -> Iterator[Session]:
    """A folder with a copy of examples/ as the working directory, data folder inside it."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    saved_cwd, saved_env = os.getcwd(), os.environ.get("NVSENSE_DATA_DIR")
    os.chdir(tmp_path)
    os.environ["NVSENSE_DATA_DIR"] = str(tmp_path / "nvsense-data")
    try:
        yield Session(tmp_path)
    finally:
        os.chdir(saved_cwd)
        if saved_env is None:
            os.environ.pop("NVSENSE_DATA_DIR", None)
        else:
            os.environ["NVSENSE_DATA_DIR"] = saved_env
        import matplotlib.pyplot as plt

        plt.close("all")


def run_page(page: Path, tmp_path: Path) -> None:
    with page_folder(tmp_path) as session:
        for block in blocks(page):
            if block.skip:
                continue
            if block.file:
                write_file(block, session)
            if block.language in PARSED_LANGUAGES:
                check_parsed(block)
            elif block.language in PYTHON_LANGUAGES:
                run_python(block, session)
            elif block.language == "console" or block.language in SHELL_LANGUAGES:
                for command in commands(block):
                    run_command(command, block, session)


# --- the tests ----------------------------------------------------------------------------


def _runnable(page: Path) -> bool:
    return any(not b.skip and (b.language in PYTHON_LANGUAGES | SHELL_LANGUAGES
                               or b.language == "console")
               for b in blocks(page))


@pytest.mark.parametrize("page", [p for p in pages() if _runnable(p)],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_page_examples_run(page, tmp_path):
    run_page(page, tmp_path)


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_block_says_its_language_and_parses(page):
    for block in blocks(page):
        assert block.language, (f"{block.where}: give the block a language (console, sh, "
                                "python, yaml, json, or text for output)")
        if block.language in PARSED_LANGUAGES and not block.skip:
            check_parsed(block)
        if block.language not in {"console", *SHELL_LANGUAGES}:
            assert not any(line.startswith("$ nvsense") for line in block.text.splitlines()), (
                f"{block.where}: a `$ nvsense` command in a {block.language!r} block would "
                "not be run: make it a console block")


def test_few_blocks_are_skipped_and_each_says_why():
    skipped = [b for p in pages() for b in blocks(p) if b.skip]
    listing = "\n".join(f"  {b.where}: {b.skip}" for b in skipped)
    assert len(skipped) <= MAX_SKIPPED, (
        f"{len(skipped)} documentation blocks are not run (at most {MAX_SKIPPED}):\n{listing}")
    assert all(len(b.skip) >= 10 for b in skipped)


# --- the harness itself -------------------------------------------------------------------


def _page(tmp_path: Path, text: str) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir(exist_ok=True)
    page = docs / "page.md"
    page.write_text(textwrap.dedent(text), encoding="utf-8")
    return page


@pytest.fixture
def fake_root(tmp_path, monkeypatch):
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "a.yaml").write_text("x: 1\n")
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    return tmp_path


def test_harness_reads_annotations_languages_and_outputs(fake_root):
    page = _page(fake_root, """\
        Text.

        <!-- docs-test: skip: needs a real SG384 on the bench -->
        ```console
        $ nvsense instruments check lab.yaml
        ```

        - an item with an indented block:

          ```python
          x = 1
          ```

        <!-- docs-test: exit 2 -->
        ```console
        $ nvsense odmr --points 3 \\
            --sweeps 2     # a comment
        some output
        $ echo $?
        2
        ```
        """)
    found = blocks(page)
    assert [b.language for b in found] == ["console", "python", "console"]
    assert found[0].skip == "needs a real SG384 on the bench"
    assert found[1].text == "x = 1\n"
    assert found[2].exit_code == 2
    cmds = commands(found[2])
    assert [c.text for c in cmds] == ["nvsense odmr --points 3 --sweeps 2     # a comment",
                                      "echo $?"]
    assert cmds[0].shown == ["some output"]  # the continuation line is the command's
    assert cmds[1].shown == ["2"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<!-- docs-test: skip: -->\n```sh\nnvsense odmr\n```\n", "needs a reason"),
        ("<!-- docs-test: skip: because -->\n```sh\nnvsense odmr\n```\n", "needs a reason"),
        ("<!-- docs-test: sometimes -->\n```sh\nnvsense odmr\n```\n", "unknown annotation"),
        ("<!-- docs-test: exit 2 -->\nA paragraph.\n```sh\nnvsense odmr\n```\n",
         "just before its block"),
        ("```python\nx = 1\n", "never closed"),
        ("<!-- docs-test: exit 2 -->\n", "not followed by a block"),
    ],
)
def test_harness_refuses_malformed_pages(fake_root, text, message):
    with pytest.raises(DocsFormatError, match=message):
        blocks(_page(fake_root, text))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("```console\n$ nvsense nv lines --field 'nonsense'\n```\n", "exited with 2"),
        ("```console\n$ nvsense nv lines --field '1 mT, 0, 0'\n$ echo $?\n1\n```\n",
         "exited with 0, expected 1"),
        ("```sh\nls /\n```\n", "only `nvsense` commands"),
        ("```python\nx = 1\n```\n\n```python\nassert x == 2\n```\n", "AssertionError"),
        ("```python\nraise RuntimeError('boom')\n```\n", "boom"),
        ("```yaml\na: [1, 2\n```\n", "does not parse"),
        ("<!-- docs-test: file examples/a.yaml -->\n```yaml\nx: 2\n```\n", "differs from"),
    ],
)
def test_harness_fails_what_would_mislead_a_reader(fake_root, tmp_path_factory, text, message):
    with pytest.raises(AssertionError, match=message):
        run_page(_page(fake_root, text), tmp_path_factory.mktemp("run"))


def test_harness_runs_a_page_as_a_session(fake_root, tmp_path_factory):
    folder = tmp_path_factory.mktemp("run")
    page = _page(fake_root, """\
        <!-- docs-test: file bench.yaml -->
        ```yaml
        name: doc-bench
        ```

        ```python
        from pathlib import Path
        text = Path("bench.yaml").read_text()
        ```

        ```console
        $ nvsense nv lines --field "1 mT, 0, 0" --json
        $ echo $?
        0
        ```

        ```python
        import os
        assert text == "name: doc-bench\\n"
        assert os.environ["NVSENSE_DATA_DIR"].endswith("nvsense-data")
        assert Path("examples/a.yaml").exists()
        ```
        """)
    run_page(page, folder)
    assert (folder / "bench.yaml").exists()
