"""Token-bucket rate limits and concurrency quotas, driven by a fake clock."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from meshforge.service.ratelimit import ConcurrencyQuota, RateLimiter, SharedRateLimiter


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


Make = Callable[..., "RateLimiter | SharedRateLimiter"]


@pytest.fixture(params=["in-process", "shared"])
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Make:
    """Each RateLimiter test runs on both kinds: the buckets in a dict, and in a shared file."""
    if request.param == "in-process":
        return RateLimiter

    def shared(rate_per_minute: float, burst: int, **kwargs: Any) -> SharedRateLimiter:
        return SharedRateLimiter(tmp_path / "rate.table", rate_per_minute, burst, **kwargs)

    return shared


# --- RateLimiter --------------------------------------------------------------------------------


def test_burst_is_allowed_then_refused_with_the_right_wait(make: Make) -> None:
    clock = FakeClock()
    limiter = make(rate_per_minute=60, burst=3, clock=clock)  # one token a second
    assert [limiter.acquire("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("k") == pytest.approx(1.0)
    clock.advance(0.25)
    assert limiter.acquire("k") == pytest.approx(0.75)


def test_refusals_consume_nothing(make: Make) -> None:
    clock = FakeClock()
    limiter = make(rate_per_minute=30, burst=1, clock=clock)  # one token every 2 s
    assert limiter.acquire("k") == 0.0
    for _ in range(100):
        assert limiter.acquire("k") == pytest.approx(2.0)
    clock.advance(2.0)
    assert limiter.acquire("k") == 0.0


def test_waiting_exactly_the_returned_delay_succeeds(make: Make) -> None:
    clock = FakeClock(0.1)
    limiter = make(rate_per_minute=7, burst=1, clock=clock)
    assert limiter.acquire("k") == 0.0
    for _ in range(20):
        wait = limiter.acquire("k")
        assert wait == pytest.approx(60 / 7)
        clock.advance(wait)
        assert limiter.acquire("k") == 0.0


def test_refill_over_time_is_capped_at_burst(make: Make) -> None:
    clock = FakeClock()
    limiter = make(rate_per_minute=120, burst=5, clock=clock)  # two tokens a second
    assert all(limiter.acquire("k") == 0.0 for _ in range(5))
    clock.advance(1.0)  # two tokens back
    assert [limiter.acquire("k") for _ in range(2)] == [0.0, 0.0]
    assert limiter.acquire("k") == pytest.approx(0.5)
    clock.advance(3600.0)  # an hour idle: full again, but no more than the burst
    assert sum(limiter.acquire("k") == 0.0 for _ in range(50)) == 5


def test_sustained_rate_over_a_minute(make: Make) -> None:
    clock = FakeClock()
    limiter = make(rate_per_minute=10, burst=2, clock=clock)
    allowed = 0
    for _ in range(600):  # a request every 0.1 s for a minute
        allowed += limiter.acquire("k") == 0.0
        clock.advance(0.1)
    # The burst of 2 at t=0 and t=0.1, then one each time a token has refilled (every 6 s):
    # t=6.1, 12.1, ..., 54.1.
    assert allowed == 2 + 9


def test_keys_are_independent(make: Make) -> None:
    clock = FakeClock()
    limiter = make(rate_per_minute=60, burst=2, clock=clock)
    assert [limiter.acquire("a") for _ in range(2)] == [0.0, 0.0]
    assert limiter.acquire("a") > 0
    assert [limiter.acquire("b") for _ in range(2)] == [0.0, 0.0]
    assert limiter.acquire("b") > 0
    clock.advance(1.0)
    assert limiter.acquire("a") == 0.0
    assert limiter.acquire("c") == 0.0


@pytest.mark.parametrize("rate", [0, -5])
def test_non_positive_rate_is_unlimited(make: Make, rate: float) -> None:
    limiter = make(rate_per_minute=rate, burst=0, clock=FakeClock())
    assert all(limiter.acquire("k") == 0.0 for _ in range(10_000))


def test_burst_below_one_is_refused(make: Make) -> None:
    with pytest.raises(ValueError, match="burst"):
        make(rate_per_minute=60, burst=0)


def test_clock_stepping_back_refills_nothing(make: Make) -> None:
    clock = FakeClock()
    limiter = make(rate_per_minute=60, burst=1, clock=clock)
    assert limiter.acquire("k") == 0.0
    clock.advance(-100.0)
    assert limiter.acquire("k") == pytest.approx(1.0)


def test_idle_keys_are_forgotten_but_busy_ones_kept() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate_per_minute=60, burst=1, clock=clock)
    for i in range(3000):
        assert limiter.acquire(f"key-{i}") == 0.0
        clock.advance(0.01)
    # Every key spent its token; with 3000 keys and sweeps at 1024 and beyond, the ones idle for a
    # second or more were dropped, so the map holds about the last second's keys, not all of them.
    assert len(limiter._buckets) < 1500
    # The most recent key is still remembered as empty.
    assert limiter.acquire("key-2999") > 0


def test_threads_hammering_one_key_never_exceed_the_budget(make: Make) -> None:
    clock = FakeClock()
    limiter = make(rate_per_minute=60, burst=50, clock=clock)
    barrier = threading.Barrier(8)

    def hammer(_: int) -> int:
        barrier.wait()
        return sum(limiter.acquire("shared") == 0.0 for _ in range(500))

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert sum(pool.map(hammer, range(8))) == 50
    clock.advance(30.0)  # 30 tokens back
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert sum(pool.map(hammer, range(8))) == 30


def _spend(path: str, attempts: int, start: Any, spent: Any) -> None:
    limiter = SharedRateLimiter(Path(path), rate_per_minute=0.001, burst=40)
    start.wait()
    spent.put(sum(limiter.acquire("shared") == 0.0 for _ in range(attempts)))


def test_processes_sharing_the_file_share_one_budget(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    start, spent = context.Barrier(4), context.Queue()
    processes = [
        context.Process(target=_spend, args=(str(tmp_path / "rate.table"), 100, start, spent))
        for _ in range(4)
    ]
    for process in processes:
        process.start()
    counts = [spent.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(10)
    # 400 attempts by four processes at once, one budget of 40 (the rate refills nothing in
    # the time this takes); each process alone would have allowed 40
    assert sum(counts) == 40, counts


def test_a_full_table_takes_over_refilled_entries(tmp_path: Path) -> None:
    clock = FakeClock()
    limiter = SharedRateLimiter(tmp_path / "t", rate_per_minute=60, burst=1, clock=clock)
    limiter.SLOTS = 64  # a small table, so that keys collide
    limiter.PROBES = 64
    for i in range(64):
        assert limiter.acquire(f"key-{i}") == 0.0
    assert limiter.acquire("another") == 0.0  # every entry is spending: let through
    clock.advance(1.0)  # every bucket full again: entries free to take
    for i in range(64, 128):
        assert limiter.acquire(f"key-{i}") == 0.0
    assert limiter.acquire("key-127") == pytest.approx(1.0)  # remembered: refused


# --- ConcurrencyQuota ---------------------------------------------------------------------------


def test_quota_admits_up_to_the_limit_per_key() -> None:
    quota = ConcurrencyQuota(limit=2)
    assert quota.try_enter("a")
    assert quota.try_enter("a")
    assert not quota.try_enter("a")
    assert quota.active("a") == 2
    assert quota.try_enter("b")
    assert quota.active("b") == 1
    quota.leave("a")
    assert quota.active("a") == 1
    assert quota.try_enter("a")
    assert not quota.try_enter("a")


def test_quota_leave_without_enter_is_an_error() -> None:
    quota = ConcurrencyQuota(limit=1)
    with pytest.raises(ValueError, match="without a matching try_enter"):
        quota.leave("a")
    assert quota.try_enter("a")
    quota.leave("a")
    assert quota.active("a") == 0
    with pytest.raises(ValueError, match="without a matching try_enter"):
        quota.leave("a")


def test_quota_non_positive_limit_is_unlimited() -> None:
    quota = ConcurrencyQuota(limit=0)
    assert all(quota.try_enter("a") for _ in range(1000))
    assert quota.active("a") == 1000


def test_quota_under_threads_never_exceeds_the_limit() -> None:
    quota = ConcurrencyQuota(limit=3)
    lock = threading.Lock()
    peak = 0
    current = 0
    barrier = threading.Barrier(8)

    def worker(_: int) -> int:
        nonlocal peak, current
        barrier.wait()
        entered = 0
        for _ in range(2000):
            if quota.try_enter("k"):
                entered += 1
                with lock:
                    current += 1
                    peak = max(peak, current)
                with lock:
                    current -= 1
                quota.leave("k")
        return entered

    with ThreadPoolExecutor(max_workers=8) as pool:
        total = sum(pool.map(worker, range(8)))
    assert 0 < total <= 16_000
    assert peak <= 3
    assert quota.active("k") == 0
