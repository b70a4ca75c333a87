"""Notes in and out: read an Obsidian vault, edit notes by splicing, write atomically. Never imports torch.

Entry points (each module holds one idea):

- ``config.VaultConfig.load(root)``: Obsidian settings + ``.vaultlab/config.yaml``; links, attachments.
- ``scan.scan_vault(root, config)``: which ``.md`` files are notes.
- ``structure``: the one scan of what Markdown hides (code, ``%%`` comments) and of callouts,
  shared by the reader (``blocks``) and the editors (``regions``, ``tables``).
- ``note.read_note`` / ``note.parse_note_bytes``: a ``model.Note`` with diagnostics.
- ``sync.load_notes(root, config)``: every note, through the parse cache; ``sync.plan_sync`` /
  ``sync.plan_note_updates``: vaultlab's property updates as new bytes.
- ``edit.set_properties`` / ``edit.replace_region`` / ``edit.upsert_results_rows``: splice-only edits.
- ``write.ChangeSet`` / ``write.write_atomic`` / ``write.safe_path``: safe writes (a change set
  commits in two phases: all temp files, one flush, then the renames).
- ``cache``: the parse cache; ``memo``: the outcome of the last sync that left nothing to change,
  keyed by a fingerprint of everything a sync reads (a warm sync prints it and stops).

Import order, no cycles: yaml12, frontmatter, lines, text → structure → blocks → model → scan →
config → note, edit, regions, tables, cache, memo, sync.
"""
