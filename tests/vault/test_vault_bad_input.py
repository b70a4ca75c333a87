"""A vault of broken notes: one clear ``path:line`` diagnostic each, and every file byte-identical after sync."""

from __future__ import annotations

from pathlib import Path

import pytest

from vaultlab.vault.config import VaultConfig
from vaultlab.vault.sync import load_notes, plan_sync

GOOD_BODY = "## Quick Summary\n**Method:** Baseline\n\n**Reading Progress:**\n- [x] Abstract\n- [ ] Methods\n"
BAD_NOTES: dict[str, tuple[bytes, int, str, str]] = {
    # name: (bytes, expected line, severity, words in the message)
    "invalid_yaml.md": (b"---\ntags: [paper]\ntitle: A: B\n---\n" + GOOD_BODY.encode(), 3, "error", "invalid frontmatter"),
    "no_frontmatter.md": (GOOD_BODY.encode(), 1, "warning", "no frontmatter"),
    "bom.md": (b"\xef\xbb\xbf---\ntags: [paper]\n---\n" + GOOD_BODY.encode(), 1, "info", "byte-order mark"),
    "crlf.md": (("---\r\ntags: [paper]\r\n---\r\n" + GOOD_BODY.replace("\n", "\r\n")).encode(), 1, "info", "CRLF"),
    "latin1.md": (b"---\ntags: [paper]\n---\n## Quick Summary\n**Method:** caf\xe9\n", 5, "error", "UTF-8"),
    "python_tag.md": (b"---\ntags: [paper]\nx: !!python/object/apply:os.system [echo hi]\n---\n" + GOOD_BODY.encode(),
                      3, "error", "not allowed"),
    "escape_link.md": (b"---\ntags: [paper]\n---\n" + GOOD_BODY.encode() + b"see [[../../etc/passwd]]\n",
                       10, "warning", "outside the vault"),
    "escape_mdlink.md": (b"---\ntags: [paper]\n---\n" + GOOD_BODY.encode() + b"\n[a](../../etc/passwd)\n",
                         11, "warning", "outside the vault"),
    "duplicate_key.md": (b"---\ntags: [paper]\nyear: 1\nyear: 2\n---\n" + GOOD_BODY.encode(), 4, "error", "duplicate"),
    "unclosed.md": (b"---\ntags: [paper]\n" + GOOD_BODY.encode(), 1, "error", "never closed"),
}


@pytest.fixture
def bad_vault(tmp_path: Path) -> Path:
    root = tmp_path / "bad"
    root.mkdir()
    for name, (raw, *_rest) in BAD_NOTES.items():
        (root / name).write_bytes(raw)
    return root


def test_each_bad_note_gets_one_clear_diagnostic(bad_vault: Path) -> None:
    notes, diagnostics = load_notes(bad_vault, VaultConfig.load(bad_vault), cache=False)
    assert len(notes) == len(BAD_NOTES)
    for name, (_raw, line, severity, words) in BAD_NOTES.items():
        mine = [d for d in diagnostics if d.path == name]
        assert len(mine) == 1, (name, [str(d) for d in mine])
        (diag,) = mine
        assert (diag.line, diag.severity) == (line, severity), str(diag)
        assert words.lower() in diag.message.lower(), str(diag)
        assert str(diag).startswith(f"{name}:{line}: ")


def test_sync_leaves_broken_notes_byte_identical(bad_vault: Path) -> None:
    config = VaultConfig.load(bad_vault)
    notes, _ = load_notes(bad_vault, config)
    changes, _ = plan_sync(bad_vault, notes, config, {n.relpath: "exp" for n in notes})
    changes.apply()
    errors = {name for name, (_r, _l, severity, _w) in BAD_NOTES.items() if severity == "error"}
    assert not errors & set(changes.changed)
    assert "no_frontmatter.md" not in changes.changed  # no properties block is created unasked
    for name, (raw, *_rest) in BAD_NOTES.items():
        if name not in changes.changed:
            assert (bad_vault / name).read_bytes() == raw, name
    # Usable notes changed only by appended owned keys; BOM and CRLF are kept.
    bom = (bad_vault / "bom.md").read_bytes()
    assert bom.startswith(b"\xef\xbb\xbf---\ntags: [paper]\nprogress: 50\nexperiment: exp\n---\n")
    crlf = (bad_vault / "crlf.md").read_bytes()
    assert b"progress: 50\r\nexperiment: exp\r\n---\r\n" in crlf and b"\n" not in crlf.replace(b"\r\n", b"")
