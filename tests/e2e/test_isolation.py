"""Process-runtime containers are isolated: a hostile tenant deployed beside a victim with a secret
finds nothing of the victim, of the platform's secrets, of other platforms on the host, of the
Docker socket or of the bus, and cannot write the image it shares with other apps. As root with
nftables it cannot even connect to this host's own services (listeners the test opens, the bus, the
API) or to a metadata address, yet still reaches the internet.

The hostile app (apps/hostile.py) reports everything it could read or do; each item is asserted
here, and no secret may appear anywhere in its report."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

from services.common import nft
from tests.e2e.conftest import Platform, container_pids, runner_processes, start_platform, stop_process

APPS = Path(__file__).parent / "apps"


def _isolation(platform: Platform) -> str:
    log = (platform.home / "logs" / "agent.log").read_text()
    for line in log.splitlines():
        if line.startswith("berth-agent isolation: "):
            return line.split(": ", 2)[1]
    raise AssertionError(f"the agent did not say how containers are isolated:\n{log[-2000:]}")


def _egress_filtered(platform: Platform) -> bool:
    """Whether the agent said its containers' connections to this host are refused."""
    text = (platform.home / "logs" / "agent.log").read_text()
    return "own and link-local (metadata) addresses are refused" in text


def _expect_egress_filter() -> bool:
    """Root with nft: the agent must filter (elsewhere it cannot, and says so)."""
    return os.geteuid() == 0 and nft.binary() is not None


def _host_address() -> str | None:
    """This host's address on its default route (no packet is sent), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("192.0.2.1", 9))
        except OSError:
            return None
        address = sock.getsockname()[0]
    return None if address.startswith("127.") else address


def _reaches(host: str, port: int) -> str:
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError as exc:
        return str(exc)
    return ""


def _listener(address: str) -> socket.socket:
    sock = socket.socket()
    sock.bind((address, 0))
    sock.listen(8)
    sock.setblocking(False)
    return sock


def _accepted_any(sock: socket.socket) -> bool:
    try:
        sock.accept()[0].close()
    except BlockingIOError:
        return False
    return True


def _targets(platform: Platform, listeners: dict[str, socket.socket]) -> dict[str, str]:
    """What the hostile app tries to connect to, by name: host:port."""
    config = (platform.home / "config.toml").read_text()
    api = re.search(r'server = "([^"]+)"', config)
    assert api, config
    targets = {name: f"{address}:{sock.getsockname()[1]}" for name, (address, sock) in _named(listeners)}
    targets["bus"] = f"127.0.0.1:{urlparse(platform.nats_url).port}"
    targets["api"] = api.group(1)
    targets["metadata"] = "169.254.169.254:80"
    why = _reaches("pypi.org", 443)
    if why:
        print(f"this host cannot reach pypi.org:443 ({why}): the outside probe is left out")
    else:
        targets["outside"] = "pypi.org:443"
    return targets


def _named(listeners: dict[str, socket.socket]) -> list[tuple[str, tuple[str, socket.socket]]]:
    host = _host_address()
    out = []
    for name, sock in listeners.items():
        address = sock.getsockname()[0]
        if address == "0.0.0.0":
            if host is None:
                continue
            address = host
        out.append((name, (address, sock)))
    return out


@pytest.fixture(scope="module")
def other_home() -> Iterator[Path]:
    """Another platform's home under /tmp, with a key anyone on the host could read."""
    home = Path(tempfile.mkdtemp(prefix="berth-other-home-", dir="/tmp"))
    home.chmod(0o755)
    (home / "secret.key").write_text("other-platform-" + secrets.token_hex(16))
    (home / "secret.key").chmod(0o644)
    yield home
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def fresh_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """A platform whose agent starts every container as a fresh interpreter (no zygotes)."""
    running = start_platform(tmp_path_factory.mktemp("berth-home-fresh"), {"BERTH_ZYGOTES": "0"})
    try:
        yield running
    finally:
        assert stop_process(running.process, signal.SIGINT) == 0
        assert not runner_processes(running.home, with_children=True)


@pytest.fixture(scope="module", params=["zygote", "fresh"])
def target(request: pytest.FixtureRequest) -> Platform:
    """Containers forked by zygotes (the default), then started as fresh interpreters."""
    name = "platform" if request.param == "zygote" else "fresh_platform"
    platform: Platform = request.getfixturevalue(name)
    return platform


