"""Tests of vaultlab.vault (no torch needed)."""
