"""What every command group shares: the consoles, the one-line error, finding the vault."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

out = Console(emoji=False)  # ":mask:" in a protocol name is text, not an emoji
err = Console(stderr=True, emoji=False)

VaultOption = Annotated[Optional[Path], typer.Option("--vault", help="Vault folder (default: $VAULTLAB_VAULT, else the nearest folder holding .obsidian/).")]


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``error: message`` on stderr; raise the returned Exit with ``code`` (1 problem, 2 usage)."""
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def find_vault(explicit: Path | None, *, cwd_fallback: bool = False) -> Path:
    """--vault, else $VAULTLAB_VAULT, else the nearest folder holding .obsidian/ (else the current
    folder when ``cwd_fallback``: `data prepare --out` needs no vault)."""
    if explicit is None and os.environ.get("VAULTLAB_VAULT"):
        explicit = Path(os.environ["VAULTLAB_VAULT"])
    if explicit is not None:
        if not explicit.is_dir():
            raise fail(f"{explicit}: no such vault folder", 2)
        return explicit.resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / ".obsidian").is_dir():
            return folder
    if cwd_fallback:
        return here
    raise fail("no vault given and no folder holding .obsidian/ above the current directory; pass --vault PATH or set VAULTLAB_VAULT", 2)


def open_vault(root: Path):
    """``workspace.open_workspace``, with a broken ``.vaultlab/config.yaml`` as a one-line usage error."""
    from vaultlab.vault.config import ConfigError
    from vaultlab.workspace import open_workspace

    try:
        return open_workspace(root)
    except ConfigError as exc:
        raise fail(str(exc), 2) from None
