"""Pure parts of the Docker runtime: what a container is started with, and where its files come from."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from berth.v1 import bus_pb2, spec_pb2
from services.agent.runtime import LaunchSpec, docker_pool
from services.agent.runtime import docker as docker_runtime
from services.agent.runtime import docker_params as params
from services.agent.runtime.docker_network import AppNetwork


def _spec(tmp_path: Path, **overrides: object) -> LaunchSpec:
    state = tmp_path / "home" / "agent" / "a1" / "containers" / "c1"
    fields: dict[str, object] = {
        "container_id": "c1",
        "python": "/usr/bin/python3",
        "env": {
            "PATH": "/host/venv/bin:/usr/bin",
            "TMPDIR": "/host/tmp",
            "HOME": str(state),
            "BERTH_BOOT": str(state / "boot.pb"),
            "BERTH_SOCKET": str(tmp_path / "sockets" / "c1.sock"),
            "BERTH_CODE_DIR": str(tmp_path / "code"),
            "PYTHONUNBUFFERED": "1",
            "GREETING": "hi",
        },
        "cwd": tmp_path / "code",
        "state_dir": state,
        "code_dir": tmp_path / "code",
        "image_tag": "berth-img:abc",
    }
    fields.update(overrides)
    return LaunchSpec(**fields)  # type: ignore[arg-type]


def _slot(tmp_path: Path) -> params.Slot:
    return params.Slot.make(tmp_path / "slots", tmp_path / "sockets", os.getuid(), os.getgid())


def test_env_points_at_the_containers_mounts(tmp_path: Path) -> None:
    env = params.container_env(_spec(tmp_path))
    assert env["BERTH_SOCKET"] == "/berth/run/runner.sock"
    assert env["BERTH_CODE_DIR"] == "/berth/code"
    assert env["BERTH_BOOT"] == "/berth/state/boot.pb"
    assert env["HOME"] == "/berth/state"
    assert env["GREETING"] == "hi"
    assert "PATH" not in env and "TMPDIR" not in env  # the image's own PATH applies
    assert len(params.SOCKET.encode()) < 108


def test_run_params_harden_the_container(tmp_path: Path) -> None:
    slot = _slot(tmp_path)
    run = params.run_params(
        image="berth-img:abc",
        command=["/usr/bin/python3", "-m", "berth._runtime"],
        env={"A": "1"},
        name="berth-c1",
        labels={"berth.container": "c1"},
        slot=slot,
        limits=params.Limits(memory_mib=256, cpu=0.5),
        network="berth-apps-0123",
        user=(65534, 65534),
    )
    assert run["image"] == "berth-img:abc" and run["user"] == "65534:65534"
    host = run["host_config"]
    assert host["binds"] == {
        str(slot.code): {"bind": "/berth/code", "mode": "ro"},
        str(slot.state): {"bind": "/berth/state", "mode": "rw"},
        str(slot.run): {"bind": "/berth/run", "mode": "rw"},
    }
    assert host["cap_drop"] == ["ALL"] and host["security_opt"] == ["no-new-privileges"]
    assert host["read_only"] and set(host["tmpfs"]) == {"/tmp"} and "size=256m" in host["tmpfs"]["/tmp"]
    assert host["mem_limit"] == host["memswap_limit"] == "256m"
    assert host["nano_cpus"] == 500_000_000 and host["pids_limit"] == params.PIDS_LIMIT
    assert host["network_mode"] == "berth-apps-0123" and "port_bindings" not in host
    assert host["sysctls"] == {"net.ipv6.conf.all.disable_ipv6": "1"} and host["ipc_mode"] == "private"


def test_limits_default_when_the_function_sets_none() -> None:
    assert params.Limits.of(spec_pb2.ScalingSpec()) == params.Limits(
        memory_mib=params.DEFAULT_MEMORY_MIB, cpu=params.DEFAULT_CPU
    )
    assert params.Limits.of(spec_pb2.ScalingSpec(memory_mib=128, cpu=2.0)) == params.Limits(
        memory_mib=128, cpu=2.0
    )


def test_limits_come_from_the_boot_order(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    spec.state_dir.mkdir(parents=True)
    order = bus_pb2.BootOrder(function=spec_pb2.FunctionSpec(scaling=spec_pb2.ScalingSpec(memory_mib=300)))
    (spec.state_dir / "boot.pb").write_bytes(order.SerializeToString())
    limits = params.limits_of(spec)
    assert limits == params.Limits(memory_mib=300, cpu=params.DEFAULT_CPU)


def test_command_refuses_an_image_built_for_the_process_runtime(tmp_path: Path) -> None:
    assert params.command_of(_spec(tmp_path)) == ["/usr/bin/python3", "-m", "berth._runtime"]
    with pytest.raises(RuntimeError, match="--runtime docker"):
        params.command_of(_spec(tmp_path, image_tag=""))


def test_a_slot_gets_the_code_boot_order_and_socket(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    (spec.code_dir / "pkg").mkdir(parents=True)
    os.chmod(spec.code_dir, 0o700)  # the bundle cache's own mode does not reach the container
    (spec.code_dir / "app.py").write_text("x = 1\n")
    (spec.code_dir / "pkg" / "mod.py").write_text("y = 2\n")
    spec.state_dir.mkdir(parents=True)
    (spec.state_dir / "boot.pb").write_bytes(b"order")
    (tmp_path / "sockets").mkdir()
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(spec.env["BERTH_SOCKET"])
    slot = _slot(tmp_path)
    slot.fill(spec, os.getuid(), os.getgid())
    assert (slot.code / "app.py").read_text() == "x = 1\n" and (slot.code / "pkg" / "mod.py").exists()
    assert (slot.code / "app.py").stat().st_ino == (spec.code_dir / "app.py").stat().st_ino  # linked
    assert stat.S_IMODE(slot.code.stat().st_mode) == 0o755
    assert (slot.state / "boot.pb").read_bytes() == b"order"
    assert stat.S_IMODE((slot.state / "boot.pb").stat().st_mode) == 0o600
    assert (slot.run / "runner.sock").stat().st_ino == Path(spec.env["BERTH_SOCKET"]).stat().st_ino
    assert slot.run.parent == tmp_path / "sockets" / "docker-slots"  # same file system as the socket
    slot.remove()
    assert not slot.root.exists() and not slot.run.exists()
    listener.close()


def test_the_app_network_names_fit_the_kernels_limits() -> None:
    network = AppNetwork.for_owner("0123456789abcdef")
    assert network.name == "berth-apps-0123456789abcdef"
    assert len(network.bridge) <= 15 and len(network.chain) <= 28
    rules = network.rules_for_operator()
    assert "169.254.0.0/16" in rules and "--ctstate DNAT" in rules and "--dst-type LOCAL" in rules
    assert f"iptables -I DOCKER-USER 1 -i {network.bridge} -j {network.chain}" in rules


def test_pool_kinds_separate_what_shapes_an_interpreter() -> None:
    limits = params.Limits()
    python = "/usr/bin/python3"
    base = {"PYTHONUNBUFFERED": "1", "LANG": "C.UTF-8", "SECRET": "x", "PYTHONPATH": "/a"}
    key = docker_pool.PoolKey.of("berth-img:a", python, limits, base)
    assert dict(key.startup_env) == {"PYTHONUNBUFFERED": "1", "LANG": "C.UTF-8"}  # no secret, no path
    same = docker_pool.PoolKey.of("berth-img:a", python, limits, {**base, "SECRET": "y"})
    assert key == same and key.digest() == same.digest()
    assert key != docker_pool.PoolKey.of("berth-img:a", python, limits, {**base, "PYTHONHASHSEED": "0"})
    assert key != docker_pool.PoolKey.of("berth-img:a", python, params.Limits(memory_mib=64), base)


def test_owner_label_is_stable_per_home(tmp_path: Path) -> None:
    assert docker_runtime.owner_label(tmp_path) == docker_runtime.owner_label(tmp_path / ".")
    assert docker_runtime.owner_label(tmp_path) != docker_runtime.owner_label(tmp_path / "other")
    assert docker_runtime.container_name("live.app/1") == "berth-live.app-1"
