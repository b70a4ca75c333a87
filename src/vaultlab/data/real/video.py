"""Reading frames: PyAV for videos (display rotation applied), OpenCV for still images.

A video is first *indexed* without decoding: its packets give the presentation timestamp of every
frame and which frames are keyframes. ``read_frames`` then seeks to the keyframe before each wanted
frame whenever that skips decoding (6+mid on a 1080p video decodes a dozen frames instead of
ninety), and names every decoded frame by its timestamp, so a seek and a decode from the start
give the same frames. Containers whose packets carry no usable timestamps are decoded from the
start. Every failure to open becomes ``UnreadableMediaError`` naming the file; a stream that stops
decoding part-way ends the read (the caller compares what came back with what was asked).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class UnreadableMediaError(RuntimeError):
    """A video or image that cannot be decoded (message names the path)."""


@dataclass(frozen=True)
class VideoIndex:
    declared: int  # frames the container states (0 when it states none)
    pts: tuple[int, ...]  # presentation timestamp of each frame the demuxer finds, in display order
    keyframes: tuple[int, ...]  # display indices of the keyframes (seek targets)
    seekable: bool  # every packet has a distinct timestamp, so frames can be named after a seek

    @property
    def packets(self) -> int:
        return len(self.pts)


def rotate_upright(frame: np.ndarray, degrees_counterclockwise: int) -> np.ndarray:
    """Turn a decoded frame by the display matrix's counter-clockwise angle (multiples of 90°)."""
    quarter_turns = round(degrees_counterclockwise / 90) % 4
    return np.ascontiguousarray(np.rot90(frame, quarter_turns)) if quarter_turns else frame


def index_video(path: Path) -> VideoIndex:
    """The container's stated frame count and its packets' timestamps and keyframes (no decoding)."""
    import av

    packets: list[tuple[int | None, bool]] = []
    try:
        with av.open(str(path)) as container:
            stream = _video_stream(container, path)
            declared = max(int(stream.frames or 0), 0)
            try:
                for packet in container.demux(stream):
                    if packet.size:
                        packets.append((packet.pts, bool(packet.is_keyframe)))
            except av.FFmpegError:
                pass  # cut short (a truncated file): the packets so far are what exists
    except (av.FFmpegError, OSError, UnicodeDecodeError) as err:
        raise UnreadableMediaError(f"{path}: cannot read the video ({err}); check the file or rerun with --skip-bad") from None
    stamps = [pts for pts, _ in packets]
    seekable = bool(packets) and None not in stamps and len(set(stamps)) == len(stamps)
    if not seekable:
        return VideoIndex(declared, tuple(range(len(packets))), (0,), False)
    order = sorted(range(len(packets)), key=lambda i: stamps[i])
    keyframes = tuple(rank for rank, i in enumerate(order) if packets[i][1]) or (0,)
    return VideoIndex(declared, tuple(stamps[i] for i in order), keyframes, True)


def iter_frames(path: Path, indices: Iterable[int], index: VideoIndex | None = None,
                extra_rotation: int = 0) -> Iterator[tuple[int, np.ndarray]]:
    """(display index, upright RGB uint8 frame) for each wanted index that decodes, in ascending order.

    ``extra_rotation`` (counter-clockwise degrees) applies only when the file has no display matrix.
    """
    wanted = sorted(set(indices))
    if not wanted:
        return
    index = index or index_video(path)
    done: set[int] = set()
    if index.seekable:
        try:
            for i, rgb in _read_seeking(path, wanted, index, extra_rotation):
                done.add(i)
                yield i, rgb
            return
        except _SeekUnusable:
            pass
    for i, rgb in _read_from_start(path, wanted, extra_rotation):
        if i not in done:
            yield i, rgb


def decodable_frames(path: Path, index: VideoIndex | None = None) -> list[int]:
    """The display indices of the frames that really decode (a full decode; used for damaged files only)."""
    import av

    index = index or index_video(path)
    position = {pts: i for i, pts in enumerate(index.pts)} if index.seekable else None
    found = []
    for count, frame in enumerate(_decoded(path, None, av)):
        if position is None:
            found.append(count)
        elif frame.pts in position:
            found.append(position[frame.pts])
    return sorted(set(found))


class _SeekUnusable(Exception):
    """The container refuses the seek, or the decoder drops timestamps: read from the start instead."""


def _read_seeking(path: Path, wanted: list[int], index: VideoIndex, extra_rotation: int) -> Iterator[tuple[int, np.ndarray]]:
    import av

    position_of = {pts: i for i, pts in enumerate(index.pts)}
    wanted = [i for i in wanted if i < index.packets]
    wanted_set = set(wanted)
    try:
        with av.open(str(path)) as container:
            stream = _video_stream(container, path)
            stream.thread_count = 1  # parallelism comes from worker processes
            frames: Iterator | None = None
            position = -1  # display index of the last frame decoded
            floor = 0  # after a seek, frames before the keyframe may be broken (open GOP): ignore them
            for target in wanted:
                if target <= position:
                    continue  # passed already: it did not decode
                key = index.keyframes[bisect_right(index.keyframes, target) - 1]
                if frames is None or key > position + 1:
                    if key > 0 or frames is not None:
                        try:
                            container.seek(index.pts[key], stream=stream, backward=True, any_frame=False)
                        except av.FFmpegError:
                            raise _SeekUnusable from None
                    frames, floor = container.decode(stream), key
                for frame in frames:
                    if frame.pts not in position_of:
                        raise _SeekUnusable
                    i = position_of[frame.pts]
                    if i < floor:
                        continue
                    position = i
                    if i in wanted_set:
                        yield i, _to_rgb(frame, extra_rotation)
                        wanted_set.discard(i)
                    if i >= target:
                        break
                else:
                    return  # the stream ended before the target: the caller sees what is missing
    except av.FFmpegError:
        return  # damaged part-way: what decoded has been yielded
    except (OSError, UnicodeDecodeError) as err:
        raise UnreadableMediaError(f"{path}: cannot decode the video ({err}); check the file or rerun with --skip-bad") from None


def _read_from_start(path: Path, wanted: list[int], extra_rotation: int) -> Iterator[tuple[int, np.ndarray]]:
    import av

    wanted_set, last = set(wanted), max(wanted)
    for count, frame in enumerate(_decoded(path, last, av)):
        if count in wanted_set:
            yield count, _to_rgb(frame, extra_rotation)


def _decoded(path: Path, last: int | None, av) -> Iterator:
    """Frames from the start until ``last`` (or the end); a decoding error part-way ends the stream."""
    try:
        with av.open(str(path)) as container:
            stream = _video_stream(container, path)
            stream.thread_count = 1
            for count, frame in enumerate(container.decode(stream)):
                yield frame
                if last is not None and count >= last:
                    return
    except av.FFmpegError:
        return
    except (OSError, UnicodeDecodeError) as err:
        raise UnreadableMediaError(f"{path}: cannot decode the video ({err}); check the file or rerun with --skip-bad") from None


def _to_rgb(frame, extra_rotation: int) -> np.ndarray:
    rotation = int(getattr(frame, "rotation", 0) or 0)
    return rotate_upright(frame.to_ndarray(format="rgb24"), rotation or extra_rotation)


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
