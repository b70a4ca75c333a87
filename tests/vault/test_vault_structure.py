"""One scan of a note's structure: what the reader and the editors treat as hidden."""

from __future__ import annotations

from pathlib import Path

from vaultlab.vault.edit import replace_region, upsert_results_rows
from vaultlab.vault.note import parse_note_bytes
from vaultlab.vault.structure import note_lines

NOTE = """\
---
title: "a %% b ``` c"
---
# Paper
```python
x = 1
```
%%
| Dataset | Metric | Result | Baseline |
|---|---|---|---|
- [x] Abstract
%%
> [!note] A callout
> | Dataset | Metric | Result | Baseline |
> |---|---|---|---|
after
"""

ROW = {"Dataset": "SynthFAS intra", "Metric": "HTER", "Result": "[[vaultlab/results/r|1.0]]", "Baseline": "—"}


def test_note_lines_marks_code_comments_and_callouts_and_skips_the_frontmatter():
    lines = note_lines(NOTE)
    assert lines.code == {4, 5, 6}  # the `%%` and ``` inside the frontmatter value open nothing
    assert lines.hidden == {4, 5, 6, 7, 8, 9, 10, 11}
    assert lines.callout == {12, 13, 14}
    assert [i for i in range(16) if lines.readable(i)] == [0, 1, 2, 3, 15]


def test_a_results_table_inside_a_comment_or_callout_is_neither_read_nor_written():
    once = upsert_results_rows(NOTE, [ROW])
    assert once.startswith(NOTE)  # both tables untouched; the rows go into vaultlab's own region
    assert "%% vaultlab:begin results %%" in once and "| SynthFAS intra |" in once.split("%% vaultlab:begin results %%")[1]
    assert upsert_results_rows(once, [ROW]) == once


def test_the_reader_ignores_tasks_inside_a_comment():
    text = "---\ntags: [paper]\n---\n**Reading Progress:**\n- [ ] Intro\n%%\n- [x] Hidden\n%%\n- [x] Outro\n"
    note = parse_note_bytes(text.encode(), Path("/v/n.md"), "n.md")
    assert [t.text for t in note.progress_tasks] == ["Intro", "Outro"] and note.progress == 50


def test_region_markers_in_a_fence_do_not_count_but_a_fence_left_open_does_not_hide_them():
    example = "# Doc\n```\n%% vaultlab:begin x %%\n%% vaultlab:end x %%\n```\n"
    once = replace_region(example, "x", "body\n")
    assert once.startswith(example) and once.count("vaultlab:begin x") == 2
    assert replace_region(once, "x", "body\n") == once
    unclosed = "# Doc\n```\nno end\n"
    appended = replace_region(unclosed, "x", "body\n")
    assert replace_region(appended, "x", "body\n") == appended
