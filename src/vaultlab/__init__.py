"""vaultlab: Obsidian paper notes on face anti-spoofing → runnable, honest PyTorch experiments → back into the vault."""

__version__ = "0.1.0"
