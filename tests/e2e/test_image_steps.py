"""Image build steps end to end: run_commands, apt_install, uv_pip_install, requirements files,
add_local_dir to an absolute path and pip/setuptools in every image.

On the Docker runtime (a real engine; skipped loudly without one) one app with all the steps is
deployed and called, and build steps are shown to reach nothing but the egress proxy. On the
process runtime the steps it cannot honour are refused at deploy, naming the step, the function
and the Docker runtime, and its images have pip and setuptools (pkg_resources) too.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from berth.v1 import spec_pb2
from tests.e2e.conftest import Platform
from tests.e2e.test_docker_runtime import SKIP_REASON, docker_available, docker_platform  # noqa: F401

APP = Path(__file__).parent / "apps" / "image_steps" / "app.py"
BUILD_TIMEOUT = 900.0
PROCESS_HINT = "use the Docker runtime (`BERTH_RUNTIME=docker berth up`)"

if not docker_available():
    print(f"\n{SKIP_REASON} (test_image_steps.py)", file=sys.stderr)


@pytest.mark.skipif(not docker_available(), reason=SKIP_REASON)
@pytest.mark.xdist_group("docker")
def test_docker_runtime_runs_every_image_step(docker_platform: Platform) -> None:  # noqa: F811
    url = docker_platform.deploy(APP)["probe"]
    response = docker_platform.request("GET", url)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body == {
        "jq": "green",
        "run_commands": "built-by-run-commands",
        "six": body["six"],
        "tomli_w": "a = 1",
        "asset": "hello from /assets",
        "pkg_resources": True,
    }
    assert body["six"].startswith("1."), body
    result = docker_platform.berth("app", "stop", "image-steps", timeout=60)
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(not docker_available(), reason=SKIP_REASON)
@pytest.mark.xdist_group("docker")
def test_docker_build_steps_reach_only_the_egress_proxy(base_image: str, tmp_path: Path) -> None:
    """A run_commands step: a host off the allow-list is refused by the proxy (and said so in the
    build's output), and without the proxy there is no network at all."""
    from services.builder.docker_build import DockerBuilder
    from services.builder.errors import BuildFailed
    from services.builder.sandbox import Sandbox

    fetch = "python3 -c \"import urllib.request, sys; urllib.request.urlopen('https://{host}/', timeout=10)\""
    direct = "env -u https_proxy -u HTTPS_PROXY " + fetch.format(host="pypi.org")
    spec = spec_pb2.ImageSpec(
        steps=[
            spec_pb2.ImageStep(
                run_commands=spec_pb2.RunCommands(
                    commands=[
                        f"! {direct} && echo no-network-without-proxy",
                        fetch.format(host="example.com"),
                    ]
                )
            )
        ]
    )
    lines: list[str] = []

    async def build() -> None:
        box = Sandbox(tmp_path / "home")
        try:
            async with asyncio.timeout(BUILD_TIMEOUT):
                await DockerBuilder(tmp_path / "home", sandbox=box).build(spec, on_line=lines.append)
        finally:
            await box.close()

    with pytest.raises(BuildFailed) as failed:
        asyncio.run(build())
    output = "\n".join(lines)
    assert "no-network-without-proxy" in output, output[-3000:]
    assert "blocked: example.com:443 is not a package index" in output, output[-3000:]
    assert "run_commands(" in failed.value.message and "exited with" in failed.value.message


def _refused(platform: Platform, tmp_path: Path, name: str, image: str) -> str:
    path = tmp_path / f"{name}.py"
    path.write_text(
        "import berth\n"
        f"image = berth.Image.debian_slim(){image}\n"
        f"app = berth.App({name!r})\n\n\n"
        "@app.function(image=image)\n"
        "@berth.fastapi_endpoint()\n"
        "def handler():\n"
        "    return 'unreachable'\n"
    )
    result = platform.berth("deploy", str(path))
    assert result.returncode != 0, f"{name} deployed:\n{result.stdout}"
    return result.stderr


def test_process_runtime_refuses_what_needs_an_image_root(platform: Platform, tmp_path: Path) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "a.txt").write_text("a")
    cases = {
        "refuse-apt": ('.apt_install("jq")', "apt_install(jq)"),
        "refuse-commands": ('.run_commands("echo hi")', "run_commands('echo hi')"),
        "refuse-absolute": (f".add_local_dir({str(tmp_path / 'assets')!r}, '/assets')", "'/assets'"),
    }
    for name, (step, shown) in cases.items():
        message = _refused(platform, tmp_path, name, step)
        assert "function 'handler'" in message and shown in message, message
        assert PROCESS_HINT in message, message
    # Nothing of them was built or kept: the names are free.
    listed = platform.berth("app", "list").stdout
    assert not any(name in listed for name in cases), listed


def test_process_runtime_images_have_pip_and_setuptools(platform: Platform, tmp_path: Path) -> None:
    path = tmp_path / "seeded.py"
    path.write_text(
        "import berth\n"
        "app = berth.App('seeded')\n\n\n"
        "@app.function(image=berth.Image.debian_slim().uv_pip_install('fastapi', 'six'))\n"
        "@berth.fastapi_endpoint()\n"
        "def handler():\n"
        "    import pip, pkg_resources, six\n"
        "    require = callable(pkg_resources.require)\n"
        "    return {'pip': pip.__version__, 'require': require, 'six': six.__name__}\n"
    )
    url = platform.deploy(path)["handler"]
    response = platform.request("GET", url)
    assert response.status_code == 200, response.text
    assert response.json()["require"] is True and response.json()["six"] == "six", response.json()
    result = platform.berth("app", "stop", "seeded", timeout=60)
    assert result.returncode == 0, result.stderr