@pytest.fixture(scope="module")
def probe(target: Platform, other_home: Path) -> dict:
    platform = target
    if _isolation(platform) == "none":
        pytest.skip("this host allows neither root nor user namespaces: containers are not isolated")
    value = "victim-" + secrets.token_hex(16)
    created = platform.berth("secret", "create", "victim-secret", f"VICTIM_SECRET={value}", "--force")
    assert created.returncode == 0, created.stderr
    victim_url = platform.deploy(APPS / "victim.py")["hold"]
    held = platform.request("GET", victim_url)
    assert held.status_code == 200, held.text
    victim = held.json()
    pids = container_pids(platform, "victim")
    assert pids, "the victim's container was not found from the host"
    environ = Path(f"/proc/{pids[0]}/environ").read_bytes().split(b"\0")
    boot = next(e for e in environ if e.startswith(b"BERTH_BOOT=")).split(b"=", 1)[1].decode()

    hostile_url = platform.deploy(APPS / "hostile.py")["probe"]
    # Listeners of this host's: on loopback, and on every address (reached at the default route's).
    listeners = {"loopback listener": _listener("127.0.0.1"), "host address listener": _listener("0.0.0.0")}
    targets = _targets(platform, listeners)
    params = {
        "home": str(platform.home),
        "other_home": str(other_home),
        "victim_pids": ",".join(map(str, pids)),
        "victim_state": str(Path(boot).parent),
        "agent_sockets": f"/tmp/berth-{platform.agent_id}",
        "nats_port": str(urlparse(platform.nats_url).port),
        "connect": ",".join(targets.values()),
    }
    try:
        response = platform.request(
            "GET", hostile_url, "/?" + "&".join(f"{k}={v}" for k, v in params.items())
        )
        accepted = {name: _accepted_any(sock) for name, sock in listeners.items()}
    finally:
        for sock in listeners.values():
            sock.close()
    assert response.status_code == 200, response.text
    report = response.json()
    return {
        "targets": targets,
        "accepted": accepted,
        "platform": platform,
        "report": report,
        "text": response.text,
        "secret": value,
        "victim": victim,
        "victim_pids": pids,
        "victim_state": params["victim_state"],
    }


def test_no_secret_appears_anywhere_in_the_report(probe: dict, other_home: Path) -> None:
    text, platform = probe["text"], probe["platform"]
    assert probe["secret"] not in text
    assert (other_home / "secret.key").read_text() not in text
    key = (platform.home / "secret.key").read_bytes()
    assert key.hex() not in text and key.decode(errors="replace").strip() not in text
    config = (platform.home / "config.toml").read_text()
    token = next(line.split("=", 1)[1].strip().strip('"') for line in config.splitlines() if "token" in line)
    assert token and token not in text
    for seed in (platform.home / "credentials").iterdir():
        if seed.is_file():
            assert seed.read_text().strip() not in text


def test_it_runs_as_a_uid_of_its_own(probe: dict) -> None:
    report, victim = probe["report"], probe["victim"]
    assert report["uid"] != 0 and report["gid"] != 0
    if os.geteuid() == 0:  # as root the agent gives each container its own uid
        assert report["uid"] != victim["uid"] and victim["uid"] != 0


def test_it_sees_only_its_own_processes(probe: dict) -> None:
    report = probe["report"]
    assert report["pid"] == 1  # pid 1 of a pid namespace of its own
    assert report["pids"] == [1], report["cmdlines"]
    assert all(value is None for value in report["environs"].values()), report["environs"]
    assert all(value is None for value in report["victim_environ"].values())
    assert all(value != "reachable" for value in report["victim_signal"].values())


def test_its_environment_holds_nothing_of_the_platform(probe: dict) -> None:
    keys = set(probe["report"]["own_environ_keys"])
    assert not keys & {"BERTH_TOKEN", "BERTH_SECRET_KEY", "BERTH_HOME", "BERTH_NATS_URL", "TMPDIR"}
    assert not any(k.startswith(("BERTH_NATS", "BERTH_ISOLATION")) for k in keys), keys
    assert keys >= {"BERTH_CONTAINER_ID", "BERTH_SOCKET", "BERTH_BOOT", "HOME"}


def test_the_platform_home_shows_only_its_own_container(probe: dict) -> None:
    report, platform = probe["report"], probe["platform"]
    assert all(value is None for value in report["home_files"].values()), report["home_files"]
    listing = report["home_tree"].get(str(platform.home)) or []
    assert not {"secret.key", "config.toml", "credentials", "logs", "run", "jetstream"} & set(listing)
    assert report["victim_state"] is None and report["victim_files"] == {}
    victim_dir = Path(probe["victim_state"]).name
    assert not any(victim_dir in path for path in report["boot_orders"]), report["boot_orders"]


