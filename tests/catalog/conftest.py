from __future__ import annotations

import re
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from vaultlab.catalog import load_catalog, resolve_vault
from vaultlab.vault.model import Note, SummaryField

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_VAULT = REPO / "example_vault"
_SUMMARY_LINE = re.compile(r"^(?:- )?\*\*([^*:]+):?\*\*:?\s*(.*)$")


def make_note(relpath: str, summary: dict[str, str] | None = None, frontmatter: dict | None = None, title: str = "") -> Note:
    """A paper note as the parser would fill it; Quick Summary fields start on line 15."""
    fields = [SummaryField(label, _key(label), value, 15 + i) for i, (label, value) in enumerate((summary or {}).items())]
    frontmatter = {"tags": ["paper"], **(frontmatter or {})}
    return Note(path=Path("/vault") / relpath, relpath=relpath, text="", digest="", frontmatter=frontmatter,
                frontmatter_lines={key: i + 2 for i, key in enumerate(frontmatter)}, has_frontmatter=True,
                title=title or Path(relpath).stem, summary=fields, is_paper=True)


def _key(label: str) -> str:
    return label.strip().lower().replace(" ", "_").replace("/", "_")


def read_seed_note(path: Path) -> Note:
    """Just enough of the note contract (DESIGN.md §2) for the seeds, so these tests do not depend on
    the state of the real parser: YAML 1.2 frontmatter with key lines, first H1, Quick Summary lines."""
    lines = path.read_text(encoding="utf-8").splitlines()
    end = lines.index("---", 1)
    frontmatter = dict(YAML(typ="safe", pure=True).load("\n".join(lines[1:end])) or {})
    key_lines = {line.split(":", 1)[0]: n for n, line in enumerate(lines[:end], start=1) if ":" in line}
    title = next((line[2:].strip() for line in lines[end:] if line.startswith("# ")), path.stem)
    summary = [SummaryField(m.group(1).strip(), _key(m.group(1)), m.group(2).strip(), n)
               for n, line in enumerate(lines, start=1) if n > end and (m := _SUMMARY_LINE.match(line))]
    return Note(path=path, relpath=path.name, text="", digest="", frontmatter=frontmatter, frontmatter_lines=key_lines,
                has_frontmatter=True, title=title, summary=summary, is_paper=True)


@pytest.fixture(name="make_note")
def make_note_fixture():
    return make_note


@pytest.fixture(scope="session")
def catalog():
    return load_catalog()


@pytest.fixture(scope="session")
def seed_notes():
    return [read_seed_note(path) for path in sorted(EXAMPLE_VAULT.glob("*.md"))]


@pytest.fixture(scope="session")
def seed_experiments(seed_notes, catalog):
    return resolve_vault(seed_notes, catalog, {})
