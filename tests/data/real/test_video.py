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


def test_truncated_file_states_more_frames_than_it_holds(tmp_path):
    path = write_truncated_avi(tmp_path / "t.avi", face_frames(12), keep=5)
    index = index_video(path)
    assert (index.declared, index.packets) == (12, 5)
    assert decodable_frames(path, index) == [0, 1, 2, 3, 4]
    assert [i for i, _ in iter_frames(path, [3, 6, 11], index)] == [3]
