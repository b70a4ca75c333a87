"""Which frames of a video become samples: the three conventions of the FAS literature.

- ``6+mid``      frames 6 and 6 + N//2 (SSDG / ViTAF / FLIP's ``frame0``/``frame1``).
- ``every:k``    every k-th frame from 0 (SA-FAS and IADG use every:5); ``every:k:max`` stops at max.
- ``uniform:k``  k frames evenly spaced over the video (CDCN / SSAN use 8).

Indices past the end are clamped to the last frame; duplicates collapse (a short video gives fewer).
Only ``6+mid`` can ask past the end (a video of fewer than 13 frames); ``asks_past_end`` says when, so
the prepare names such videos instead of clamping silently.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FrameConvention:
    kind: str  # "6+mid" | "every" | "uniform"
    k: int = 0
    limit: int = 0  # every:k:limit — stop before this frame index (0 = no limit)

    @property
    def text(self) -> str:
        if self.kind == "6+mid":
            return "6+mid"
        return f"{self.kind}:{self.k}" + (f":{self.limit}" if self.limit else "")


def parse_frame_convention(text: str) -> FrameConvention:
    """'6+mid', 'every:5', 'every:5:1000', 'uniform:8' → a convention; anything else is refused."""
    cleaned = text.strip().lower()
    if cleaned in ("6+mid", "flip", "ssdg"):
        return FrameConvention("6+mid")
    kind, _, rest = cleaned.partition(":")
    numbers = rest.split(":") if rest else []
    if kind in ("every", "uniform") and 1 <= len(numbers) <= (2 if kind == "every" else 1) and all(n.isdigit() for n in numbers):
        k = int(numbers[0])
        if k >= 1:
            return FrameConvention(kind, k, int(numbers[1]) if len(numbers) > 1 else 0)
    raise ValueError(f"frame convention {text!r} is not one of '6+mid', 'every:k', 'every:k:max', 'uniform:k' (k ≥ 1)")


def requested_frame_indices(convention: FrameConvention, n_frames: int) -> list[int]:
    """The indices the convention asks for in a video of ``n_frames`` frames, before clamping."""
    if n_frames <= 0:
        return []
    if convention.kind == "6+mid":
        return [6, 6 + n_frames // 2]
    if convention.kind == "every":
        end = min(n_frames, convention.limit) if convention.limit else n_frames
        return list(range(0, max(end, 1), convention.k))
    return np.linspace(0, n_frames - 1, convention.k).round().astype(int).tolist()


def asks_past_end(convention: FrameConvention, n_frames: int) -> bool:
    return any(i >= n_frames for i in requested_frame_indices(convention, n_frames))


def sampled_frame_indices(convention: FrameConvention, n_frames: int) -> list[int]:
    """The convention's indices clamped to the last frame, without duplicates."""
    last = n_frames - 1
    return sorted({min(i, last) for i in requested_frame_indices(convention, n_frames)})
