"""Splice-only editors: properties, managed regions, Results rows. Bytes outside the edit never move."""

from __future__ import annotations

import pytest

from vaultlab.vault.edit import NoFrontmatter, RegionError, replace_region, set_properties, upsert_results_rows
from vaultlab.vault.propformat import PropertyTypeError

from .conftest import SEEDS

TYPES = {"progress": "number", "experiment": "text", "last_run": "datetime", "dateread": "date",
         "tags": "tags", "aliases": "aliases", "done": "checkbox"}


def test_replace_in_place_keeps_every_other_byte() -> None:
    text = "---\ntitle: 'x'   \n# comment\nstatus: 'To Read'  # mine\ndateread: \ntags:\n  - a\nz: 1\n---\nbody\n"
    new = set_properties(text, {"status": "Reading", "dateread": "2025-01-02"}, TYPES)
    assert new == ("---\ntitle: 'x'   \n# comment\nstatus: 'Reading' # mine\ndateread: 2025-01-02\ntags:\n  - a\nz: 1\n"
                   "---\nbody\n")
    assert set_properties(new, {"status": "Reading", "dateread": "2025-01-02"}, TYPES) == new
    with pytest.raises(ValueError, match="cannot find"):
        set_properties('---\n{"progress": 1}\n---\n', {"progress": 2}, TYPES)


def test_append_before_closing_fence_and_idempotent() -> None:
    text = "\ufeff---\r\na: 1\r\n---\r\nbody"
    once = set_properties(text, {"progress": 43, "experiment": "003_x", "last_run": "2025-01-02T10:00:00"}, TYPES)
    assert once == "\ufeff---\r\na: 1\r\nprogress: 43\r\nexperiment: 003_x\r\nlast_run: 2025-01-02T10:00:00\r\n---\r\nbody"
    assert set_properties(once, {"progress": 43, "experiment": "003_x", "last_run": "2025-01-02T10:00:00"}, TYPES) == once


def test_lists_follow_the_notes_style() -> None:
    flow = "---\ntags: [paper, pad]\n---\n"
    assert set_properties(flow, {"tags": ["paper", "run"]}, TYPES) == "---\ntags: [paper, run]\n---\n"
    block = "---\ntags:\n- paper\nx: 1\n---\n"
    assert set_properties(block, {"tags": ["paper", "a b"], "aliases": ["[[Note]]"]}, TYPES) == (
        "---\ntags:\n- paper\n- a b\nx: 1\naliases:\n- \"[[Note]]\"\n---\n")
    assert set_properties("---\n---\n", {"aliases": ["x"]}, TYPES) == "---\naliases:\n  - x\n---\n"


def test_quoting_and_types() -> None:
    out = set_properties("---\n---\n", {"experiment": "yes", "a": "x: y", "b": "[[n]]", "c": "", "done": True,
                                        "d": 0.5, "e": "12:30"}, TYPES)
    assert out == ('---\nexperiment: "yes"\na: "x: y"\nb: "[[n]]"\nc: ""\ndone: true\nd: 0.5\ne: "12:30"\n---\n')
    with pytest.raises(PropertyTypeError):
        set_properties("---\n---\n", {"progress": "lots"}, TYPES)
    with pytest.raises(PropertyTypeError):
        set_properties("---\n---\n", {"dateread": "yesterday"}, TYPES)


def test_no_frontmatter_only_created_when_asked() -> None:
    with pytest.raises(NoFrontmatter):
        set_properties("body\n", {"a": 1})
    assert set_properties("body\n", {"a": 1}, create=True) == "---\na: 1\n---\nbody\n"


def test_block_value_spanning_lines_is_replaced_whole() -> None:
    text = "---\ntags:\n  - a\n  - b\n\nnote: >\n  folded\n  text\nafter: 1\n---\n"
    assert set_properties(text, {"tags": ["c"], "note": "plain"}, TYPES) == (
        "---\ntags:\n  - c\n\nnote: plain\nafter: 1\n---\n")


