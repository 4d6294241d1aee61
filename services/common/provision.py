"""Creates the JetStream buckets and streams the platform keeps its state in.

Run by whoever holds the rights to create them: the launcher (as `admin`) before any service starts,
and the scheduler at its own start (compose, or a scheduler pointed at an empty server). Every other
service only binds to what exists, which its NATS permissions also demand.
"""

from __future__ import annotations

from nats.js import JetStreamContext, api
from nats.js.errors import NotFoundError

from services.common import bus, subjects

LOG_MAX_AGE_SECONDS = 7 * 24 * 3600
LOG_MAX_BYTES = 1 << 30
KV_BUCKETS = (
    subjects.KV_APPS,
    subjects.KV_ROUTES,
    subjects.KV_SECRETS,
    subjects.KV_TOKENS,
    subjects.KV_PROXY_AUTH,
)


async def ensure_state(js: JetStreamContext) -> None:
    for bucket in KV_BUCKETS:
        await bus.key_value(js, bucket)
    await bus.object_store(js, subjects.OBJ_BUNDLES)
    try:
        await js.stream_info(subjects.LOG_STREAM)
    except NotFoundError:
        await js.add_stream(
            api.StreamConfig(
                name=subjects.LOG_STREAM,
                subjects=[subjects.LOG_SUBJECTS],
                max_age=LOG_MAX_AGE_SECONDS,
                max_bytes=LOG_MAX_BYTES,
                storage=api.StorageType.FILE,
            )
        )
