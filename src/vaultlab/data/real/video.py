"""Reading frames: PyAV for videos (display rotation applied), OpenCV for still images.

A video is first *indexed* without decoding: its packets give the presentation timestamp of every
frame and which frames are keyframes (an AVI's own complete index gives the same without reading them,
and the file stays open for the first read). ``read_frames`` then seeks to the keyframe before each wanted
frame whenever that skips decoding (6+mid on a 1080p video decodes a dozen frames instead of
ninety), and names every decoded frame by its timestamp, so a seek and a decode from the start
give the same frames. Containers whose packets carry no usable timestamps are decoded from the
start. A decoded frame comes out as a ``Picture`` that converts lazily: the luma plane (free for
planar YUV) for face detection, and RGB only for the cropped square, after it is shrunk in YUV; a
full 1080p frame is never turned into RGB on that path (it was a tenth of the CPU time per crop). Every failure to open becomes ``UnreadableMediaError`` naming the file; a stream that stops
decoding part-way ends the read (the caller compares what came back with what was asked).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
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
    # the container the index came from when nothing was read from it yet (an AVI's own index): the
    # first seeking read takes it instead of opening the file again (0.8 ms of CPU per 1080p video)
    unread: list = field(default_factory=list, compare=False, repr=False)

    @property
    def packets(self) -> int:
        return len(self.pts)


# 8-bit pixel formats whose first plane is the luma, one byte per pixel, at full resolution
_LUMA_FIRST = frozenset({"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "yuv440p", "yuvj440p", "nv12", "nv21", "gray"})


class Picture:
    """One decoded video frame, upright, converted only as far as asked: ``gray()`` (the luma) for
    detection, ``rgb_square`` for a crop, ``rgb()`` for everything. ``shape`` is the upright (h, w, 3)."""

    def __init__(self, frame, rotation_degrees: int) -> None:
        self._frame = frame  # holds the decoder's buffers the plane views point into
        self._turns = round(rotation_degrees / 90) % 4
        raw_h, raw_w = frame.height, frame.width
        self.shape = (raw_w, raw_h, 3) if self._turns % 2 else (raw_h, raw_w, 3)
        self._rgb: np.ndarray | None = None

    def _plane(self, index: int, height: int, width: int) -> np.ndarray:
        plane = self._frame.planes[index]
        return np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:height, :width]

    def gray(self) -> np.ndarray:
        """The upright luma (uint8, h×w): the Y plane as it is, no conversion."""
        frame = self._frame
        if frame.format.name in _LUMA_FIRST:
            luma = self._plane(0, frame.height, frame.width)
        else:
            luma = frame.to_ndarray(format="gray")
        return np.ascontiguousarray(np.rot90(luma, self._turns)) if self._turns else luma

    def rgb(self) -> np.ndarray:
        """The whole upright frame in RGB (converted once)."""
        if self._rgb is None:
            self._rgb = rotate_upright(self._frame.to_ndarray(format="rgb24"), 90 * self._turns)
        return self._rgb

    def rgb_square(self, x: int, y: int, side: int, k: int) -> np.ndarray:
        """RGB of the upright frame's square [y:y+side, x:x+side] (black where it leaves the frame),
        box-averaged by ``k``: (side//k, side//k, 3); ``side`` a multiple of 2k.

        For 4:2:0 video the square is cut and box-averaged in YUV (luma at full, chroma at half
        resolution; padding is YUV black) and only the shrunk square becomes RGB (OpenCV's BT.601
        limited-range I420, libswscale's default for such frames), its origin rounded down to even
        luma pixels so the chroma lines up. Other pixel formats convert the whole frame once."""
        frame = self._frame
        raw_h, raw_w = frame.height, frame.width
        if frame.format.name != "yuv420p" or raw_h % 2 or raw_w % 2 or self._rgb is not None or side % (2 * k):
            return rgb_square_of(self.rgb(), x, y, side, k)
        import cv2

        # the raw frame's square that turns into this one (np.rot90 by quarter turns, counter-clockwise)
        rx, ry = ((x, y), (raw_w - y - side, x), (raw_w - x - side, raw_h - y - side), (y, raw_h - x - side))[self._turns]
        rx, ry = rx & ~1, ry & ~1
        luma = np.full((side, side), 16, np.uint8)
        chroma = [np.full((side // 2, side // 2), 128, np.uint8) for _ in range(2)]
        x0, y0, x1, y1 = max(rx, 0), max(ry, 0), min(rx + side, raw_w), min(ry + side, raw_h)  # all even
        if x1 > x0 and y1 > y0:
            luma[y0 - ry : y1 - ry, x0 - rx : x1 - rx] = self._plane(0, raw_h, raw_w)[y0:y1, x0:x1]
            for plane, canvas in zip((1, 2), chroma):
                canvas[(y0 - ry) // 2 : (y1 - ry) // 2, (x0 - rx) // 2 : (x1 - rx) // 2] = \
                    self._plane(plane, raw_h // 2, raw_w // 2)[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2]
        n = side // k
        if k > 1:
            luma = cv2.resize(luma, (n, n), interpolation=cv2.INTER_AREA)
            chroma = [cv2.resize(c, (n // 2, n // 2), interpolation=cv2.INTER_AREA) for c in chroma]
        i420 = np.concatenate([luma.ravel(), chroma[0].ravel(), chroma[1].ravel()]).reshape(n * 3 // 2, n)
        rgb = cv2.cvtColor(i420, cv2.COLOR_YUV2RGB_I420)
        return np.ascontiguousarray(np.rot90(rgb, self._turns)) if self._turns else rgb


def rgb_square_of(rgb: np.ndarray, x: int, y: int, side: int, k: int) -> np.ndarray:
    """An RGB array's square [y:y+side, x:x+side] (black where it leaves the array), box-averaged by ``k``."""
    import cv2

    height, width = rgb.shape[:2]
    canvas = np.zeros((side, side, 3), np.uint8)
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + side, width), min(y + side, height)
    if x1 > x0 and y1 > y0:
        canvas[y0 - y : y1 - y, x0 - x : x1 - x] = rgb[y0:y1, x0:x1]
    return cv2.resize(canvas, (side // k, side // k), interpolation=cv2.INTER_AREA) if k > 1 else canvas


def keep_decoder_memory() -> bool:
    """Let glibc keep freed frame buffers for the next video instead of handing them back to the OS.

    Every video opens a fresh decoder whose 1080p frame pool (a dozen MB) glibc would otherwise map,
    fault in and zero page by page, and unmap on close: a tenth of the decoding CPU (0.3 of 4.0 s
    for 96 videos, measured). Large blocks stay on the heap (no mmap below 32 MB) and up to 256 MB
    of free heap is kept. Process-wide and permanent; False where the C library is not glibc."""
    import ctypes
    import platform

    if platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(None)
    m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
    return bool(libc.mallopt(m_mmap_threshold, 32 << 20)) and bool(libc.mallopt(m_trim_threshold, 256 << 20))


def rotate_upright(frame: np.ndarray, degrees_counterclockwise: int) -> np.ndarray:
    """Turn a decoded frame by the display matrix's counter-clockwise angle (multiples of 90°)."""
    quarter_turns = round(degrees_counterclockwise / 90) % 4
    return np.ascontiguousarray(np.rot90(frame, quarter_turns)) if quarter_turns else frame


def index_video(path: Path, container_index: bool = True) -> VideoIndex:
    """The container's stated frame count and its packets' timestamps and keyframes (no decoding);
    ``container_index=False`` reads every packet even where the container's own index would do."""
    import av

    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, UnicodeDecodeError) as err:
        raise UnreadableMediaError(f"{path}: cannot read the video ({err}); check the file or rerun with --skip-bad") from None
    unread = False  # True: only the header and the container's own index were read
    try:
        stream = _video_stream(container, path)
        declared = max(int(stream.frames or 0), 0)
        packets = _complete_avi_index(container, stream, declared, path) if container_index else []
        unread = bool(packets)
        try:
            for packet in container.demux(stream) if not packets else ():
                if packet.size:
                    packets.append((packet.pts, bool(packet.is_keyframe)))
        except av.FFmpegError:
            pass  # cut short (a truncated file): the packets so far are what exists
    except (av.FFmpegError, OSError, UnicodeDecodeError) as err:
        raise UnreadableMediaError(f"{path}: cannot read the video ({err}); check the file or rerun with --skip-bad") from None
    finally:
        if not unread:
            container.close()
    stamps = [pts for pts, _ in packets]
    seekable = bool(packets) and None not in stamps and len(set(stamps)) == len(stamps)
    if not seekable:
        if unread:
            container.close()
        return VideoIndex(declared, tuple(range(len(packets))), (0,), False)
    order = sorted(range(len(packets)), key=lambda i: stamps[i])
    keyframes = tuple(rank for rank, i in enumerate(order) if packets[i][1]) or (0,)
    return VideoIndex(declared, tuple(stamps[i] for i in order), keyframes, True, [container] if unread else [])


def _complete_avi_index(container, stream, declared: int, path: Path) -> list[tuple[int | None, bool]]:
    """An AVI's own index (idx1, read when the file opens) as (pts, keyframe) per packet, when it lists
    every declared frame inside the file; else [] and the caller reads every packet.

    Only AVI: there an index entry's timestamp is the packet's pts (frame counter), so the result is
    what reading the packets gives, without reading them (3 of 4 ms per 1080p video). MP4/MOV index
    entries hold decode timestamps, which differ from the pts when frames are reordered. A file cut
    short loses its idx1 (it follows the frames), so it is always read packet by packet."""
    if container.format.name != "avi" or declared <= 0:
        return []
    entries = [entry for entry in stream.index_entries if entry.size and not entry.is_discard]
    chunk_header = 8  # an AVI index entry points at its chunk's id and size, the frame's bytes follow
    if len(entries) != declared or max(e.pos + chunk_header + e.size for e in entries) > path.stat().st_size:
        return []
    return [(entry.timestamp, bool(entry.is_keyframe)) for entry in entries]


def iter_frames(path: Path, indices: Iterable[int], index: VideoIndex | None = None,
                extra_rotation: int = 0) -> Iterator[tuple[int, np.ndarray]]:
    """(display index, upright RGB uint8 frame) for each wanted index that decodes, in ascending order."""
    for i, picture in iter_pictures(path, indices, index, extra_rotation):
        yield i, picture.rgb()


def iter_pictures(path: Path, indices: Iterable[int], index: VideoIndex | None = None,
                  extra_rotation: int = 0) -> Iterator[tuple[int, Picture]]:
    """(display index, upright ``Picture``) for each wanted index that decodes, in ascending order.

    ``extra_rotation`` (counter-clockwise degrees) applies only when the file has no display matrix.
    """
    wanted = sorted(set(indices))
    if not wanted:
        return
    index = index or index_video(path)
    done: set[int] = set()
    if index.seekable:
        try:
            for i, picture in _read_seeking(path, wanted, index, extra_rotation):
                done.add(i)
                yield i, picture
            return
        except _SeekUnusable:
            pass
    for i, picture in _read_from_start(path, wanted, extra_rotation):
        if i not in done:
            yield i, picture


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


def _read_seeking(path: Path, wanted: list[int], index: VideoIndex, extra_rotation: int) -> Iterator[tuple[int, Picture]]:
    import av

    position_of = {pts: i for i, pts in enumerate(index.pts)}
    wanted = [i for i in wanted if i < index.packets]
    wanted_set = set(wanted)
    wanted_pts = {index.pts[i] for i in wanted}
    try:
        with index.unread.pop() if index.unread else av.open(str(path)) as container:
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
                    frames, floor = _decoded_but_unreferenced(container, stream, wanted_pts), key
                for frame in frames:
                    if frame.pts not in position_of:
                        raise _SeekUnusable
                    i = position_of[frame.pts]
                    if i < floor:
                        continue
                    position = i
                    if i in wanted_set:
                        yield i, _picture(frame, extra_rotation)
                        wanted_set.discard(i)
                    if i >= target:
                        break
                else:
                    return  # the stream ended before the target: the caller sees what is missing
    except av.FFmpegError:
        return  # damaged part-way: what decoded has been yielded
    except (OSError, UnicodeDecodeError) as err:
        raise UnreadableMediaError(f"{path}: cannot decode the video ({err}); check the file or rerun with --skip-bad") from None


def _decoded_but_unreferenced(container, stream, wanted_pts: set[int]) -> Iterator:
    """The stream's frames from where the container stands, except the frames no other frame refers to
    and that are not wanted: the decoder skips those (``skip_frame`` NONREF, set packet by packet).

    Safe by definition of a non-reference frame (H.264 ``nal_ref_idc`` 0, MPEG-4 B-frames); a packet
    without a timestamp is decoded. Seeking to a frame 75 frames into a 1080p H.264 video with
    B-frames decodes about a third fewer frames; streams without B-frames (MPEG-4 Simple Profile)
    have no such frame to skip."""
    context = stream.codec_context
    for packet in container.demux(stream):  # ends with an empty packet, which flushes the decoder
        context.skip_frame = "DEFAULT" if packet.pts is None or packet.pts in wanted_pts else "NONREF"
        yield from packet.decode()


def _read_from_start(path: Path, wanted: list[int], extra_rotation: int) -> Iterator[tuple[int, Picture]]:
    import av

    wanted_set, last = set(wanted), max(wanted)
    for count, frame in enumerate(_decoded(path, last, av)):
        if count in wanted_set:
            yield count, _picture(frame, extra_rotation)


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


def _picture(frame, extra_rotation: int) -> Picture:
    rotation = int(getattr(frame, "rotation", 0) or 0)
    return Picture(frame, rotation or extra_rotation)


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
