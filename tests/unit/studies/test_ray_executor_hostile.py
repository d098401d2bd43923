"""Ray failures that used to hang or leak tracebacks are one line within seconds: a
malformed --ray-address, an address where no head runs, a run that asks for more CPUs or
GPUs than the cluster has. No test here starts Ray; addresses are 127.0.0.1 only."""

from __future__ import annotations

import socket
import time

import pytest

from aelab.errors import ConfigError
from aelab.studies import ray_executor
from aelab.studies.ray_executor import RayExecutor, check_resources


@pytest.mark.parametrize(
    "address",
    ["head", "ray://head", "http://head:6379", "head:port", "head:0", "head:70000", ":6379", ""],
)
def test_a_malformed_address_is_refused_when_the_executor_is_made(address):
    with pytest.raises(ConfigError, match=r"--ray-address .* is invalid: expected ray://HEAD"):
        RayExecutor(address)


@pytest.mark.parametrize("address", ["auto", "ray://head:10001", "10.0.0.1:6379", "[::1]:6379"])
def test_well_formed_addresses_pass(address):
    RayExecutor(address)


def test_an_address_where_no_head_runs_fails_within_seconds(monkeypatch):
    pytest.importorskip("ray")
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inits = []
    start = time.monotonic()
    executor = RayExecutor(f"127.0.0.1:{port}")
    monkeypatch.setattr("ray.init", lambda *a, **k: inits.append(a))  # never reached
    with pytest.raises(ConfigError, match=rf"no Ray head answers at 127.0.0.1:{port} within"):
        executor._init(ray_executor.import_ray())
    assert time.monotonic() - start < 10 and not inits


@pytest.mark.parametrize(
    ("cpus", "gpus", "message"),
    [
        (8, 0, r"--cpus-per-run 8 is more than the cluster has \(4 CPUs\); pass --cpus-per-run 4"),
        (1, 1, r"--gpus-per-run 1 is more than the cluster has \(no GPU\); leave --gpus-per-run"),
        (1, 0.5, r"\(no GPU\)"),
    ],
)
def test_a_run_larger_than_the_cluster_is_refused(cpus, gpus, message):
    with pytest.raises(ConfigError, match=message):
        check_resources({"CPU": 4.0}, cpus, gpus, "the cluster")
    check_resources({"CPU": 4.0, "GPU": 1.0}, 4, 1, "the cluster")  # what fits passes


def test_a_local_run_larger_than_this_machine_is_refused_before_ray_starts(monkeypatch):
    inits = []

    class FakeRay:
        init = staticmethod(lambda *a, **k: inits.append(k))

    monkeypatch.setattr(ray_executor, "local_gpus", lambda: 0)
    too_many = ray_executor.usable_cpus() + 1
    with pytest.raises(ConfigError, match=f"--cpus-per-run {too_many} is more than this machine"):
        RayExecutor(cpus_per_run=too_many)._init(FakeRay)
    with pytest.raises(ConfigError, match="--gpus-per-run 1 is more than this machine has"):
        RayExecutor(gpus_per_run=1)._init(FakeRay)
    assert not inits
