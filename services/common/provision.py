"""Creates the JetStream buckets and streams the platform keeps its state in.

Run by whoever holds the rights to create them: the launcher (as `admin`) before any service starts,
and the scheduler at its own start (compose, or a scheduler pointed at an empty server). Every other
service only binds to what exists, which its NATS permissions also demand.
"""

from __future__ import annotations

import dataclasses
import logging

from nats.js import JetStreamContext, api
from nats.js.errors import BucketNotFoundError, NotFoundError

from services.common import bus, config, logs, subjects

log = logging.getLogger("berth.provision")

LOG_MAX_AGE_SECONDS = 7 * 24 * 3600
LOG_MAX_BYTES = 1 << 30
# Log lines kept per app (each app has one subject, subjects.app_logs): past it an app's oldest
# lines go, so a chatty app cannot push the others' history out of the stream. A line is at most
# 1 MiB (services/agent/logs.py), so LOG_MAX_BYTES stays the bound on the stream's size. The
# stream counts messages, and an edge's message is a batch of access lines: readers cut history
# to this many lines (services/scheduler/logstream.py).
LOG_MAX_LINES_PER_APP = 10_000
CALL_RESULTS_MAX_AGE_SECONDS = 24 * 3600
CALL_RESULTS_MAX_BYTES = 256 << 20
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
    await _call_results(js)
    per_app = log_lines_per_app()
    try:
        info = await js.stream_info(subjects.LOG_STREAM)
    except NotFoundError:
        await js.add_stream(
            api.StreamConfig(
                name=subjects.LOG_STREAM,
                subjects=[subjects.LOG_SUBJECTS],
                max_age=LOG_MAX_AGE_SECONDS,
                max_bytes=LOG_MAX_BYTES,
                max_msgs_per_subject=per_app,
                storage=api.StorageType.FILE,
            )
        )
        return
    if info.config.max_msgs_per_subject != per_app:
        # A stream made before the cap (or with another one) takes the configured cap.
        try:
            await js.update_stream(dataclasses.replace(info.config, max_msgs_per_subject=per_app))
        except Exception as exc:  # noqa: BLE001 - the old cap keeps working; say so, do not fail start-up
            logs.event(log, "log retention not updated", logging.WARNING, error=exc)


async def _call_results(js: JetStreamContext) -> None:
    """Redirected calls' records (services/edge/call_records.py). In memory: responses are not
    written to disk, and losing them with the server costs only results still to be fetched. Each
    record carries its own TTL (the edge's BERTH_CALL_RESULT_TTL); the bucket's limits are the
    backstop: a day's age, CALL_RESULTS_MAX_BYTES in all (past it, new records are refused and
    the edge running a call keeps its result in memory only)."""
    try:
        await js.key_value(subjects.KV_CALL_RESULTS)
    except (BucketNotFoundError, NotFoundError):
        await js.create_key_value(
            bucket=subjects.KV_CALL_RESULTS,
            ttl=CALL_RESULTS_MAX_AGE_SECONDS,
            max_bytes=CALL_RESULTS_MAX_BYTES,
            storage=api.StorageType.MEMORY,
        )


def log_lines_per_app() -> int:
    """BERTH_LOG_MAX_LINES_PER_APP, else LOG_MAX_LINES_PER_APP; 0 or less means no per-app cap."""
    lines = config.env_int("BERTH_LOG_MAX_LINES_PER_APP", LOG_MAX_LINES_PER_APP)
    return lines if lines > 0 else -1