REGION_TEXT = "# T\n\n## Results\nmine\n\n\n## Next\nend"


def test_region_inserted_after_anchor_then_replaced() -> None:
    once = replace_region(REGION_TEXT, "runs", "a\nb\n", anchor="Results")
    assert once == "# T\n\n## Results\nmine\n\n%% vaultlab:begin runs %%\na\nb\n%% vaultlab:end runs %%\n\n\n## Next\nend"
    assert replace_region(once, "runs", "a\nb\n", anchor="Results") == once
    again = replace_region(once, "runs", "c")
    assert again == once.replace("a\nb\n", "c\n")


def test_region_at_end_keeps_missing_final_newline() -> None:
    once = replace_region(REGION_TEXT, "tail", "x")
    assert once == REGION_TEXT + "\n\n%% vaultlab:begin tail %%\nx\n%% vaultlab:end tail %%"
    assert replace_region(once, "tail", "x") == once


@pytest.mark.parametrize("broken", [
    "%% vaultlab:begin r %%\nx\n",
    "%% vaultlab:end r %%\n%% vaultlab:begin r %%\n",
    "%% vaultlab:begin r %%\n%% vaultlab:end r %%\n%% vaultlab:begin r %%\n%% vaultlab:end r %%\n",
])
def test_malformed_region_raises(broken: str) -> None:
    with pytest.raises(RegionError, match="malformed"):
        replace_region(broken, "r", "y")


def test_region_markers_inside_code_do_not_count() -> None:
    text = "```\n%% vaultlab:begin r %%\n```\n"
    assert replace_region(text, "r", "y").startswith(text + "\n%% vaultlab:begin r %%\ny\n")


def test_results_rows_replace_placeholder_then_owned_rows_only() -> None:
    seed = SEEDS[3].read_text(encoding="utf-8")
    row = {"Dataset": "SynthFAS", "Metric": "HTER", "Result": "[[vaultlab/results/r1|4.2 %]]", "Baseline": "a|b"}
    once = upsert_results_rows(seed, [row])
    assert "| SynthFAS | HTER | [[vaultlab/results/r1\\|4.2 %]] | a\\|b |\n" in once
    assert "|         |        |        |          |" not in once
    assert upsert_results_rows(once, [row]) == once
    # A user row added below stays; vaultlab's rows are replaced at their position.
    user = once.replace("a\\|b |\n", "a\\|b |\n| Mine | ACER | 1.0 | 2.0 |\n")
    twice = upsert_results_rows(user, [dict(row, Metric="AUC"), dict(row, Metric="EER")])
    assert "| SynthFAS | AUC |" in twice and "| SynthFAS | EER |" in twice and "| SynthFAS | HTER |" not in twice
    assert twice.index("| SynthFAS | EER |") < twice.index("| Mine | ACER | 1.0 | 2.0 |")
    assert len(seed.splitlines()) + 2 == len(twice.splitlines())


def test_results_without_table_go_into_a_region() -> None:
    text = "# Paper\n\nNo table here.\n"
    once = upsert_results_rows(text, [{"Dataset": "D", "Metric": "M", "Result": "[[vaultlab/results/x]]"}])
    assert once.startswith(text + "\n%% vaultlab:begin results %%\n| Dataset | Metric | Result | Baseline |\n")
    assert upsert_results_rows(once, [{"Dataset": "D", "Metric": "M", "Result": "[[vaultlab/results/x]]"}]) == once


def test_results_table_keeps_crlf() -> None:
    text = "## Results\r\n| Dataset | Metric | Result | Baseline |\r\n|---|---|---|---|\r\n| u | v | w | x |\r\n"
    out = upsert_results_rows(text, [{"Dataset": "d", "Result": "[[vaultlab/results/r]]"}])
    assert out == text + "| d |  | [[vaultlab/results/r]] |  |\r\n"
