"""Reading container output back from the JetStream stream the agents publish into."""

from __future__ import annotations

from collections.abc import AsyncIterator

from nats.js import JetStreamContext, api
from nats.js.errors import NotFoundError

from berth.v1 import control_pb2
from services.common import subjects


async def read(js: JetStreamContext, app_key: str, *, follow: bool) -> AsyncIterator[control_pb2.LogLine]:
    subject = subjects.app_logs(app_key)
    last = 0
    if not follow:
        try:
            last = (await js.get_last_msg(subjects.LOG_STREAM, subject)).seq or 0
        except NotFoundError:
            return
    sub = await js.subscribe(subject, ordered_consumer=True, deliver_policy=api.DeliverPolicy.ALL)
    try:
        async for msg in sub.messages:
            yield control_pb2.LogLine.FromString(msg.data)
            if not follow and msg.metadata.sequence.stream >= last:
                return
    finally:
        await sub.unsubscribe()
