"""What a client reads when the platform fails its request, and what the app's logs get."""

from __future__ import annotations

from typing import Any

from berth.v1 import control_pb2, state_pb2
from services.common import subjects
from services.edge.failures import REQUEST_ID_HEADER, Failure, Failures, summary

DETAIL = "the container failed to start: RuntimeError: db password rejected (at /srv/code/app.py:8)"


class Bus:
    is_closed = False

    def __init__(self) -> None:
        self.published: list[tuple[str, bytes]] = []

    async def publish(self, subject: str, data: bytes) -> None:
        self.published.append((subject, data))


def route(*, ephemeral: bool = False) -> state_pb2.Route:
    key = subjects.app_key("shop", ephemeral)
    return state_pb2.Route(host_label="local--shop-f", app=key, function="f", ephemeral=ephemeral)


async def answer(failures: Failures, r: state_pb2.Route | None, failure: Failure) -> dict[str, Any]:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await failures.answer(send, r, failure)
    return {
        "status": sent[0]["status"],
        "headers": dict(sent[0]["headers"]),
        "body": sent[1]["body"].decode(),
    }


def test_the_summary_is_the_first_clause_of_the_first_line() -> None:
    assert summary(DETAIL) == "the container failed to start"
    assert summary("the container exited with code 3 while handling requests") == (
        "the container exited with code 3 while handling requests"
    )
    assert summary("Traceback (most recent call last):\n  File ...") == "Traceback (most recent call last)"
    assert summary("") == "the request failed"
    assert len(summary("x" * 1000)) <= 90


async def test_a_deployed_apps_5xx_is_one_line_and_a_request_id_with_the_detail_in_its_logs() -> None:
    bus = Bus()
    got = await answer(Failures(bus, "edge-1"), route(), Failure(502, DETAIL))  # type: ignore[arg-type]
    rid = got["headers"][REQUEST_ID_HEADER].decode()
    assert got["status"] == 502
    assert got["body"] == f"the container failed to start (request id {rid})\n"
    assert "/srv" not in got["body"] and "RuntimeError" not in got["body"]
    [(subject, data)] = bus.published
    line = control_pb2.LogLine.FromString(data)
    assert subject == subjects.app_logs("live.shop")
    assert line.text == f"request {rid}: 502 {DETAIL}" and line.function == "f"


async def test_a_dev_apps_5xx_carries_the_detail() -> None:
    got = await answer(Failures(Bus(), "edge-1"), route(ephemeral=True), Failure(502, DETAIL))  # type: ignore[arg-type]
    assert DETAIL in got["body"] and REQUEST_ID_HEADER in got["headers"]


async def test_client_errors_say_everything_and_log_nothing() -> None:
    bus = Bus()
    got = await answer(Failures(bus, "edge-1"), route(), Failure(404, "no app is deployed at x: really"))  # type: ignore[arg-type]
    assert got["body"] == "no app is deployed at x: really\n"
    assert REQUEST_ID_HEADER not in got["headers"] and not bus.published


async def test_a_lost_log_never_fails_the_answer() -> None:
    class Broken(Bus):
        async def publish(self, subject: str, data: bytes) -> None:
            raise ConnectionError("bus gone")

    got = await answer(Failures(Broken(), "edge-1"), route(), Failure(503, DETAIL))  # type: ignore[arg-type]
    assert got["status"] == 503
