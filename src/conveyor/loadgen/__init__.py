"""Constant-rate HTTP load against a local listener, keeping every request's timestamps, status,
error and version header: the instrument behind the zero-downtime benchmark and the e2e tests.

    gen = LoadGenerator("http://127.0.0.1:8080/version", rate=1000, max_requests=20_000)
    gen.start()                      # background; returns at once
    ...                              # deploy, roll back, ...
    result = gen.wait()              # or gen.stop() to end early
    assert result.failed() == 0 and result.longest_gap_ms < 100
    back = gen.first_time_all("v1", after=rollback_started)   # rollback latency = back - rollback_started

The package, by concern:

    generator      LoadGenerator: the open-loop schedule, the epoll loop, keep-alive reuse; run_load
    http_client    one connection and its request; the HTTP/1.1 response reader; socket error names
    results        Sample, LoadResult, the tally kept as requests finish; first_time_all
    probes         rate probes: is_clean, rate_probes, max_sustainable_rate; verdict, fell_behind
"""

from conveyor.loadgen.generator import (
    DEFAULT_CONCURRENCY,
    DEFAULT_POST_BODY,
    DEFAULT_TIMEOUT_SECONDS,
    DEFAULT_VERSION_HEADER,
    TIMEOUT_SCAN_SECONDS,
    LoadGenerator,
    run_load,
)
from conveyor.loadgen.http_client import MAX_HEAD_BYTES, NO_BODY_STATUSES, Connection, ResponseReader, error_name
from conveyor.loadgen.probes import (
    CLEAN_ACHIEVED_FRACTION,
    CLEAN_MAX_LAG_MS,
    GENERATOR_BEHIND,
    fell_behind,
    is_clean,
    max_sustainable_rate,
    rate_probes,
    verdict,
)
from conveyor.loadgen.results import LATE_START_MS, LoadResult, Sample, first_time_all

__all__ = ["CLEAN_ACHIEVED_FRACTION", "CLEAN_MAX_LAG_MS", "DEFAULT_CONCURRENCY", "DEFAULT_POST_BODY",
           "DEFAULT_TIMEOUT_SECONDS", "DEFAULT_VERSION_HEADER", "GENERATOR_BEHIND", "LATE_START_MS", "MAX_HEAD_BYTES",
           "NO_BODY_STATUSES", "TIMEOUT_SCAN_SECONDS",
           "Connection", "LoadGenerator", "LoadResult", "ResponseReader", "Sample", "error_name", "fell_behind",
           "first_time_all", "is_clean", "max_sustainable_rate", "rate_probes", "run_load", "verdict"]
