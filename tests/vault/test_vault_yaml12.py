"""YAML 1.2 core semantics, refused tags, duplicates; the fast path agrees with libyaml."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vaultlab.vault import yaml12
from vaultlab.vault.yaml12 import YamlError, load_mapping


def slow_load(text: str):
    loader = yaml12.Core12Loader(text)
    try:
        node = loader.get_single_node()
    finally:
        loader.dispose()
    return {} if node is None else yaml12._construct(node, {})


@pytest.mark.parametrize("text", ["a: yes\n", "a: on\n", "a: 12:30\n", "a: 2025-11-26\n", "a: no\n", "a: y\n"])
def test_yaml11_surprises_stay_strings(text: str) -> None:
    value = load_mapping(text)[0]["a"]
    assert isinstance(value, str) and value == text[3:-1]


def test_core_scalars() -> None:
    data, _ = load_mapping("a: 0755\nb: 0o10\nc: 0x1F\nd: 1.5e3\ne: ~\nf: true\ng: FALSE\nh: .inf\ni: null\nj:\n")
    assert data == {"a": 755, "b": 8, "c": 31, "d": 1500.0, "e": None, "f": True, "g": False,
                    "h": math.inf, "i": None, "j": None}


@pytest.mark.parametrize("text", ["a: !!python/object:os.system x\n", "a: !!binary eA==\n", "a: [!foo x]\n",
                                  "a: !!timestamp 2020-01-01\n"])
def test_foreign_tags_are_refused(text: str) -> None:
    with pytest.raises(YamlError, match="not allowed"):
        load_mapping(text)


def test_duplicate_keys_are_errors_with_line() -> None:
    with pytest.raises(YamlError) as info:
        load_mapping("a: 1\nb: 2\na: 3\n")
    assert info.value.line == 2 and "duplicate" in info.value.message


def test_invalid_yaml_reports_line_and_hint() -> None:
    with pytest.raises(YamlError) as info:
        load_mapping("a: 1\ntitle: A: B\n")
    assert info.value.line == 1 and "quote" in info.value.hint


def test_billion_laughs_stays_linear() -> None:
    text = "a: &a [x, x]\n" + "".join(f"{c}: &{c} [*{p}, *{p}]\n" for p, c in zip("abcdefgh", "bcdefghi"))
    data, _ = load_mapping(text)
    assert data["i"][0] is data["h"]


def test_key_lines_cover_block_list_items() -> None:
    _, lines = load_mapping("tags:\n  - a\n  - b\nx: 1\n")
    assert lines["tags"] == (0, 1, (1, 2)) and lines["x"][0] == 3


# --- the fast path must agree with libyaml wherever it answers -------------------------------
plain = st.text(alphabet="abcXYZ019 -:#.,'\"[]{}/_!&*?|>%@`~", min_size=0, max_size=12)
keys = st.text(alphabet="abcxyz_-. 1", min_size=1, max_size=8)


@st.composite
def simple_blocks(draw) -> str:
    lines = []
    for key in draw(st.lists(keys, min_size=0, max_size=6, unique=True)):
        shape = draw(st.sampled_from(["plain", "dq", "sq", "flow", "block", "empty"]))
        if shape == "plain":
            lines.append(f"{key}: {draw(plain)}")
        elif shape == "dq":
            lines.append(f'{key}: "{draw(plain)}"')
        elif shape == "sq":
            lines.append(f"{key}: '{draw(plain)}'")
        elif shape == "flow":
            lines.append(f"{key}: [{', '.join(draw(st.lists(plain, max_size=3)))}]")
        elif shape == "block":
            indent = draw(st.sampled_from(["", "  ", "    "]))
            lines.append(f"{key}:")
            lines.extend(f"{indent}- {item}" for item in draw(st.lists(plain, min_size=1, max_size=3)))
        else:
            lines.append(f"{key}:" + draw(st.sampled_from(["", " ", "  "])))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    return newline.join(lines) + draw(st.sampled_from(["", newline]))


@settings(max_examples=400, deadline=None)
@given(simple_blocks())
def test_fast_path_equals_libyaml(text: str) -> None:
    fast = yaml12.fast_load(text)
    try:
        expected = slow_load(text)
    except Exception:  # noqa: BLE001 - libyaml refuses it: the fast path must have declined too
        assert fast is None
        return
    if fast is not None:
        assert fast[0] == expected
