"""Timing and memory measurement: warm-up, interleaved timed runs, medians
and p90, throughput, and peak resident memory.

Runs of the models compared in one group are interleaved (blocks of a few
runs of each in turn), so that load from other processes falls on all of
them alike and their ratios stay meaningful on a shared machine.
"""
import ctypes
import gc
import statistics
import threading
import time

import numpy as np
import psutil


def release_free_memory():
    """Collect garbage and return freed heap pages to the OS (glibc
    ``malloc_trim``), so that resident memory measures what is live."""
    gc.collect()
    try:
        ctypes.CDLL('libc.so.6').malloc_trim(0)
    except (OSError, AttributeError):
        pass


class PeakMemory:
    """Peak resident memory of this process while the ``with`` block runs,
    sampled every ``interval`` seconds, minus the resident memory when it
    began (``peak_mib``)."""

    def __init__(self, interval=0.002):
        self.interval = interval
        self.peak_mib = None
        self._process = psutil.Process()

    def __enter__(self):
        release_free_memory()
        self._baseline = self._process.memory_info().rss
        self._peak = self._baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.is_set():
            self._peak = max(self._peak, self._process.memory_info().rss)
            self._stop.wait(self.interval)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._peak = max(self._peak, self._process.memory_info().rss)
        self.peak_mib = (self._peak - self._baseline) / 2**20
        return False


def time_once(run, inputs):
    start = time.perf_counter()
    run(inputs)
    return time.perf_counter() - start


def interleaved_times(runners, inputs, runs, progress=None, block=5, pause=0.02):
    """Time ``runs`` runs of each runner, interleaved in blocks: ``block``
    consecutive runs of one runner, then of the next, and so on.

    Blocks rather than single runs, and a pause before each block, because
    ONNX Runtime's and OpenMP's worker threads keep spinning for a while
    after a run: one run each in turn would time each model against the
    previous one's spinning threads (on 2 cores that doubled ONNX Runtime's
    latencies), while turning spinning off costs ONNX Runtime ~10%.

    Args:
        runners (dict): key -> callable taking its inputs.
        inputs (dict): key -> the inputs of that runner.
        runs (int): Timed runs per runner.
        progress (callable, optional): Called with the number of runs done
            per runner after each round.
        block (int): Consecutive runs of one runner. Default: 5.
        pause (float): Seconds of idle before each block. Default: 0.02.

    Returns:
        dict: key -> list of seconds.
    """
    times = {key: [] for key in runners}
    done = 0
    while done < runs:
        count = min(block, runs - done)
        for key, run in runners.items():
            time.sleep(pause)
            times[key] += [time_once(run, inputs[key]) for _ in range(count)]
        done += count
        if progress is not None:
            progress(done)
    return times


def summarize(seconds):
    """Median and p90 (linear interpolation, numpy's default) in milliseconds."""
    return dict(median_ms=statistics.median(seconds) * 1e3,
                p90_ms=float(np.quantile(seconds, 0.9)) * 1e3, runs=len(seconds))
