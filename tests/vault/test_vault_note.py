"""Parsing notes: the five seed notes end to end, and the Obsidian rules the parser must follow."""

from __future__ import annotations

from pathlib import Path

import pytest

from vaultlab.vault.note import parse_note_bytes, read_note
from vaultlab.vault.text import reading_state, repair_text

from .conftest import SEED_VAULT, SEEDS


def parse(text: str | bytes, name: str = "n.md"):
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return parse_note_bytes(raw, Path("/v") / name, name)


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.stem)
def test_seed_notes_parse(path: Path) -> None:
    note = read_note(path, SEED_VAULT)
    assert note.usable and note.is_paper and note.has_frontmatter
    assert len(note.progress_tasks) == 7 and note.progress == 0
    assert [t.text for t in note.progress_tasks][0] == "Abstract"
    assert note.frontmatter["year"] in (2019, 2020, 2022, 2023) and isinstance(note.frontmatter["year"], int)
    assert note.frontmatter["dateadded"] == "2025-11-26"  # dates stay strings, as written
    assert note.frontmatter["dateread"] is None
    assert reading_state(note.frontmatter["status"]) == "to_read"
    assert repair_text(note.frontmatter["status"]) == "📚 To Read"
    (warning,) = note.diagnostics
    assert warning.severity == "warning" and "mojibake" in warning.message
    assert warning.line == note.frontmatter_lines["status"] and "--fix-text" in warning.hint
    assert note.summary_field("method") is not None and note.summary_field("backbone") is not None
    assert note.sections and note.sections[0].start > note.frontmatter_end


def test_seed_summaries() -> None:
    notes = {p.stem[:3]: read_note(p, SEED_VAULT) for p in SEEDS}
    assert notes["004"].summary_field("backbone").items == ["PSPNet", "DeepLabv3+"]
    assert notes["003"].summary_field("loss").items == ["Binary CE loss", "MMD loss", "Paired Similarity"]
    assert notes["002"].summary_field("static_dynamic").value == "S"
    assert notes["001"].summary_field("approach").value.startswith("One-Class")
    assert notes["003"].title == "Face Anti-Spoofing With Deep Neural Network Distillation"
    assert notes["000"].title == "000_6f73c2b86093280e"  # no H1: the file stem
    assert notes["003"].frontmatter["aliases"] == ["Face Anti-Spoofing With Deep Neural Network Distillation"]


def test_tasks_follow_obsidian_rules() -> None:
    note = parse(
        "---\ntags: [paper]\n---\n## Action Items\n- [ ] \n- [x] not progress\n\n"
        "**Reading Progress:**\n- [x] A\n- [ ] B\n* [?] C\n1. [-] D\n- [ ]\n"
        "%% - [x] hidden inline %%\n%%\n- [x] hidden block\n%%\n```\n- [x] in code\n```\n"
        "  - [/] nested\n- [ ] E %%comment%%\n"
    )
    assert [(t.mark, t.text) for t in note.progress_tasks] == [
        ("x", "A"), (" ", "B"), ("?", "C"), ("-", "D"), ("/", "nested"), (" ", "E %%comment%%")]
    assert note.progress == round(100 * 4 / 6)


def test_reading_progress_heading_and_summary_variants() -> None:
    note = parse(
        "# Title\n## 📝 Quick summary\n- **Method**: X\n**static/dynamic:** S\n- **New Label:** v\n\nnot a label\n"
        "### Reading-Progress\n- [x] a\n## Next\n- [ ] outside\n"
    )
    assert note.is_paper and note.title == "Title"
    assert [(f.key, f.value) for f in note.summary] == [("method", "X"), ("static_dynamic", "S"), ("new_label", "v")]
    assert [t.text for t in note.progress_tasks] == ["a"]


def test_frontmatter_only_at_byte_zero_and_body_dashes() -> None:
    note = parse("\n---\ntags: [paper]\n---\n## Quick Summary\n**Method:** X\n")
    assert not note.has_frontmatter
    note = parse("---\ntags: paper\n---\nbody\n---\nmore\n---\n")
    assert note.frontmatter == {"tags": "paper"} and note.is_paper and note.frontmatter_end == 3


def test_tags_as_string_with_hash() -> None:
    assert parse("---\ntags: '#paper, fas'\n---\n").is_paper
    assert not parse("---\ntags: [papers]\n---\n").is_paper


def test_sections_have_line_ranges_and_skip_code() -> None:
    note = parse("---\na: 1\n---\n# T\ntext\n## A\n```\n## not a heading\n```\n### A1\n## B\nend")
    assert [(s.title, s.level, s.start, s.end) for s in note.sections] == [
        ("T", 1, 4, 12), ("A", 2, 6, 10), ("A1", 3, 10, 10), ("B", 2, 11, 12)]


def test_reading_state_vocabulary() -> None:
    assert reading_state("📖 Reading") == "reading"
    assert reading_state("✅ read") == "read"
    assert reading_state("unread") == "to_read"
    assert reading_state("Abandoned") is None
    assert reading_state("Gelesen", {"read": "Gelesen"}) == "read"
    assert reading_state(3) is None


def test_task_lines_are_exact_across_blank_lines() -> None:
    note = parse("**Reading Progress:**\n\n- [x] A\n\n\n- [ ] B\n\t- [x] C\n")
    assert [(t.line, t.text) for t in note.progress_tasks] == [(3, "A"), (6, "B"), (7, "C")]
    assert note.progress_line == 1


def test_summary_items_split_on_commas_semicolons_and_the_word_and_but_not_inside_brackets():
    from vaultlab.vault.model import SummaryField

    def items(value):
        return SummaryField("Loss", "loss", value, 1).items

    assert items("MMD loss , Paired Similarity") == ["MMD loss", "Paired Similarity"]
    assert items("CE loss and triplet loss; SupCon & MMD") == ["CE loss", "triplet loss", "SupCon", "MMD"]
    assert items("ResNet-50 (ImageNet, pre-trained and frozen)") == ["ResNet-50 (ImageNet, pre-trained and frozen)"]
    assert items("Sandstone andante") == ["Sandstone andante"]