def test_scratch_space_is_its_own(probe: dict) -> None:
    report, platform = probe["report"], probe["platform"]
    # Only where its own socket is, and the way to its own files when the home is under /tmp.
    allowed = {f"berth-{platform.agent_id}"}
    if platform.home.is_relative_to("/tmp"):
        allowed.add(platform.home.relative_to("/tmp").parts[0])
    assert set(report["tmp"]) <= allowed, report["tmp"]
    assert len(report["agent_sockets"]) == 1, report["agent_sockets"]
    victim_socket = Path(probe["victim_state"]).name + ".sock"
    assert victim_socket not in report["agent_sockets"]
    assert report["dev_shm"] == [] and report["var_tmp"] in ([], None)
    assert report["other_home"] is None and report["other_home_key"] is None
    assert report["tmp_write"] == "wrote" and report["home_write"] == "wrote"


def test_no_docker_socket_and_no_host_run_dir(probe: dict) -> None:
    report = probe["report"]
    for path, (exists, connected) in report["docker"].items():
        assert not exists and connected != "connected", path
    assert "docker.sock" not in (report["run"] or [])


def test_the_shared_image_and_code_are_read_only(probe: dict) -> None:
    report = probe["report"]
    # Creating a file meets the read-only mount first (EROFS); writing an existing file of root's
    # meets its permissions first (EACCES, or EROFS in a user namespace, where it is ours).
    for item in ("venv_write", "runtime_layer_write", "code_write"):
        assert report[item] == "Read-only file system", (item, report[item])
    assert report["venv_append"] in ("Read-only file system", "Permission denied")


def test_the_bus_refuses_it(probe: dict) -> None:
    # Filtered, it cannot even connect; otherwise the bus itself says no.
    expected = "closed" if _egress_filtered(probe["platform"]) else "refused"
    assert probe["report"]["nats"] == expected


def test_the_agent_says_whether_local_egress_is_filtered(probe: dict) -> None:
    platform = probe["platform"]
    if _expect_egress_filter():
        assert _egress_filtered(platform), (platform.home / "logs" / "agent.log").read_text()[-2000:]
    else:  # a user namespace (or no nft): the host's network stays reachable, and the agent says so
        assert not _egress_filtered(platform)
        assert "share the host's network UNFILTERED" in (platform.home / "logs" / "agent.log").read_text()


def test_it_cannot_connect_to_this_host_or_a_metadata_address(probe: dict) -> None:
    if not _expect_egress_filter():
        pytest.skip("not root with nft: containers share the host's network unfiltered (README)")
    tried, targets = probe["report"]["connect"], probe["targets"]
    print({name: (target, tried.get(target)) for name, target in targets.items()})  # what it got, with -s
    assert {"loopback listener", "bus", "api", "metadata"} <= set(targets), targets
    for name, target in targets.items():
        if name == "outside":
            continue
        # Refused at once, not left to time out; 169.254/16 may have no route at all here.
        allowed = (
            {"Connection refused", "Network is unreachable"} if name == "metadata" else {"Connection refused"}
        )
        assert tried[target] in allowed, (name, target, tried[target])
    assert not any(probe["accepted"].values()), probe["accepted"]


def test_it_still_reaches_the_internet(probe: dict) -> None:
    target = probe["targets"].get("outside")
    if target is None:
        pytest.skip("this host itself cannot reach pypi.org:443")
    assert probe["report"]["connect"][target] == "connected", probe["report"]["connect"]


def test_the_victim_is_pid_one_of_its_own_namespace_seen_from_the_host(probe: dict) -> None:
    status = Path(f"/proc/{probe['victim_pids'][0]}/status").read_text()
    nspid = next(line for line in status.splitlines() if line.startswith("NSpid:")).split()[1:]
    assert len(nspid) == 2 and nspid[1] == "1", nspid


def test_the_agent_reports_isolation(probe: dict) -> None:
    platform = probe["platform"]
    assert _isolation(platform) in {"namespaces", "user-namespace"}
    if os.geteuid() == 0:
        assert _isolation(platform) == "namespaces"


def test_report_is_json(probe: dict) -> None:
    assert json.loads(probe["text"]) == probe["report"]
