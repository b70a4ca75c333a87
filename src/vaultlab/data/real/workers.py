"""Cropping videos in worker processes, the results coming back in record order.

Each worker is a process forked from multiprocessing's fork server, with its own pipe: the parent
hands it the next video as soon as it has fewer than ``IN_FLIGHT`` queued, and reads whichever
pipe has a result ready (``connection.wait``), all in the parent's main thread. Results are held
until every earlier video's is in, so the output is the same whatever the number of workers.

Not ``multiprocessing.Pool``: its worker-handler thread wakes whenever the result pipe is readable
and spins until the result thread has read the result out, so each 300-kB result cost the parent
about 2 ms of CPU (0.22 of 0.63 CPU s for 96 videos, measured), taken from the workers on a
machine with as many cores as workers. A pool also hangs when a worker dies; here the parent sees
the pipe close and names the video that worker held.

Not ``fork``: the parent may run threads (the progress bar) that a forked child would inherit
mid-lock; the fork server is a fresh single-threaded interpreter, started once per parent process
(later prepares in the same process reuse it). Its preload holds what every worker imports, so a
worker starts as a fork (milliseconds) instead of a fresh interpreter importing them (0.3 CPU s
each), and the parent's main module, which every child would otherwise import again (for
``python -m vaultlab``: the whole CLI).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

from vaultlab.data.real.crops import CropSpec, VideoCrops, crop_or_message
from vaultlab.data.real.records import VideoRecord
from vaultlab.data.real.video import keep_decoder_memory

WORKER_MODULES = ["vaultlab.data.real.workers", "cv2", "av"]  # loaded once, in the fork server
IN_FLIGHT = 2  # videos queued per worker: it starts the next as soon as it sends a result
AHEAD = 8  # videos per worker that may finish before an earlier one is in (bounds the results held)


def crop_in_workers(records: list[VideoRecord], spec: CropSpec, workers: int) -> Iterator[VideoCrops | str]:
    """Each record's crops, or its unreadable-media message, in record order, from ``workers`` processes.

    Closing the iterator early (an error, Ctrl-C) stops the workers."""
    from multiprocessing.connection import wait

    processes, pipes = _start_workers(min(workers, len(records)))
    queued = {pipe: deque() for pipe in pipes}  # per pipe: the record indices it holds, oldest first
    done: dict[int, VideoCrops | str] = {}
    handed, emitted = 0, 0
    try:
        while emitted < len(records):
            for pipe in pipes:  # hand out work, keeping each worker's queue full
                while len(queued[pipe]) < IN_FLIGHT and handed < min(len(records), emitted + AHEAD * len(pipes)):
                    pipe.send((records[handed], spec))
                    queued[pipe].append(handed)
                    handed += 1
            for pipe in wait([p for p in pipes if queued[p]]):
                i = queued[pipe].popleft()
                try:
                    done[i] = pipe.recv()
                except EOFError:
                    raise RuntimeError(f"{records[i].path}: the worker process cropping it died; "
                                       "rerun with --workers 1 to see the error") from None
            while emitted in done:
                yield done.pop(emitted)
                emitted += 1
    finally:  # all done: the workers are told to stop; cut short: they are stopped at once
        complete = emitted == len(records)
        for pipe, process in zip(pipes, processes):
            if complete:
                pipe.send(None)
                process.join(timeout=5)
            if process.is_alive():
                process.terminate()
                process.join()
            pipe.close()


def _start_workers(count: int) -> tuple[list, list]:
    """``count`` worker processes and the parent's end of each one's pipe."""
    import multiprocessing
    import sys

    context = multiprocessing.get_context("forkserver")
    main_spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    main_module = [main_spec.name] if main_spec is not None and main_spec.name != "__main__" else []
    context.set_forkserver_preload(["__main__", *main_module, *WORKER_MODULES])
    processes, pipes = [], []
    for _ in range(count):
        mine, theirs = context.Pipe()
        process = context.Process(target=_serve, args=(theirs,), daemon=True)
        process.start()
        theirs.close()
        processes.append(process)
        pipes.append(mine)
    return processes, pipes


def _serve(pipe) -> None:
    """A worker: one detector, one OpenCV thread (the processes are the parallelism), decoder memory
    kept between videos, Ctrl-C left to the parent; crops each video it is sent until it gets None."""
    import signal

    import cv2

    from vaultlab.data.real.faces import FaceDetector

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    cv2.setNumThreads(1)
    keep_decoder_memory()
    detector = FaceDetector()
    while True:
        try:
            job = pipe.recv()
        except EOFError:  # the parent is gone
            return
        if job is None:
            return
        record, spec = job
        pipe.send(crop_or_message(record, spec, detector))
