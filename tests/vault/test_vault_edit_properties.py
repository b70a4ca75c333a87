"""Property-based: on any note shape, edits touch only vaultlab's keys and regions, and are idempotent."""

from __future__ import annotations

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from vaultlab.vault.edit import NoFrontmatter, replace_region, set_properties, upsert_results_rows
from vaultlab.vault.frontmatter import find_frontmatter
from vaultlab.vault.lines import split_lines
from vaultlab.vault.yaml12 import YamlError, load_mapping

OWNED = ("progress", "experiment", "last_run")
TYPES = {"progress": "number", "experiment": "text", "last_run": "datetime", "tags": "tags"}
words = st.text(alphabet="abcdefXYZ 0123456789_.-/é📚", min_size=1, max_size=10).map(str.strip).filter(bool)
keys = st.sampled_from(["title", "tags", "aliases", "year", "status", "author name", "empty", "url", "rating", "x"])


@st.composite
def property_lines(draw) -> list[str]:
    lines = []
    for key in draw(st.lists(keys, max_size=7, unique=True)):
        style = draw(st.sampled_from(["plain", "dq", "sq", "flow", "block", "block0", "empty", "comment"]))
        trail = draw(st.sampled_from(["", "", "  "]))
        if style == "plain":
            value = draw(words)
            assume(not value[0] in "-.0123456789" and ": " not in value)
            lines.append(f"{key}: {value}{trail}")
        elif style == "dq":
            lines.append(f'{key}: "{draw(words)}"{trail}')
        elif style == "sq":
            lines.append(f"{key}: '{draw(words)}'{trail}")
        elif style == "flow":
            items = draw(st.lists(st.sampled_from(["a", "paper", "b c", "'q'"]), max_size=3))
            lines.append(f"{key}: [{', '.join(items)}]{trail}")
        elif style in ("block", "block0"):
            indent = "  " if style == "block" else ""
            lines.append(f"{key}:{trail}")
            lines.extend(f"{indent}- {draw(st.sampled_from(['a', 'paper', 'x y']))}" for _ in range(draw(st.integers(1, 3))))
        elif style == "empty":
            lines.append(f"{key}:{trail}")
        else:
            lines.append(f"# a comment about {key}{trail}")
    if draw(st.booleans()):
        lines.insert(draw(st.integers(0, len(lines))), f"progress: {draw(st.integers(0, 100))}")
    return lines


BODY_LINES = ["---", "%% - [x] hidden %%", "%%", "- [ ] task", "- [x] done", "```", "~~~", "# Heading",
              "## Results", "**Reading Progress:**", "text  ", "| a | b |", "", "", "plain text", "> [!note] callout",
              "| Dataset | Metric | Result | Baseline |", "|---|---|---|---|", "|  |  |  |  |", "$$", "key:: value",
              "%% vaultlab:begin other %%", "%% vaultlab:end other %%", "- [ ] ", "trailing tab\t"]


@st.composite
def notes(draw) -> str:
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    lines = []
    if draw(st.integers(0, 9)) > 0:
        lines += ["---", *draw(property_lines()), "---"]
    lines += draw(st.lists(st.sampled_from(BODY_LINES), max_size=14))
    text = newline.join(lines)
    if lines and draw(st.booleans()):
        text += newline
    return ("\ufeff" if draw(st.booleans()) else "") + text


def without_owned(text: str) -> list[str]:
    """The note's lines minus vaultlab's property lines (frontmatter only)."""
    lines = split_lines(text)
    in_frontmatter = bool(lines) and lines[0].lstrip("\ufeff").rstrip("\r\n") == "---"
    kept = []
    in_owned = False
    for index, line in enumerate(lines):
        if in_frontmatter and index > 0 and line.rstrip("\r\n") == "---":
            in_frontmatter = in_owned = False
        elif in_frontmatter and index > 0 and line.split(":", 1)[0] in OWNED:
            in_owned = True
            continue
        elif in_owned and (line[:1] in (" ", "\t") or line.startswith("- ")):
            continue  # the owned key's value continues (block list, folded text)
        else:
            in_owned = False
        kept.append(line)
    return kept


