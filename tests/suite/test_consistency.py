"""eventually(): consecutive agreeing probes, a bounded wait, the time to converge; on a fake clock."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from smi_conformance.suite.consistency import consistently, eventually


class FakeClock:
    """Time moves only when someone sleeps (or a probe says it took time)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def prober(clock: FakeClock, state: Callable[[float], str], takes_s: float = 0.0) -> Callable[[], str]:
    """A probe that reports the mesh's state at the time it is called and takes ``takes_s``."""

    def probe() -> str:
        seen = state(clock.now)
        clock.now += takes_s
        return seen

    return probe


def is_new(result: str) -> bool:
    return result == "new"


def test_converges_and_reports_the_start_of_the_agreeing_run() -> None:
    clock = FakeClock()
    result = eventually(
        prober(clock, lambda t: "new" if t >= 1.0 else "old"),
        is_new,
        interval_s=0.25,
        clock=clock,
        sleep=clock.sleep,
    )
    assert result.converged and result.seconds == 1.0
    assert result.probes == 7 and result.total_s == 1.5  # 0 .25 .5 .75 (old) 1.0 1.25 1.5 (new)
    assert result.last == "new"
    assert [r.ok for r in result.history] == [False] * 4 + [True] * 3
    assert result.message == "converged after 1.00 s (3 agreeing probes in a row, 7 probes in 1.50 s)"


def test_a_disagreeing_probe_starts_the_run_again() -> None:
    clock = FakeClock()
    script = iter(["new", "new", "old", "new", "new", "old", "new", "new", "new", "old"])
    result = eventually(lambda: next(script), is_new, interval_s=0.5, clock=clock, sleep=clock.sleep)
    assert result.converged and result.probes == 9
    assert result.seconds == 3.0  # the 7th probe, at 6 x 0.5 s


def test_gives_up_at_the_timeout_with_a_bounded_history() -> None:
    clock = FakeClock()
    result = eventually(
        prober(clock, lambda t: f"old at {t:.2f}"),
        is_new,
        timeout_s=2.0,
        interval_s=0.25,
        clock=clock,
        sleep=clock.sleep,
        history=4,
    )
    assert not result.converged and result.seconds is None
    assert result.probes == 9 and result.total_s == 2.0  # probes at 0, 0.25, ..., 2.0
    assert [r.at_s for r in result.history] == [1.25, 1.5, 1.75, 2.0]
    assert result.message.startswith(
        "did not converge within 2 s (9 probes, 3 agreeing in a row needed); last 4:"
    )
    assert "2.00 s not yet: 'old at 2.00'" in result.message
    json.dumps(result.to_dict())


def switches_at(when: float) -> Callable[[float], str]:
    return lambda t: "new" if t >= when else "old"


def test_a_run_must_start_before_the_deadline() -> None:
    """A probe started at the deadline still counts; one that would start after it is never sent."""
    for new_from, converged in ((0.5, True), (0.75, False)):
        clock = FakeClock()
        result = eventually(
            prober(clock, switches_at(new_from)),
            is_new,
            timeout_s=1.0,
            interval_s=0.25,
            clock=clock,
            sleep=clock.sleep,
        )
        assert result.converged is converged
        assert result.total_s == 1.0


def test_slow_probes_count_against_the_timeout() -> None:
    clock = FakeClock()
    result = eventually(
        prober(clock, lambda t: "old", takes_s=0.75),
        is_new,
        timeout_s=2.0,
        interval_s=0.25,
        clock=clock,
        sleep=clock.sleep,
    )
    # probes at 0 (ends .75), 1.0 (ends 1.75), 2.0 (ends 2.75: past the deadline, stop)
    assert not result.converged and result.probes == 3
    assert clock.sleeps == [0.25, 0.25] and result.total_s == 2.75
    assert [r.at_s for r in result.history] == [0.0, 1.0, 2.0]


def test_last_sleep_is_cut_to_the_deadline() -> None:
    clock = FakeClock()
    result = eventually(
        prober(clock, lambda t: "old"),
        is_new,
        timeout_s=1.0,
        interval_s=0.375,
        clock=clock,
        sleep=clock.sleep,
    )
    assert clock.sleeps == [0.375, 0.375, 0.25]
    assert result.probes == 4 and result.total_s == 1.0


def test_never_loops_forever_on_a_clock_that_does_not_move() -> None:
    calls: list[float] = []

    def probe() -> str:
        calls.append(0.0)
        return "old"

    result = eventually(
        probe, is_new, timeout_s=1.0, interval_s=0.25, clock=lambda: 0.0, sleep=lambda s: None
    )
    assert not result.converged and result.probes == len(calls) == 3 + 4  # consecutive + timeout / interval


def test_probe_exceptions_propagate() -> None:
    clock = FakeClock()

    def probe() -> str:
        if clock.now >= 0.5:
            raise ConnectionError("driver unreachable")
        return "old"

    with pytest.raises(ConnectionError, match="driver unreachable"):
        eventually(probe, is_new, interval_s=0.25, clock=clock, sleep=clock.sleep)


def test_one_probe_when_consecutive_is_one_and_long_results_are_cut() -> None:
    clock = FakeClock()
    result = eventually(lambda: "new", is_new, consecutive=1, clock=clock, sleep=clock.sleep)
    assert result.converged and result.probes == 1 and result.seconds == 0.0 and clock.sleeps == []
    long = eventually(lambda: "x" * 1000, is_new, timeout_s=0, clock=clock, sleep=clock.sleep)
    assert not long.converged and long.probes == 1
    assert len(long.history[0].summary) == 200 and long.history[0].summary.endswith("...")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"consecutive": 0}, "consecutive=0"),
        ({"timeout_s": -1.0}, "timeout_s=-1.0"),
        ({"interval_s": 0.0}, "interval_s=0.0"),
        ({"timeout_s": float("inf")}, "timeout_s=inf"),
        ({"history": 0}, "history=0"),
    ],
)
def test_bad_settings(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        eventually(lambda: "new", is_new, **kwargs)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------- consistently
def test_consistently_holds_for_the_whole_window() -> None:
    clock = FakeClock()
    held = consistently(
        prober(clock, lambda t: "old"),
        lambda r: r == "old",
        timeout_s=30,
        interval_s=1.0,
        clock=clock,
        sleep=clock.sleep,
    )
    assert held.converged and held.seconds == 0.0
    assert held.total_s >= 30 and held.probes == 31


def test_consistently_fails_at_the_first_change_however_late() -> None:
    """A mesh that takes 12 s to (wrongly) act on a change is caught; checking at once would have passed."""
    clock = FakeClock()
    state = lambda t: "old" if t < 12 else "new"  # noqa: E731
    held = consistently(
        prober(clock, state),
        lambda r: r == "old",
        timeout_s=30,
        interval_s=0.5,
        clock=clock,
        sleep=clock.sleep,
    )
    assert not held.converged and held.seconds is None
    assert held.last == "new" and 12 <= held.total_s < 12.5
    at_once = FakeClock()
    assert eventually(
        prober(at_once, state), lambda r: r == "old", timeout_s=30, clock=at_once, sleep=at_once.sleep
    ).converged
