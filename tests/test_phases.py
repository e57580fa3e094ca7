"""phases.py: a run's wall time cut into phases that add up to it."""

import sys

import pytest

from denoise_kit import phases


class FakeClock:
    """time.perf_counter for phases.py, moved by hand: no sleeps, no flaky timings."""

    def __init__(self, monkeypatch):
        self.now = 1000.0
        monkeypatch.setattr(phases.time, "perf_counter", lambda: self.now)


def test_marks_cut_the_run_into_phases_that_add_up(monkeypatch):
    clock = FakeClock(monkeypatch)
    phases.forget()
    clock.now += 7
    phases.mark("start-up")
    clock.now += 100
    phases.mark("training")
    clock.now += 2
    phases.mark("start-up")  # A phase met again adds up.
    phases.move(4, "training", "tracing")
    clock.now += 0.5  # Not marked yet: in the total only.
    assert phases.seconds() == {"start-up": 9, "tracing": 4, "training": 96, "total": 109.5}


def test_tracing_never_takes_more_than_training_has(monkeypatch):
    clock = FakeClock(monkeypatch)
    phases.forget()
    clock.now += 3
    phases.mark("training")
    phases.move(1e9, "training", "tracing")
    assert phases.seconds() == {"tracing": 3, "training": 0, "total": 3}
    phases.move(-5, "training", "tracing")
    assert phases.seconds() == {"tracing": 3, "training": 0, "total": 3}


def test_a_second_run_or_a_notebook_starts_its_own_clock(monkeypatch):
    clock = FakeClock(monkeypatch)
    monkeypatch.setattr(phases, "_runs", 0)
    phases.forget()
    clock.now += 5
    phases.start_run()  # A program's first run: the clock runs from the process's start.
    phases.mark("start-up")
    assert phases.seconds()["start-up"] == 5
    clock.now += 60
    phases.start_run()  # A second run in this process starts afresh.
    clock.now += 1
    phases.mark("start-up")
    assert phases.seconds() == {"start-up": 1, "total": 1}
    monkeypatch.setattr(phases, "_runs", 0)
    clock.now += 30
    phases.start_run(in_notebook=True)  # The kernel waited for the learner: not start-up time.
    assert phases.seconds() == {"total": 0}


def test_the_last_line_names_the_biggest_phases():
    line = phases.summary_line({"start-up": 7.5, "data": 0.7, "training": 96.0, "tracing": 3.1,
                                "files": 2.6, "total": 109.9})
    assert line == "wall time 109.9 s: training 96.0 s, start-up 7.5 s, tracing 3.1 s"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the process's start comes from /proc")
def test_the_clock_starts_when_the_process_started():
    # This process started before these tests were collected: seconds, not none, not days.
    assert 0.5 < phases._seconds_since_process_start() < 86_400
