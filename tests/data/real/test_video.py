"""Seeking to sampled frames gives the frames a decode from the start gives; truncated files are seen."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import face_frames, write_truncated_avi, write_video
from vaultlab.data.real.video import decodable_frames, index_video, iter_frames


def moving_frames(n: int) -> list[np.ndarray]:
    return [np.ascontiguousarray(np.roll(frame, i, axis=1)) for i, frame in enumerate(face_frames(n))]


@pytest.mark.parametrize("name,gop", [("a.avi", 4), ("b.mp4", 5), ("c.mov", 3)])
def test_seeking_reads_the_same_frames_as_decoding_from_the_start(tmp_path, name, gop):
    path = write_video(tmp_path / name, moving_frames(24), gop=gop)
    index = index_video(path)
    assert index.declared == index.packets == 24 and index.seekable
    assert len(index.keyframes) > 3  # there is something to seek to
    everything = dict(iter_frames(path, range(24), index))
    assert sorted(everything) == list(range(24))
    assert not np.array_equal(everything[5], everything[6])
    for wanted in ([6, 18], [0, 5, 10, 15, 20], [23], [2, 3, 22]):
        got = list(iter_frames(path, wanted, index))
        assert [i for i, _ in got] == wanted
        assert all(np.array_equal(frame, everything[i]) for i, frame in got)


@pytest.mark.parametrize("name", ["a.avi", "b.mp4"])
def test_the_container_index_gives_what_reading_every_packet_gives(tmp_path, name):
    path = write_video(tmp_path / name, moving_frames(30), gop=7)
    assert index_video(path) == index_video(path, container_index=False)
    truncated = write_truncated_avi(tmp_path / "t.avi", face_frames(12), keep=5)
    assert index_video(truncated) == index_video(truncated, container_index=False)


def test_the_first_read_takes_the_container_the_avi_index_came_from(tmp_path):
    path = write_video(tmp_path / "a.avi", moving_frames(24), gop=4)
    index = index_video(path)
    assert len(index.unread) == 1  # the AVI's own index: nothing read past it
    from_index = list(iter_frames(path, [6, 18], index))
    assert index.unread == []  # taken by that read; the next one opens the file
    again = list(iter_frames(path, [6, 18], index))
    assert [i for i, _ in from_index] == [i for i, _ in again] == [6, 18]
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(from_index, again))
    assert index_video(write_truncated_avi(tmp_path / "t.avi", face_frames(12), keep=5)).unread == []  # packets were read


def test_frames_nothing_refers_to_are_skipped_unless_wanted(tmp_path):
    import av

    from vaultlab.data.real.video import _decoded_but_unreferenced

    path = write_video(tmp_path / "b.mp4", moving_frames(24))  # libx264's defaults: B-frames
    index = index_video(path)
    wanted = {index.pts[5], index.pts[20]}
    with av.open(str(path)) as container:
        every = [frame.pts for frame in container.decode(container.streams.video[0])]
    with av.open(str(path)) as container:
        some = [frame.pts for frame in _decoded_but_unreferenced(container, container.streams.video[0], wanted)]
    assert len(every) == 24 and wanted <= set(some) and len(some) < 20


@pytest.mark.parametrize("frames,decoded", [
    ("6+mid", [*range(0, 7), *range(12, 22)]),  # frames 6 and 21: from keyframe 0, then a seek to keyframe 12
    ("every:5", [*range(0, 11), *range(12, 21), 24, 25]),  # 15's keyframe is past 10: seek; 20 follows on; 25: seek
])
def test_each_wanted_frame_is_decoded_from_the_keyframe_before_it_and_no_frame_twice(tmp_path, monkeypatch, frames, decoded):
    from vaultlab.data.real import video
    from vaultlab.data.real.sampling import parse_frame_convention, sampled_frame_indices

    path = write_video(tmp_path / "a.avi", moving_frames(30), gop=12)
    index = index_video(path)
    assert index.keyframes == (0, 12, 24)
    seen, real = [], video._decoded_but_unreferenced

    def counted(container, stream, wanted_pts):
        for frame in real(container, stream, wanted_pts):
            seen.append(index.pts.index(frame.pts))
            yield frame

    monkeypatch.setattr(video, "_decoded_but_unreferenced", counted)
    wanted = sampled_frame_indices(parse_frame_convention(frames), 30)
    assert [i for i, _ in video.iter_pictures(path, wanted, index)] == wanted
    assert seen == decoded


def test_truncated_file_states_more_frames_than_it_holds(tmp_path):
    path = write_truncated_avi(tmp_path / "t.avi", face_frames(12), keep=5)
    index = index_video(path)
    assert (index.declared, index.packets) == (12, 5)
    assert decodable_frames(path, index) == [0, 1, 2, 3, 4]
    assert [i for i, _ in iter_frames(path, [3, 6, 11], index)] == [3]


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_a_picture_converts_a_square_as_the_whole_frame_does(tmp_path, rotation):
    """Only the crop's square, shrunk in YUV, is turned into RGB; it matches the same square cut out of
    the whole frame's RGB and shrunk there (the converters' rounding, chroma averaged over 2k pixels
    instead of k), and the luma lies where the upright frame does."""
    import cv2

    from vaultlab.data.real.video import iter_pictures, rgb_square_of

    path = write_video(tmp_path / "r.avi", moving_frames(4), rotation=rotation)
    [(_, picture)] = list(iter_pictures(path, [2]))
    whole = picture.rgb()
    assert picture.shape == whole.shape
    fresh = next(p for _, p in iter_pictures(path, [2]))  # its whole frame never converted: the YUV path
    assert fresh._frame.format.name == "yuv420p" and fresh._rgb is None
    for x, y, side, k in [(4, 6, 40, 1), (0, 0, 64, 2), (-10, 20, 60, 3), (30, -8, 16, 2)]:  # the last two leave the frame
        square = fresh.rgb_square(x, y, side, k)
        expected = rgb_square_of(whole, x, y, side, k)
        assert square.shape == expected.shape == (side // k, side // k, 3)
        difference = np.abs(square.astype(int) - expected)
        assert difference.mean() < 2 and (difference > 6).mean() < 0.03  # chroma edges of the drawn face
        assert k > 1 or difference.max() <= 3
        padding = cv2.erode((expected.max(axis=2) == 0).astype(np.uint8), np.ones((3, 3), np.uint8)) == 1  # off the frame
        assert (square[padding] == 0).all() and (padding.any() or min(x, y) >= 0)  # black (a pixel in, chroma mixes)
    assert fresh._rgb is None
    grey = fresh.gray()
    assert grey.shape == whole.shape[:2]
    assert np.corrcoef(grey.ravel().astype(float), whole.mean(axis=2).ravel())[0, 1] > 0.99
