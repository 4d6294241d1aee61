"""The deploy API (gRPC `Control`): deploy, list, stop, logs, secrets, API and proxy-auth tokens."""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
from nats.js import JetStreamContext
from nats.js.object_store import ObjectStore

from berth.v1 import build_pb2, control_pb2, control_pb2_grpc, spec_pb2
from services.common import subjects, tracing
from services.common.auth import trace_context
from services.scheduler import logstream, urls
from services.scheduler.assignment import Assigner
from services.scheduler.builds import BuilderClient
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
            web = [f for f in spec.functions if f.web.kind != spec_pb2.WEB_KIND_UNSPECIFIED]
            routes = [self._route(name, f, request.ephemeral) for f in web]
            for route in routes:
                owner = await self._store.route_owner(route.host_label)
                if owner is not None and owner.app != key:
                    await context.abort(
                        grpc.StatusCode.ALREADY_EXISTS,
                        f"{route.host_label} is already used by app {owner.app.split('.', 1)[1]!r} "
                        f"(function {owner.function}); choose another label",
                    )
            for function in web:
                for secret in function.secret_names:
                    if not await self._secrets.exists(secret):
                        await context.abort(
                            grpc.StatusCode.FAILED_PRECONDITION,
                            f"secret {secret!r} (used by {function.name}) not found: "
                            f"create it with `berth secret create {secret} KEY=VALUE`",
                        )
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
            record = control_pb2.AppRecord(
                spec=spec,
                version=version,
                bundle_id=bundle_id,
                images=images,
                ephemeral=request.ephemeral,
                deployed_at_ms=int(time.time() * 1000),
                urls=[self._function_url(r) for r in routes],
            )
            record.spec.name = name
            await self._store.publish(key, record, routes)
            self._assigner.retire(key, keep_version=version, reason=f"replaced by version {version}")
            self._assigner.warm(record)
            yield control_pb2.DeployEvent(
                result=control_pb2.DeployResult(app=name, version=version, urls=record.urls)
            )

    def _route(self, app: str, function: spec_pb2.FunctionSpec, ephemeral: bool) -> control_pb2.Route:
        label = urls.host_label(
            workspace=self._urls.workspace,
            app=app,
            function=function.name,
            label=function.web.label,
            ephemeral=ephemeral,
        )
        return control_pb2.Route(
            host_label=label,
            app=subjects.app_key(app, ephemeral),
            function=function.name,
            ephemeral=ephemeral,
            parameters=function.parameters,
            requires_proxy_auth=function.web.requires_proxy_auth,
            timeout=function.scaling.timeout or 300.0,
            workspace=urls.normalize(self._urls.workspace),
        )

    def _function_url(self, route: control_pb2.Route) -> control_pb2.FunctionUrl:
        return control_pb2.FunctionUrl(
            function=route.function,
            url=urls.url(route.host_label, domain=self._urls.domain, port=self._urls.port),
        )

    async def ListApps(  # noqa: N802
        self, request: control_pb2.ListAppsRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.ListAppsResponse:
        apps = []
        for key, record in sorted(self._store.records.items()):
            apps.append(
                control_pb2.AppSummary(
                    name=record.spec.name,
                    version=record.version,
                    state="deployed" if not record.ephemeral else "serving",
                    ephemeral=record.ephemeral,
                    urls=record.urls,
                    containers=len(self._assigner.containers_of(key)),
                    deployed_at_ms=record.deployed_at_ms,
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
        key = subjects.app_key(urls.normalize(request.name), request.ephemeral)
        if self._store.get(key) is None and not self._assigner.containers_of(key):
            # Stopped apps keep their history; only a name never seen is an error.
            try:
                await self._js.get_last_msg(subjects.LOG_STREAM, subjects.app_logs(key))
            except Exception:  # noqa: BLE001 - nats-py raises NotFoundError here
                await context.abort(grpc.StatusCode.NOT_FOUND, f"app {request.name!r} is not deployed")
        async for line in logstream.read(self._js, key, follow=request.follow):
            yield line

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
