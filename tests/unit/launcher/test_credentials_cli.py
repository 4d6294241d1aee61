"""`python -m services.launcher.credentials`: the compose stack's seeds, nats.conf, keys and token."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from services.common import auth, credentials
from services.launcher import credentials as generator

ROLE_SEEDS = {f"{role}.nk" for role in credentials.ROLES}
OTHERS = {"nats.conf", "token.key", "secret.key", "api.token"}


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _contents(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in out.iterdir()}


def test_makes_every_file_private(tmp_path: Path) -> None:
    out = tmp_path / "credentials"
    report = generator.generate(out, ["a1"])
    assert {p.name for p in out.iterdir()} == ROLE_SEEDS | {"agent-a1.nk"} | OTHERS
    assert {what for what, _ in report} == {"made"}
    assert _mode(out) == 0o700
    assert all(_mode(p) == 0o600 for p in out.iterdir())


def test_keys_and_token_are_what_the_services_read(tmp_path: Path) -> None:
    generator.generate(tmp_path, ["a1"])
    assert len(auth.load_server_key(str(tmp_path / "token.key"))) == auth.SERVER_KEY_BYTES
    secret = (tmp_path / "secret.key").read_text()
    assert len(bytes.fromhex(secret)) == 32 and secret != (tmp_path / "token.key").read_text()
    assert (tmp_path / "api.token").read_text().startswith(auth.TOKEN_PREFIX)


def test_nats_conf_admits_exactly_the_seeds_and_listens_on_the_network(tmp_path: Path) -> None:
    generator.generate(tmp_path, ["a1"])
    conf = (tmp_path / "nats.conf").read_text()
    assert 'listen: "0.0.0.0:4222"' in conf
    seeds = sorted(tmp_path.glob("*.nk"))
    assert len(seeds) == len(credentials.ROLES) + 1
    for seed in seeds:
        assert f'nkey: "{credentials.public_key(seed)}"' in conf
        assert seed.read_text().strip() not in conf  # public keys only, never a seed
    assert conf.count("nkey:") == len(seeds)


def test_nats_server_accepts_the_config(tmp_path: Path) -> None:
    server = Path(sys.executable).parent / "nats-server"
    if not server.exists():
        pytest.skip("nats-server is not installed beside this interpreter")
    generator.generate(tmp_path, ["a1"])
    checked = subprocess.run(
        [str(server), "-t", "-c", str(tmp_path / "nats.conf")], capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0, checked.stderr


def test_running_again_keeps_everything(tmp_path: Path) -> None:
    generator.generate(tmp_path, ["a1"])
    before = _contents(tmp_path)
    report = generator.generate(tmp_path, ["a1"])
    assert {what for what, _ in report} == {"kept"}
    assert _contents(tmp_path) == before


def test_a_new_agent_is_added_and_admitted_beside_the_old(tmp_path: Path) -> None:
    generator.generate(tmp_path, ["a1"])
    before = _contents(tmp_path)
    report = dict((path.name, what) for what, path in generator.generate(tmp_path, ["b2"]))
    assert report["agent-b2.nk"] == "made" and report["nats.conf"] == "updated"
    after = _contents(tmp_path)
    assert {k: v for k, v in after.items() if k not in {"agent-b2.nk", "nats.conf"}} == {
        k: v for k, v in before.items() if k != "nats.conf"
    }
    conf = after["nats.conf"].decode()
    for agent in ("agent-a1.nk", "agent-b2.nk"):
        assert credentials.public_key(tmp_path / agent) in conf


def test_default_agent_matches_the_compose_default(tmp_path: Path) -> None:
    generator.generate(tmp_path)
    assert (tmp_path / f"agent-{generator.DEFAULT_AGENT_ID}.nk").exists()
    # Once a directory has an agent, running with no --agent-id adds none.
    other = tmp_path / "other"
    generator.generate(other, ["x"])
    generator.generate(other)
    assert sorted(p.name for p in other.glob("agent-*.nk")) == ["agent-x.nk"]


def test_main_prints_what_it_made_and_the_next_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert generator.main([str(tmp_path / "c"), "--agent-id", "a1", "--agent-id", "a2"]) == 0
    printed = capsys.readouterr().out
    assert "made" in printed and "agent-a2.nk" in printed and "api.token" in printed
    assert "docker-compose up -d" in printed


@pytest.mark.parametrize("bad", ["a.b", "a*", ">", "../x", "", "a b", "-a"])
def test_agent_ids_that_are_no_subject_token_or_file_name_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(SystemExit):
        generator.main([str(tmp_path / "c"), "--agent-id", bad])
    assert not (tmp_path / "c").exists()
