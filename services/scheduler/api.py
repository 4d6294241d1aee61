"""The deploy API (gRPC `Control`): deploy, list, stop, logs, history and rollback, containers,
secrets, API and proxy-auth tokens."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
from nats.js import JetStreamContext
from nats.js.errors import ObjectNotFoundError
from nats.js.object_store import ObjectStore

from berth import _spec_rules as spec_rules
from berth.v1 import build_pb2, control_pb2, control_pb2_grpc, spec_pb2, state_pb2
from services.common import call_routes, logs, subjects, tracing
from services.common.auth import bearer, trace_context
from services.common.bundle_limits import BundleLimits, BundleRefused
from services.common.bundle_limits import check as check_bundle
from services.scheduler import containers, history, logstream, rollout, spec_checks, state, urls
from services.scheduler.assignment import Assigner
from services.scheduler.builds import BuilderClient
from services.scheduler.containers import ContainerAges
from services.scheduler.proxy_auth import ProxyAuthError, ProxyAuthNotFoundError, ProxyAuthStore
from services.scheduler.secrets import SecretError, SecretStore
from services.scheduler.state import AppStore
from services.scheduler.tokens import (
    TokenError,
    TokenExistsError,
    TokenNotFoundError,
    TokenProtectedError,
    TokenStore,
)

_APP_NAME_MAX = 64

log = logging.getLogger("berth.scheduler")


@dataclass(frozen=True)
class UrlConfig:
    workspace: str
    domain: str
    port: int


class ControlService(control_pb2_grpc.ControlServicer):
    def __init__(
        self,
        store: AppStore,
        assigner: Assigner,
        builder: BuilderClient,
        bundles: ObjectStore,
        js: JetStreamContext,
        url_config: UrlConfig,
        runtime: str,
        secrets: SecretStore,
        tokens: TokenStore,
        proxy_auth: ProxyAuthStore,
        container_ages: ContainerAges | None = None,
    ) -> None:
        self._store = store
        self._assigner = assigner
        self._builder = builder
        self._bundles = bundles
        self._js = js
        self._urls = url_config
        self._runtime = runtime
        self._secrets = secrets
        self._tokens = tokens
        self._proxy_auth = proxy_auth
        self._ages = container_ages or ContainerAges()
        self._bundle_limits = BundleLimits.from_env()
        self._tracer = tracing.setup("scheduler")

    async def Deploy(  # noqa: N802 - gRPC method name
        self, request: control_pb2.DeployRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[control_pb2.DeployEvent]:
        spec = request.app
        with self._tracer.start_as_current_span("scheduler.deploy", context=trace_context(context)):
            name = urls.normalize(spec.name)
            if not name or len(name) > _APP_NAME_MAX:
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"app name {spec.name!r} must have 1-{_APP_NAME_MAX} letters, digits or dashes",
                )
            key = subjects.app_key(name, request.ephemeral)
            try:
                # Whole: a stranger's zip, decompressed to count what it really holds, off the loop.
                await asyncio.to_thread(check_bundle, request.bundle, self._bundle_limits)
            except BundleRefused as exc:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"bundle refused: {exc}")
            try:
                spec_checks.check(spec, runtime=self._runtime)
                # Defaults become values once, here: the record, the routes and every boot order
                # carry them, so no reader re-defaults (berth._spec_rules).
                spec_rules.resolve_app(spec)
                routes = self._web_routes(name, spec, request.ephemeral)
            except spec_checks.SpecError as exc:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            except spec_checks.UnsupportedHere as exc:
                await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
            for note in spec_checks.notes(spec, ephemeral=request.ephemeral):
                yield control_pb2.DeployEvent(log_line=note)
            web = list(spec.functions)  # every function gets containers: web ones and callable ones
            await self._check_servable(context, key, routes, web, "")
            images: dict[str, build_pb2.BuiltImage] = {}
            built: dict[bytes, build_pb2.BuiltImage] = {}
            for function in web:
                blob = function.image.SerializeToString(deterministic=True)
                if blob not in built:
                    try:
                        async for event in self._builder.build(function.image, self._runtime):
                            if event.HasField("image"):
                                built[blob] = event.image
                                yield control_pb2.DeployEvent(
                                    image=control_pb2.ImageReady(
                                        image_id=event.image.image_id,
                                        cache_hit=event.image.cache_hit,
                                        installed=event.image.installed,
                                    )
                                )
                            elif event.HasField("detail_line"):
                                yield control_pb2.DeployEvent(detail_line=event.detail_line)
                            else:
                                yield control_pb2.DeployEvent(log_line=event.log_line)
                    except grpc.aio.AioRpcError as exc:
                        code = exc.code()
                        if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAUTHENTICATED):
                            await context.abort(
                                grpc.StatusCode.UNAVAILABLE, f"the builder is unreachable: {exc.details()}"
                            )
                        await context.abort(code, exc.details() or "image build failed")
                images[function.name] = built[blob]
            bundle_id = hashlib.sha256(request.bundle).hexdigest()
            await self._bundles.put(bundle_id, request.bundle)
            version = self._store.next_version(key)
            for route in routes:
                route.version = version
            record = state_pb2.AppRecord(
                spec=spec,
                version=version,
                bundle_id=bundle_id,
                images=images,
                ephemeral=request.ephemeral,
                deployed_at_ms=int(time.time() * 1000),
                urls=self._function_urls(routes),
            )
            record.spec.name = name
            # Warm, then move the routes, then drain the old version (rollout.py).
            rolling = rollout.Rollout(self._store, self._assigner, key, record)
            try:
                async for line in rolling.warm():
                    yield control_pb2.DeployEvent(log_line=line)
                unused = await self._store.publish(
                    key, record, routes, deployed_by=await self._caller(context)
                )
                rolling.moved(reason=f"replaced by version {version}")
            except rollout.RolloutFailed as exc:
                await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
            except state.RouteTaken as exc:  # claimed by a deploy that finished while this one built
                await context.abort(grpc.StatusCode.ALREADY_EXISTS, str(exc))
            finally:
                rolling.close()  # a version that did not move: its warmed containers stop
            await self._delete_bundles(unused)
            yield control_pb2.DeployEvent(
                result=control_pb2.DeployResult(app=name, version=version, urls=record.urls)
            )

    def _route(self, app: str, function: spec_pb2.FunctionSpec, ephemeral: bool) -> state_pb2.Route:
        label = urls.host_label(
            workspace=self._urls.workspace,
            app=app,
            function=function.name,
            label=function.web.label,
            ephemeral=ephemeral,
        )
        return state_pb2.Route(
            host_label=label,
            app=subjects.app_key(app, ephemeral),
            function=function.name,
            ephemeral=ephemeral,
            parameters=function.parameters,
            requires_proxy_auth=function.web.requires_proxy_auth,
            timeout=spec_rules.timeout(function.scaling),
            workspace=urls.normalize(self._urls.workspace),
        )

    async def _check_servable(
        self,
        context: grpc.aio.ServicerContext,
        key: str,
        routes: list[state_pb2.Route],
        web: list[spec_pb2.FunctionSpec],
        what: str,
    ) -> None:
        """Aborts unless `routes` are free for app `key` and every secret `web` names exists.
        `what` names the version for a rollback ("version 3"), "" for a deploy."""
        for route in routes:
            owner = await self._store.route_owner(route.host_label)
            if owner is not None and owner.app != key:
                taken = state.taken_message(route.host_label, owner)
                await context.abort(
                    grpc.StatusCode.ALREADY_EXISTS, f"{what} cannot serve again: {taken}" if what else taken
                )
        for function in web:
            for secret in function.secret_names:
                if not await self._secrets.exists(secret):
                    used_by = f"{function.name} in {what}" if what else function.name
                    await context.abort(
                        grpc.StatusCode.FAILED_PRECONDITION,
                        f"secret {secret!r} (used by {used_by}) not found: "
                        f"create it with `berth secret create {secret} KEY=VALUE`",
                    )

    def _web_routes(self, app: str, spec: spec_pb2.AppSpec, ephemeral: bool) -> list[state_pb2.Route]:
        """A route per web function under its label, and one per custom domain it claims (keyed by
        the domain, otherwise the same). `berth serve` claims no domains: the deployed app keeps
        them. SpecError for a domain that cannot be one."""
        domains = spec_checks.custom_domains(spec, base_domain=self._urls.domain)
        routes = []
        for function in spec.functions:
            # Every function, web or not, is callable: the edge finds it under its call key.
            call = self._route(app, function, ephemeral)
            call.host_label = call_routes.key(subjects.app_key(app, ephemeral), function.name)
            call.requires_proxy_auth = False  # calls carry an API token instead
            routes.append(call)
            if function.web.kind == spec_pb2.WEB_KIND_UNSPECIFIED:
                continue
            route = self._route(app, function, ephemeral)
            routes.append(route)
            for domain in [] if ephemeral else domains.get(function.name, []):
                claim = state_pb2.Route()
                claim.CopyFrom(route)
                claim.host_label = domain
                routes.append(claim)
        return routes

    def _function_urls(self, routes: list[state_pb2.Route]) -> list[control_pb2.FunctionUrl]:
        """One per function, from its label's route, with the custom domains routed to it."""
        routes = [r for r in routes if not call_routes.is_call_key(r.host_label)]
        found = [self._function_url(r) for r in routes if "." not in r.host_label]
        by_function = {u.function: u for u in found}
        for route in routes:
            if "." in route.host_label:  # a custom domain: labels never hold a dot
                by_function[route.function].custom_domains.append(route.host_label)
        return found

    def _function_url(self, route: state_pb2.Route) -> control_pb2.FunctionUrl:
        return control_pb2.FunctionUrl(
            function=route.function,
            url=urls.url(route.host_label, domain=self._urls.domain, port=self._urls.port),
        )

    async def ListApps(  # noqa: N802
        self, request: control_pb2.ListAppsRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.ListAppsResponse:
        apps = []
        for key, record in sorted(self._store.records.items()):
            failing = self._assigner.failing_functions(key)  # crash-looping functions (backoff.py)
            apps.append(
                control_pb2.AppSummary(
                    name=record.spec.name,
                    version=record.version,
                    state="failing" if failing else "deployed" if not record.ephemeral else "serving",
                    ephemeral=record.ephemeral,
                    urls=record.urls,
                    containers=len(self._assigner.containers_of(key)),
                    deployed_at_ms=record.deployed_at_ms,
                    failing=failing,
                )
            )
        if request.include_stopped:  # stopped apps live on in their kept history only
            for key, newest in sorted(self._store.newest_kept().items()):
                if key not in self._store.records:
                    apps.append(
                        control_pb2.AppSummary(
                            name=newest.record.spec.name,
                            version=newest.record.version,
                            state=history.STOPPED,
                            containers=len(self._assigner.containers_of(key)),
                            deployed_at_ms=newest.record.deployed_at_ms,
                        )
                    )
        return control_pb2.ListAppsResponse(apps=apps, unisolated_agents=self._assigner.agents.unisolated())

    async def StopApp(  # noqa: N802
        self, request: control_pb2.StopAppRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.StopAppResponse:
        key = subjects.app_key(urls.normalize(request.name), request.ephemeral)
        record = await self._store.remove(key)
        if record is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"app {request.name!r} is not deployed")
        self._assigner.retire(key, reason="app stopped")
        return control_pb2.StopAppResponse()

    async def AppLogs(  # noqa: N802
        self, request: control_pb2.AppLogsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[control_pb2.LogLine]:
        name = urls.normalize(request.name)
        # A name only `berth serve` runs means the served app: logs work for both kinds.
        candidates = [request.ephemeral] if request.ephemeral else [False, True]
        key = ""
        for ephemeral in candidates:
            if await self._has_logs(subjects.app_key(name, ephemeral)):
                key = subjects.app_key(name, ephemeral)
                break
        if not key:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"app {request.name!r} is not deployed")
        where = logstream.Filter.of(request)
        async for line in logstream.read(self._js, key, follow=request.follow, where=where):
            yield line

    async def _has_logs(self, key: str) -> bool:
        """Whether `key` is an app now, or was one: stopped apps keep their history."""
        if self._store.get(key) is not None or self._assigner.containers_of(key):
            return True
        try:
            await self._js.get_last_msg(subjects.LOG_STREAM, subjects.app_logs(key))
        except Exception:  # noqa: BLE001 - nats-py raises NotFoundError here
            return False
        return True

    async def AppHistory(  # noqa: N802
        self, request: control_pb2.AppHistoryRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.AppHistoryResponse:
        key = subjects.app_key(urls.normalize(request.name), False)
        kept = self._store.versions(key)
        if not kept:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"app {request.name!r} has no deployed versions")
        current = self._store.get(key)
        serving = current.version if current is not None else 0
        return control_pb2.AppHistoryResponse(
            versions=[history.summary(kept[v], serving) for v in sorted(kept, reverse=True)]
        )

    async def RollbackApp(  # noqa: N802
        self, request: control_pb2.RollbackAppRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.RollbackAppResponse:
        with self._tracer.start_as_current_span("scheduler.rollback", context=trace_context(context)):
            name = urls.normalize(request.name)
            key = subjects.app_key(name, False)
            kept = self._store.versions(key)
            current = self._store.get(key)
            if current is None:
                if not kept:
                    await context.abort(grpc.StatusCode.NOT_FOUND, f"app {request.name!r} is not deployed")
                await context.abort(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"app {name!r} is stopped: deploy it again before rolling it back",
                )
                return control_pb2.RollbackAppResponse()  # not reached (abort raises); narrows for mypy
            try:
                target = history.rollback_target(name, kept, current.version, request.version)
            except history.VersionNotFoundError as exc:
                await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
            except history.RollbackError as exc:
                await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
            source = kept[target].record
            # The same checks a deploy makes: since that version served, another app may have
            # taken one of its host names, or a secret it names may have been deleted.
            web = list(source.spec.functions)
            try:
                routes = self._web_routes(name, source.spec, False)
            except spec_checks.SpecError as exc:  # e.g. the platform's domain changed since
                await context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"version {target}: {exc}")
            await self._check_servable(context, key, routes, web, f"version {target}")
            try:
                await self._bundles.get_info(source.bundle_id)
            except ObjectNotFoundError:
                await context.abort(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"the sources of version {target} are no longer stored; deploy them instead",
                )
            version = self._store.next_version(key)
            for route in routes:
                route.version = version
            # No build: the kept record names the images built for that version.
            record = state_pb2.AppRecord()
            record.CopyFrom(source)
            record.version = version
            record.deployed_at_ms = int(time.time() * 1000)
            record.stopped = False
            del record.urls[:]
            record.urls.extend(self._function_urls(routes))
            # The same rollout as a deploy's: warm, move, drain (rollout.py).
            rolling = rollout.Rollout(self._store, self._assigner, key, record)
            try:
                async for _ in rolling.warm():
                    pass  # a unary call: progress lines have nowhere to go
                unused = await self._store.publish(
                    key, record, routes, deployed_by=await self._caller(context), rollback_of=target
                )
                rolling.moved(reason=f"replaced by version {version} (rollback to {target})")
            except rollout.RolloutFailed as exc:
                await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
            except state.RouteTaken as exc:  # claimed by a deploy that finished meanwhile
                await context.abort(
                    grpc.StatusCode.ALREADY_EXISTS, f"version {target} cannot serve again: {exc}"
                )
            finally:
                rolling.close()
            await self._delete_bundles(unused)
            return control_pb2.RollbackAppResponse(
                app=name, version=version, rollback_of=target, urls=record.urls
            )

    async def ListContainers(  # noqa: N802
        self, request: control_pb2.ListContainersRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.ListContainersResponse:
        name = urls.normalize(request.app) if request.app else ""
        rows = containers.summaries(self._assigner.pools.values(), self._ages, app=name)
        if request.app and not rows:
            known = any(self._store.get(subjects.app_key(name, dev)) for dev in (False, True))
            if not known:
                await context.abort(grpc.StatusCode.NOT_FOUND, f"app {request.app!r} is not deployed")
        return control_pb2.ListContainersResponse(containers=rows)

    async def StopContainer(  # noqa: N802
        self, request: control_pb2.StopContainerRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.StopContainerResponse:
        found = containers.find(self._assigner.pools.values(), request.container_id)
        if found is None:
            await context.abort(
                grpc.StatusCode.NOT_FOUND,
                f"no container {request.container_id!r} is running (see `berth container list`)",
            )
            return control_pb2.StopContainerResponse()  # not reached (abort raises); narrows for mypy
        pool, container = found
        # As on a redeploy: the edge's lease is revoked, requests in flight finish, then it stops.
        self._assigner.drain(pool, container, "stopped with `berth container stop`")
        app, _ = containers.app_name(pool.key.app)
        return control_pb2.StopContainerResponse(app=app, function=pool.key.function)

    async def LookupFunction(  # noqa: N802
        self, request: control_pb2.LookupFunctionRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.LookupFunctionResponse:
        name = urls.normalize(request.app)
        key = subjects.app_key(name, request.dev)
        record = self._store.get(key) if name else None
        if record is None:
            other = self._store.get(subjects.app_key(name, not request.dev)) if name else None
            kind = "served (`berth serve`)" if request.dev else "deployed"
            hint = ""
            if other is not None:
                hint = "; it is deployed" if request.dev else "; only a `berth serve` copy of it runs"
            await context.abort(grpc.StatusCode.NOT_FOUND, f"app {request.app!r} is not {kind}{hint}")
            return control_pb2.LookupFunctionResponse()  # not reached (abort raises); narrows for mypy
        function = next((f for f in record.spec.functions if f.name == request.function), None)
        if function is None:
            names = ", ".join(sorted(f.name for f in record.spec.functions)) or "none"
            await context.abort(
                grpc.StatusCode.NOT_FOUND,
                f"app {name!r} has no function {request.function!r} (its functions: {names})",
            )
            return control_pb2.LookupFunctionResponse()
        url = next((u.url for u in record.urls if u.function == function.name), "")
        return control_pb2.LookupFunctionResponse(
            app=name,
            function=function.name,
            dev=request.dev,
            version=record.version,
            parameters=function.parameters,
            web_url=url,
            generator=function.generator,
        )

    async def _caller(self, context: grpc.aio.ServicerContext) -> str:
        """Name of the API token the call came with (the interceptor has verified it)."""
        return await self._tokens.name_of(bearer(context.invocation_metadata()))

    async def _delete_bundles(self, bundle_ids: set[str]) -> None:
        """Bundles only pruned versions used. A failure leaves one behind, never fails the call."""
        for bundle_id in sorted(bundle_ids):
            try:
                await self._bundles.delete(bundle_id)
            except Exception as exc:  # noqa: BLE001 - e.g. already gone
                logs.event(log, "bundle prune failed", logging.WARNING, bundle=bundle_id[:12], error=exc)

    async def CreateSecret(  # noqa: N802
        self, request: control_pb2.CreateSecretRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.CreateSecretResponse:
        try:
            await self._secrets.create(request.name, dict(request.values), force=request.force)
        except FileExistsError as exc:
            await context.abort(grpc.StatusCode.ALREADY_EXISTS, str(exc))
        except SecretError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return control_pb2.CreateSecretResponse()

    async def ListSecrets(  # noqa: N802
        self, request: control_pb2.ListSecretsRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.ListSecretsResponse:
        return control_pb2.ListSecretsResponse(secrets=await self._secrets.summaries())

    async def DeleteSecret(  # noqa: N802
        self, request: control_pb2.DeleteSecretRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.DeleteSecretResponse:
        try:
            await self._secrets.delete(request.name)
        except SecretError as exc:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        return control_pb2.DeleteSecretResponse()

    async def CreateToken(  # noqa: N802
        self, request: control_pb2.CreateTokenRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.CreateTokenResponse:
        try:
            token = await self._tokens.create(request.name)
        except TokenExistsError as exc:
            await context.abort(grpc.StatusCode.ALREADY_EXISTS, str(exc))
        except TokenError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return control_pb2.CreateTokenResponse(token=token)

    async def ListTokens(  # noqa: N802
        self, request: control_pb2.ListTokensRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.ListTokensResponse:
        return control_pb2.ListTokensResponse(tokens=await self._tokens.summaries())

    async def RevokeToken(  # noqa: N802
        self, request: control_pb2.RevokeTokenRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.RevokeTokenResponse:
        try:
            await self._tokens.revoke(request.name)
        except TokenNotFoundError as exc:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        except TokenProtectedError as exc:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
        return control_pb2.RevokeTokenResponse()

    async def CreateProxyAuthToken(  # noqa: N802
        self, request: control_pb2.CreateProxyAuthTokenRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.CreateProxyAuthTokenResponse:
        try:
            key, secret = await self._proxy_auth.create(request.name)
        except ProxyAuthError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return control_pb2.CreateProxyAuthTokenResponse(key=key, secret=secret, name=request.name)

    async def ListProxyAuthTokens(  # noqa: N802
        self, request: control_pb2.ListProxyAuthTokensRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.ListProxyAuthTokensResponse:
        return control_pb2.ListProxyAuthTokensResponse(tokens=await self._proxy_auth.summaries())

    async def RevokeProxyAuthToken(  # noqa: N802
        self, request: control_pb2.RevokeProxyAuthTokenRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.RevokeProxyAuthTokenResponse:
        try:
            await self._proxy_auth.revoke(request.key)
        except ProxyAuthNotFoundError as exc:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        return control_pb2.RevokeProxyAuthTokenResponse()
