"""The build sandbox's pure parts: the environment a build step gets, what is hidden, reclaiming."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from services.builder import sandbox
from services.builder.sandbox import Sandbox, build_env, image_env_for_build, platform_paths, reclaim

BUILDER_ENV = {
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "HOME": "/root",
    "BERTH_NATS_URL": "nats://127.0.0.1:4222",
    "BERTH_SECRET_KEY": "c2VjcmV0",
    "BERTH_TOKEN_KEY_FILE": "/run/secrets/token.key",
    "DOCKER_HOST": "unix:///var/run/docker.sock",
    "AWS_SECRET_ACCESS_KEY": "x",
    "HTTPS_PROXY": "http://proxy:3128",
    "no_proxy": "localhost",
    "SSL_CERT_FILE": "/etc/ssl/certs/ca-certificates.crt",
    "UV_INDEX_URL": "https://mirror.internal/simple",
    "UV_CACHE_DIR": "/root/.cache/uv",
}


def test_build_env_keeps_only_what_installing_needs(tmp_path: Path) -> None:
    env = build_env(BUILDER_ENV, home=tmp_path / "h", tmp=tmp_path / "t", cache=tmp_path / "c")
    assert env == {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HTTPS_PROXY": "http://proxy:3128",
        "no_proxy": "localhost",
        "SSL_CERT_FILE": "/etc/ssl/certs/ca-certificates.crt",
        "UV_INDEX_URL": "https://mirror.internal/simple",
        "HOME": str(tmp_path / "h"),
        "TMPDIR": str(tmp_path / "t"),
        "UV_CACHE_DIR": str(tmp_path / "c"),
        "NO_COLOR": "1",
        "UV_NO_PROGRESS": "1",
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_LINK_MODE": "copy",
    }


def test_image_env_reaches_build_steps_without_what_steers_the_installer() -> None:
    image_env = {
        "APP_MODE": "prod",
        "CFLAGS": "-O2",
        "LANG": "de_DE.UTF-8",
        "Https_Proxy": "http://evil.example:3128",
        "UV_INDEX_URL": "https://evil.example/simple",
        "PIP_INDEX_URL": "https://evil.example/simple",
        "https_proxy": "http://evil.example:3128",
        "SSL_CERT_FILE": "/tmp/evil.pem",
        "LD_PRELOAD": "/tmp/evil.so",
        "PYTHONPATH": "/tmp/evil",
        "HOME": "/root",
        "PATH": "/evil/bin",
        "BERTH_HOME": "/",
        "DOCKER_HOST": "tcp://evil:2375",
    }
    assert image_env_for_build(image_env) == {"APP_MODE": "prod", "CFLAGS": "-O2", "LANG": "de_DE.UTF-8"}
    env = build_env(
        {"PATH": "/usr/bin"}, image_env=image_env, home=Path("/h"), tmp=Path("/t"), cache=Path("/c")
    )
    assert env["PATH"] == "/usr/bin" and env["APP_MODE"] == "prod" and "UV_INDEX_URL" not in env


def test_platform_paths_are_the_berth_settings_that_name_files(tmp_path: Path) -> None:
    seed = tmp_path / "builder.nk"
    seed.write_text("S")
    environ = {
        "BERTH_NATS_SEED_FILE": str(seed),
        "BERTH_HOME": "/",
        "BERTH_NATS_URL": "nats://x",
        "X": str(seed),
    }
    environ["BERTH_MISSING_FILE"] = str(tmp_path / "missing")
    assert platform_paths(environ) == [str(seed)]


def test_config_hides_the_platform_and_binds_back_what_the_step_needs(tmp_path: Path) -> None:
    home = tmp_path / "home"
    closed = tmp_path / "closed"
    (closed / "python" / "bin").mkdir(parents=True)
    closed.chmod(0o700)
    seed = tmp_path / "builder.nk"
    seed.write_text("S")
    box = Sandbox(home, hidden=[seed, ""], environ={"DOCKER_HOST": "unix:///srv/docker.sock"})
    target = home / "images" / "x" / "venv"
    config = box.config(
        sandbox.NAMESPACES, cwd=home / "tmp" / "b", writable=[target], readable=[closed / "python" / "bin"]
    )
    hidden = config["hide"]
    assert isinstance(hidden, list)
    assert hidden[:2] == [str(home), str(seed)]
    assert {"/srv/docker.sock", "/run", "/var/run", "/var/run/docker.sock"} <= set(hidden)
    # The topmost directory on the way the build uid cannot pass through is rebuilt on tmpfs.
    blocked = next(str(p) for p in reversed((closed / "python").parents) if not os.stat(p).st_mode & 0o001)
    assert blocked in hidden
    assert config["writable"] == [str(target)]
    assert str(closed / "python" / "bin") in config["readable"]  # type: ignore[operator]
    assert config["uid"] == config["gid"] == sandbox.BUILD_UID and config["private"] == [
        "/tmp",
        "/var/tmp",
        "/dev/shm",
    ]


def test_the_default_build_uid_is_no_one_elses() -> None:
    from services.agent.runtime.process import UidRange

    # Not nobody (shared with host daemons, which the build firewall would cut off too), not a
    # real user's, not any agent's container uid, and nothing needs it in /etc/passwd.
    assert sandbox.BUILD_UID not in (0, 65534) and sandbox.BUILD_UID > 1 << 24
    assert sandbox.BUILD_UID < UidRange.BASE


def test_builds_get_the_egress_proxy_and_not_the_operators(tmp_path: Path) -> None:
    proxy = "http://token:x@127.0.0.1:4321"
    env = build_env(BUILDER_ENV, home=tmp_path / "h", tmp=tmp_path / "t", cache=tmp_path / "c", proxy=proxy)
    proxies = {key: value for key, value in env.items() if key.lower().endswith("_proxy")}
    assert proxies == {
        name: proxy
        for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy")
    }
    assert env["SSL_CERT_FILE"] == BUILDER_ENV["SSL_CERT_FILE"]  # a TLS-inspecting proxy still works


def test_build_uid_comes_from_the_environment(tmp_path: Path) -> None:
    box = Sandbox(tmp_path, environ={"BERTH_BUILD_UID": "4242", "BERTH_BUILD_GID": "4343"})
    assert (box.uid, box.gid) == (4242, 4343)
    with pytest.raises(ValueError, match="sandbox mode"):
        Sandbox(tmp_path, mode="chroot")


@pytest.mark.skipif(os.geteuid() != 0, reason="changing owners needs root")
def test_reclaim_takes_a_tree_back_without_following_links(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.write_text("not the build's")
    os.chown(outside, 1234, 1234)
    tree = tmp_path / "venv"
    (tree / "bin").mkdir(parents=True)
    script = tree / "bin" / "tool"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o4777)
    private = tree / "data"
    private.write_text("x")
    private.chmod(0o600)
    (tree / "bin" / "link").symlink_to(outside)
    for path in (tree, tree / "bin", script, private):
        os.chown(path, 65534, 65534)
    os.lchown(tree / "bin" / "link", 65534, 65534)

    reclaim(tree)

    assert oct(script.stat().st_mode & 0o7777) == oct(0o755)
    assert oct(private.stat().st_mode & 0o777) == oct(0o644)
    assert oct((tree / "bin").stat().st_mode & 0o777) == oct(0o755)
    for path in (tree, tree / "bin", script, private, tree / "bin" / "link"):
        assert path.lstat().st_uid == os.geteuid(), path
    assert outside.stat().st_uid == 1234, "a link's target is never touched"
