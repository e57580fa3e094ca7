"""phases.py: a run's wall time cut into phases that add up to it."""

import sys
import time

import pytest

from denoise_kit import phases


def test_marks_cut_the_time_since_the_start_into_phases():
    phases.forget()
    time.sleep(0.05)
    phases.mark("start-up")
    time.sleep(0.1)
    phases.mark("training")
    time.sleep(0.02)
    phases.mark("start-up")  # A phase met again adds up.
    phases.move(0.04, "training", "tracing")
    seconds = phases.seconds()
    assert list(seconds) == ["start-up", "training", "tracing", "total"]
    assert seconds["start-up"] == pytest.approx(0.07, abs=0.02)
    assert seconds["training"] == pytest.approx(0.06, abs=0.02) and seconds["tracing"] == pytest.approx(0.04)
    assert sum(seconds.values()) - seconds["total"] == pytest.approx(seconds["total"], abs=0.02)


def test_tracing_never_takes_more_than_training_has():
    phases.forget()
    phases.mark("training")
    phases.move(1e9, "training", "tracing")
    phases.move(-5, "training", "tracing")
    seconds = phases.seconds()
    assert seconds["training"] == 0 and seconds["tracing"] >= 0


def test_the_last_line_names_the_biggest_phases():
    line = phases.summary_line({"start-up": 7.5, "data": 0.7, "training": 96.0, "tracing": 3.1,
                                "files": 2.6, "total": 109.9})
    assert line == "wall time 109.9 s: training 96.0 s, start-up 7.5 s, tracing 3.1 s"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the process's start comes from /proc")
def test_the_clock_starts_when_the_process_started():
    # This process started before these tests were collected: seconds, not none, not days.
    assert 0.5 < phases._seconds_since_process_start() < 86_400
