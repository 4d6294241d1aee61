"""Image steps a real app uses, on the Docker runtime: apt, shell commands, uv, a requirements
file, files at an absolute path, and `imports()` for packages only the image has."""

import json
import subprocess
from pathlib import Path

import berth

HERE = Path(__file__).parent

image = (
    berth.Image.debian_slim()
    .apt_install("jq")
    .run_commands("echo built-by-run-commands > /etc/berth-step.txt", "jq --version > /etc/jq-version.txt")
    .uv_pip_install("fastapi", "six")
    .pip_install_from_requirements(HERE / "requirements.txt")
    .add_local_dir(HERE / "assets", remote_path="/assets")
)

with image.imports():
    import six  # not installed where `berth deploy` runs: fine inside imports()

app = berth.App("image-steps")


@app.function(image=image)
@berth.fastapi_endpoint()
def probe():
    import pkg_resources
    import tomli_w

    selected = subprocess.run(
        ["jq", "-c", ".colours[1]", "/assets/data.json"], capture_output=True, text=True, check=True
    )
    return {
        "jq": json.loads(selected.stdout),
        "run_commands": Path("/etc/berth-step.txt").read_text().strip(),
        "six": six.__version__,
        "tomli_w": tomli_w.dumps({"a": 1}).strip(),
        "asset": Path("/assets/hello.txt").read_text().strip(),
        "pkg_resources": callable(pkg_resources.require),
    }
