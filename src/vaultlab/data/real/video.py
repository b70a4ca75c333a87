"""Reading frames: PyAV for videos (display rotation applied), OpenCV for still images.

Every failure to read becomes ``UnreadableMediaError`` naming the file.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np


class UnreadableMediaError(RuntimeError):
    """A video or image that cannot be decoded (message names the path)."""


def rotate_upright(frame: np.ndarray, degrees_counterclockwise: int) -> np.ndarray:
    """Turn a decoded frame by the display matrix's counter-clockwise angle (multiples of 90°)."""
    quarter_turns = round(degrees_counterclockwise / 90) % 4
    return np.ascontiguousarray(np.rot90(frame, quarter_turns)) if quarter_turns else frame


def count_frames(path: Path) -> int:
    """Frames in the video: the container's count, else counted from the packets (no decoding)."""
    import av

    try:
        with av.open(str(path)) as container:
            stream = _video_stream(container, path)
            if stream.frames > 0:
                return int(stream.frames)
            return sum(1 for packet in container.demux(stream) if packet.size)
    except (av.FFmpegError, OSError, UnicodeDecodeError) as err:
        raise UnreadableMediaError(f"{path}: cannot read the video ({err}); check the file or rerun with --skip-bad") from None


def iter_frames(path: Path, indices: Iterable[int], extra_rotation: int = 0) -> Iterator[tuple[int, np.ndarray]]:
    """(index, upright RGB uint8 frame) for each wanted index in order; decoding stops after the last.

    ``extra_rotation`` (counter-clockwise degrees) applies only when the file has no display matrix.
    """
    import av

    wanted = set(indices)
    if not wanted:
        return
    last = max(wanted)
    try:
        with av.open(str(path)) as container:
            stream = _video_stream(container, path)
            stream.thread_type = "AUTO"
            for index, frame in enumerate(container.decode(stream)):
                if index in wanted:
                    rotation = int(getattr(frame, "rotation", 0) or 0)
                    yield index, rotate_upright(frame.to_ndarray(format="rgb24"), rotation or extra_rotation)
                if index >= last:
                    break
    except (av.FFmpegError, OSError, UnicodeDecodeError) as err:
        raise UnreadableMediaError(f"{path}: cannot decode the video ({err}); check the file or rerun with --skip-bad") from None


def read_image(path: Path) -> np.ndarray:
    import cv2

    data = np.fromfile(str(path), dtype=np.uint8) if path.is_file() else None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data is not None and data.size else None
    if image is None:
        raise UnreadableMediaError(f"{path}: cannot read the image (missing or not an image); check the file or rerun with --skip-bad")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _video_stream(container, path: Path):
    if not container.streams.video:
        raise UnreadableMediaError(f"{path}: the file has no video stream; check the file or rerun with --skip-bad")
    return container.streams.video[0]