def without_region(text: str, name: str) -> list[str]:
    lines = split_lines(text)
    begin = next(i for i, line in enumerate(lines) if line.startswith(f"%% vaultlab:begin {name} %%"))
    end = next(i for i, line in enumerate(lines) if line.startswith(f"%% vaultlab:end {name} %%"))
    return lines[:begin] + lines[end + 1 :]


def same_apart_from_appended_separator(before: list[str], after: list[str]) -> bool:
    """``after`` may end with one added blank line, and its last old line may have gained a newline."""
    if after and after[-1].strip("\r\n") == "" and len(after) == len(before) + 1:
        after = after[:-1]
    if before and after and len(before) == len(after) and not before[-1].endswith("\n"):
        after = after[:-1] + [after[-1].rstrip("\r\n")]
    return before == after


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(notes(), st.integers(0, 100), st.sampled_from(["003_x", "a: b", "yes", "[[n]]"]))
def test_property_edits_touch_only_owned_lines(text: str, progress: int, experiment: str) -> None:
    updates = {"progress": progress, "experiment": experiment, "last_run": "2025-01-02T03:04:05"}
    try:
        once = set_properties(text, updates, TYPES)
    except NoFrontmatter:
        assert find_frontmatter(text.lstrip("\ufeff")) is None
        return
    except YamlError:
        return  # vaultlab refuses to edit a block it cannot read; nothing is written
    assert set_properties(once, updates, TYPES) == once
    assert without_owned(once) == without_owned(text)
    assert once.startswith("\ufeff") == text.startswith("\ufeff")
    assert once.endswith(("\n", "\r")) == text.endswith(("\n", "\r")) or not text.strip()
    before, _ = load_mapping(_yaml_of(text))
    after, _ = load_mapping(_yaml_of(once))
    assert {k: v for k, v in after.items() if k not in OWNED} == {k: v for k, v in before.items() if k not in OWNED}
    assert after["progress"] == progress and after["experiment"] == experiment


def _yaml_of(text: str) -> str:
    lines = split_lines(text.lstrip("\ufeff"))
    end = next(i for i, line in enumerate(lines) if i > 0 and line.rstrip("\r\n") == "---")
    return "".join(lines[1:end])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(notes(), st.text(alphabet="ab |\n[]", max_size=20), st.sampled_from([None, "Results", "Heading"]))
def test_region_edits_touch_only_the_region(text: str, body: str, anchor: str | None) -> None:
    assume("vaultlab:begin runs" not in text)
    once = replace_region(text, "runs", body, anchor=anchor)
    assert replace_region(once, "runs", body, anchor=anchor) == once
    rest = without_region(once, "runs")
    before = split_lines(text)
    if anchor is None or rest[: len(before)] != before:
        # At the end of the note: the old lines, then at most one separating blank line.
        if before == rest or same_apart_from_appended_separator(before, rest):
            return
        # After a heading's section: one blank line before the region, maybe one after.
        assert [line for line in rest if line.strip()] == [line for line in before if line.strip()]
    assert once.startswith("\ufeff") == text.startswith("\ufeff")


@settings(max_examples=200, deadline=None)
@given(notes(), st.lists(st.sampled_from(["A", "B|C", ""]), min_size=0, max_size=3))
def test_results_rows_are_idempotent_and_keep_user_rows(text: str, datasets: list[str]) -> None:
    rows = [{"Dataset": d, "Metric": "HTER", "Result": f"[[vaultlab/results/r{i}]]"} for i, d in enumerate(datasets)]
    once = upsert_results_rows(text, rows)
    assert upsert_results_rows(once, rows) == once
    user_rows = [line for line in split_lines(text) if line.startswith("|") and "[[vaultlab/results/" not in line
                 and line.strip("|\r\n ").replace("|", "").strip()]
    for line in user_rows:
        assert line.rstrip("\r\n") in once
