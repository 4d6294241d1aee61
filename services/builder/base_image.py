"""The Docker base image, made on this host without a registry: `debootstrap` + `docker import`.

`berth-base:<suite>-py<version>` is a minimal Debian (`--variant=minbase`) with the suite's
python3, made once and kept in the engine; every Docker-runtime image and the `berth` image of
deploy/ start `FROM` it. Making it takes minutes (a Debian bootstrap from the host's own apt
mirror); concurrent builders wait on a file lock so only one of them does the work.

    python -m services.builder.base_image    # makes it ahead of time (as root), prints progress
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.builder.commands import LineSink, run_streaming
from services.builder.errors import BuildFailed
from services.builder.locks import file_lock

SUITE = "bookworm"
PYTHON = "3.11"  # what `python3` is in SUITE; images run /usr/bin/python3
DEFAULT_MIRROR = "http://deb.debian.org/debian"
PACKAGES = ("python3", "python3-venv", "ca-certificates")
# Applied by `docker import`, which otherwise leaves an image with no environment at all.
IMPORT_CHANGES = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    'CMD ["python3"]',
)


@dataclass(frozen=True)
class BaseImage:
    suite: str = SUITE
    python: str = PYTHON

    @property
    def tag(self) -> str:
        return f"berth-base:{self.suite}-py{self.python}"


def mirror_from_sources(texts: Sequence[str], suite: str = SUITE) -> str:
    """The Debian mirror the host's apt uses for `suite`, from sources.list / deb822 .sources texts.

    Both formats are read: one-line `deb URI SUITE COMPONENTS` entries and deb822 stanzas with
    `Types:`, `URIs:` and `Suites:`. The first `deb` entry naming exactly `suite` wins.
    """
    for text in texts:
        for line in text.splitlines():
            parts = line.split("#", 1)[0].split()
            if len(parts) >= 3 and parts[0] == "deb":
                fields = [p for p in parts[1:] if not p.startswith("[")]
                fields = [p for p in fields if not p.endswith("]")]
                if len(fields) >= 2 and fields[1] == suite:
                    return fields[0].rstrip("/")
        for stanza in re.split(r"\n\s*\n", text):
            values: dict[str, list[str]] = {}
            for line in stanza.splitlines():
                if line.lstrip().startswith("#") or ":" not in line:
                    continue
                key, _, value = line.partition(":")
                values[key.strip().lower()] = value.split()
            if "deb" in values.get("types", []) and suite in values.get("suites", []) and values.get("uris"):
                return values["uris"][0].rstrip("/")
    return DEFAULT_MIRROR


def host_mirror(suite: str = SUITE, apt_dir: Path = Path("/etc/apt")) -> str:
    files = [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*.list"))]
    files += sorted((apt_dir / "sources.list.d").glob("*.sources"))
    texts = []
    for path in files:
        try:
            texts.append(path.read_text(errors="replace"))
        except OSError:
            continue
    return mirror_from_sources(texts, suite)


def debootstrap_argv(rootfs: Path, mirror: str, suite: str = SUITE) -> list[str]:
    return [
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(PACKAGES)}",
        suite,
        str(rootfs),
        mirror,
    ]


def image_exists(client: Any, tag: str) -> bool:
    import docker.errors

    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return True


async def ensure(client: Any, home: Path, *, base: BaseImage = BaseImage(), on_line: LineSink) -> str:
    """The base image's tag, making the image first unless the engine already has it."""
    if await asyncio.to_thread(image_exists, client, base.tag):
        return base.tag
    on_line(f"base image {base.tag}: waiting for the base image lock")
    async with file_lock(home / "docker" / f"base-{base.suite}-py{base.python}.lock"):
        if await asyncio.to_thread(image_exists, client, base.tag):
            return base.tag
        await _make(client, home, base, on_line)
    return base.tag


async def _make(client: Any, home: Path, base: BaseImage, on_line: LineSink) -> None:
    await _ensure_debootstrap(on_line)
    if os.geteuid() != 0:
        raise BuildFailed(
            f"cannot make the Docker base image {base.tag}: debootstrap must run as root. Make it once "
            "as root with `python -m services.builder.base_image`, then builds reuse it"
        )
    mirror = host_mirror(base.suite)
    work = home / "docker" / "tmp"
    work.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="base-", dir=work))
    rootfs = staging / "rootfs"
    try:
        on_line(f"base image {base.tag}: debootstrap {base.suite} from {mirror} (takes a few minutes)")
        await _run(debootstrap_argv(rootfs, mirror, base.suite), on_line, what="debootstrap")
        _trim(rootfs)
        tarball = staging / "rootfs.tar"
        on_line(f"base image {base.tag}: packing the file system")
        await _run(["tar", "-C", str(rootfs), "-cf", str(tarball), "."], on_line, what="tar")
        on_line(f"base image {base.tag}: docker import")
        repository, tag = base.tag.split(":", 1)
        await asyncio.to_thread(
            client.api.import_image_from_file,
            str(tarball),
            repository=repository,
            tag=tag,
            changes=list(IMPORT_CHANGES),
        )
        if not await asyncio.to_thread(image_exists, client, base.tag):
            raise BuildFailed(f"docker import did not produce {base.tag}")
        on_line(f"base image {base.tag}: ready")
    finally:
        await asyncio.to_thread(shutil.rmtree, staging, True)


def _trim(rootfs: Path) -> None:
    """Drops what an image never needs: downloaded .debs and apt package lists."""
    for pattern in ("var/cache/apt/archives/*.deb", "var/lib/apt/lists/*_Packages"):
        for path in rootfs.glob(pattern):
            path.unlink(missing_ok=True)


async def _ensure_debootstrap(on_line: LineSink) -> None:
    if shutil.which("debootstrap"):
        return
    if os.geteuid() != 0:
        raise BuildFailed(
            "cannot make the Docker base image: `debootstrap` is not installed and the builder is not "
            "root. Install it (`sudo apt-get install debootstrap`) and make the image once with "
            "`sudo python -m services.builder.base_image`"
        )
    on_line("base image: installing debootstrap with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    await _run(
        ["apt-get", "install", "-y", "debootstrap"], on_line, what="apt-get install debootstrap", env=env
    )


async def _run(argv: list[str], on_line: LineSink, *, what: str, env: dict[str, str] | None = None) -> None:
    result = await run_streaming(argv, on_line=on_line, env=env)
    if result.returncode != 0:
        raise BuildFailed(
            f"cannot make the Docker base image: {what} exited with {result.returncode}\n"
            + "\n".join(result.tail)
        )


def main(argv: list[str] | None = None) -> None:
    import argparse

    import docker

    from services.common import config

    parser = argparse.ArgumentParser(
        prog="python -m services.builder.base_image", description="Make the Docker base image locally"
    )
    parser.add_argument("--home", default=str(config.default_home()), help="state directory (env BERTH_HOME)")
    args = parser.parse_args(argv)
    client = docker.from_env()
    try:
        tag = asyncio.run(ensure(client, Path(args.home), on_line=lambda line: print(line, flush=True)))
    except BuildFailed as exc:
        raise SystemExit(exc.message) from None
    print(tag)


if __name__ == "__main__":
    main(sys.argv[1:])
