"""Version history of deployed apps: which versions are kept, what each is called, what a
rollback picks. Pure functions; services/scheduler/state.py stores the records.

Every deploy or rollback of a deployed (not `berth serve`) app keeps an AppVersionRecord under
`history.<app key>.<version>` in the apps bucket: its spec, bundle id and built images, who deployed
it and when. The last KEEP_VERSIONS versions of each app are kept; an older one's record is deleted,
and so is its bundle unless a kept version of any app still uses it. Built images are not pruned
here: the builder's cache is content-addressed and shared by every app.
"""

from __future__ import annotations

from collections.abc import Iterable

from berth.v1 import control_pb2, state_pb2

KEEP_VERSIONS = 20
PREFIX = "history."

SERVING = "serving"
REPLACED = "replaced"
STOPPED = "stopped"


class RollbackError(ValueError):
    """A rollback that cannot be done; the message says why and what to do."""


class VersionNotFoundError(RollbackError):
    pass


def key(app_key: str, version: int) -> str:
    """KV key of a kept version. App keys start with "live." or "dev.", so these never clash."""
    return f"{PREFIX}{app_key}.{version}"


def parse_key(kv_key: str) -> tuple[str, int] | None:
    """(app key, version) of a history key, None for any other key of the bucket."""
    if not kv_key.startswith(PREFIX):
        return None
    app_key, _, version = kv_key[len(PREFIX) :].rpartition(".")
    if not app_key or not version.isdigit():
        return None
    return app_key, int(version)


def to_prune(versions: Iterable[int], keep: int = KEEP_VERSIONS) -> list[int]:
    """The versions beyond the newest `keep`, oldest first. The serving version is always the
    newest (deploys and rollbacks both make a new number), so it is never among them."""
    ordered = sorted(versions)
    return ordered[: max(0, len(ordered) - max(1, keep))]


def unreferenced_bundles(
    dropped: Iterable[state_pb2.AppRecord], kept: Iterable[state_pb2.AppRecord]
) -> set[str]:
    """Bundles of `dropped` records that no `kept` record uses. Bundle ids are content hashes, so
    two versions (or two apps) with the same sources share one."""
    used = {record.bundle_id for record in kept}
    return {record.bundle_id for record in dropped if record.bundle_id and record.bundle_id not in used}


def state(entry: state_pb2.AppVersionRecord, serving_version: int) -> str:
    if entry.record.version == serving_version:
        return SERVING
    return STOPPED if entry.stopped_at_ms else REPLACED


def rollback_target(app: str, versions: Iterable[int], serving: int, requested: int) -> int:
    """The version a rollback serves again: `requested`, or the newest kept one before the
    serving one when `requested` is 0."""
    kept = sorted(versions)
    if requested:
        if requested == serving:
            raise RollbackError(f"version {requested} of {app!r} is already serving")
        if requested not in kept:
            raise VersionNotFoundError(f"app {app!r} has no version {requested}{_kept_note(app, kept)}")
        return requested
    earlier = [v for v in kept if v < serving]
    if not earlier:
        raise RollbackError(f"app {app!r} has no earlier version to roll back to{_kept_note(app, kept)}")
    return earlier[-1]


def _kept_note(app: str, kept: list[int]) -> str:
    shown = ", ".join(str(v) for v in kept) if kept else "none"
    return f" (kept: {shown}; see `berth app history {app}`)"


def summary(entry: state_pb2.AppVersionRecord, serving_version: int) -> control_pb2.AppVersion:
    record = entry.record
    return control_pb2.AppVersion(
        version=record.version,
        deployed_at_ms=record.deployed_at_ms,
        state=state(entry, serving_version),
        deployed_by=entry.deployed_by,
        images={name: image.image_id for name, image in record.images.items()},
        bundle_id=record.bundle_id,
        rollback_of=entry.rollback_of,
    )
