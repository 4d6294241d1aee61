"""`berth`: deploy and run web endpoints on your own machines."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from berth._errors import Error
from berth.cli.config import home


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="berth", description=__doc__)
    parser.add_argument("--version", action="version", version=f"berth {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = commands.add_parser("up", help="start the whole platform on this machine")
    up.add_argument(
        "--port", type=int, default=8000, help="edge HTTP port (default 8000; 0 picks a free one)"
    )
    up.add_argument(
        "--home", type=Path, default=None, help="state directory (env BERTH_HOME, default ~/.berth)"
    )
    up.add_argument(
        "--rate-limit",
        type=float,
        default=None,
        metavar="N",
        help="requests/s per workspace at the edge, bursts of 5 s worth; beyond: 429 "
        "(env BERTH_RATE_LIMIT; default off)",
    )
    up.add_argument(
        "--max-parameter-sets",
        type=int,
        default=None,
        metavar="N",
        help="live container pools (distinct parameter values) per function of a parametrized class; "
        "a new set beyond: 429 (env BERTH_MAX_PARAMETER_SETS; default 16; 0: no cap)",
    )
    up.add_argument(
        "--redirect-after",
        type=float,
        default=None,
        metavar="S",
        help="seconds before a web request still running is answered 303 to wait for its result "
        "(env BERTH_REDIRECT_AFTER; default 150; 0: never)",
    )
    up.add_argument(
        "--agents",
        type=int,
        default=None,
        metavar="N",
        help="worker agents to run on this machine, each with its own id, bus identity and state "
        "(env BERTH_AGENTS; default 1)",
    )

    up.add_argument(
        "--container-calls",
        choices=("own-app", "any"),
        default=None,
        help="which functions code in a container may call: its own app's (own-app), or any app's "
        "(any: then one app's code can run code in another app's containers, with its secrets) "
        "(env BERTH_CONTAINER_CALLS; default own-app)",
    )

    deploy = commands.add_parser("deploy", help="deploy an app file and print its URLs")
    deploy.add_argument("file", type=Path)
    deploy.add_argument("--name", default=None, help="app name when the file's App() has none")
    # `berth serve` deploys through this: an ephemeral app with -dev URLs.
    deploy.add_argument("--dev", action="store_true", help=argparse.SUPPRESS)
    deploy.add_argument(
        "-v", "--verbose", action="store_true", help="show every package the build installs, not a summary"
    )

    serve = commands.add_parser("serve", help="run an app with -dev URLs, redeploying on every save")
    serve.add_argument("file", type=Path)
    serve.add_argument("--name", default=None, help="app name when the file's App() has none")

    run = commands.add_parser(
        "run",
        help="run an app's local entrypoint (or one function) against an ephemeral copy of the app",
        description="Deploys an ephemeral copy of the app, runs its @app.local_entrypoint() here (or "
        "calls FILE::FUNCTION remotely and prints the result), then stops the copy. The entrypoint's "
        "parameters are options: --x 1, --flag/--no-flag.",
    )
    run.add_argument("target", metavar="FILE[::NAME]", help="the app file, and which entrypoint or function")
    run.add_argument(
        "args",
        nargs=argparse.REMAINDER,
        metavar="--PARAM VALUE",
        help="the entrypoint's or function's parameters",
    )

    app = commands.add_parser("app", help="manage deployed apps")
    app_commands = app.add_subparsers(dest="app_command", required=True, metavar="SUBCOMMAND")
    app_list = app_commands.add_parser("list", help="list apps")
    app_list.add_argument("-a", "--all", action="store_true", help="stopped apps too (state stopped)")
    app_list.add_argument("--json", action="store_true", help="print JSON instead of a table")
    stop = app_commands.add_parser("stop", help="stop an app: its URLs answer 404, its containers end")
    stop.add_argument("name")
    logs = app_commands.add_parser("logs", help="show the output of an app's containers")
    logs.add_argument("name")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new output")
    logs.add_argument("--function", default="", metavar="F", help="only function F's lines")
    logs.add_argument("--since", default="", metavar="AGE|TIME", help="only lines since, e.g. 10m, 2h")
    logs.add_argument(
        "--tail", type=int, default=0, metavar="N", help="only the last N lines (then new ones)"
    )
    logs.add_argument("--served", action="store_true", help="the `berth serve` app, when both exist")
    app_history = app_commands.add_parser("history", help="list an app's kept versions (the last 20)")
    app_history.add_argument("name")
    app_history.add_argument("--json", action="store_true", help="print JSON instead of a table")
    rollback = app_commands.add_parser(
        "rollback", help="serve an earlier version's code and image again, as a new version (no build)"
    )
    rollback.add_argument("name")
    rollback.add_argument("version", nargs="?", default="", help="e.g. 3 or v3 (default: the previous one)")

    container = commands.add_parser("container", help="see and stop the containers that run apps")
    container_commands = container.add_subparsers(
        dest="container_command", required=True, metavar="SUBCOMMAND"
    )
    container_list = container_commands.add_parser("list", help="list containers, of one app or all")
    container_list.add_argument("app", nargs="?", default="")
    container_list.add_argument("--json", action="store_true", help="print JSON instead of a table")
    container_stop = container_commands.add_parser(
        "stop", help="stop a container once its requests finish; another boots on demand"
    )
    container_stop.add_argument("id")

    secret = commands.add_parser("secret", help="manage secrets (environment variables for functions)")
    secret_commands = secret.add_subparsers(dest="secret_command", required=True, metavar="SUBCOMMAND")
    create = secret_commands.add_parser("create", help="create a secret from KEY=VALUE pairs")
    create.add_argument("name")
    create.add_argument(
        "pairs",
        nargs="*",
        metavar="KEY=VALUE|KEY",
        help="a value; a bare KEY takes its value from stdin (asked for, unechoed, on a terminal)",
    )
    create.add_argument(
        "--from-dotenv",
        action="append",
        default=[],
        metavar="FILE",
        help="KEY=VALUE lines of a .env file (-: stdin)",
    )
    create.add_argument(
        "--from-json",
        action="append",
        default=[],
        metavar="FILE",
        help='a JSON object {"KEY": "value"} (-: stdin)',
    )
    create.add_argument("--force", action="store_true", help="replace an existing secret of that name")
    secret_list = secret_commands.add_parser("list", help="list secrets (names and keys, never values)")
    secret_list.add_argument("--json", action="store_true", help="print JSON instead of a table")
    delete = secret_commands.add_parser("delete", help="delete a secret")
    delete.add_argument("name")

    token = commands.add_parser("token", help="manage API tokens (who may use the deploy API)")
    token_commands = token.add_subparsers(dest="token_command", required=True, metavar="SUBCOMMAND")
    token_create = token_commands.add_parser("create", help="create a token and print it (only this once)")
    token_create.add_argument("name")
    token_list = token_commands.add_parser("list", help="list tokens (names and times, never the tokens)")
    token_list.add_argument("--json", action="store_true", help="print JSON instead of a table")
    revoke = token_commands.add_parser("revoke", help="revoke a token: refused everywhere within seconds")
    revoke.add_argument("name")

    proxy = commands.add_parser(
        "proxy-auth", help="manage proxy-auth tokens (for functions with requires_proxy_auth=True)"
    )
    proxy_commands = proxy.add_subparsers(dest="proxy_command", required=True, metavar="SUBCOMMAND")
    proxy_create = proxy_commands.add_parser(
        "create", help="create a token and print its key and secret (the secret only this once)"
    )
    proxy_create.add_argument("name", nargs="?", default="", help="an optional label")
    proxy_create.add_argument("--json", action="store_true", help='print {"key": ..., "secret": ...}')
    proxy_list = proxy_commands.add_parser("list", help="list tokens (keys, names, creation; never secrets)")
    proxy_list.add_argument("--json", action="store_true", help="print JSON instead of a table")
    proxy_revoke = proxy_commands.add_parser("revoke", help="revoke: every edge refuses it within seconds")
    proxy_revoke.add_argument("key")

    login = commands.add_parser(
        "login", help="use a platform started elsewhere: write this machine's client config"
    )
    login.add_argument("--server", required=True, metavar="HOST:PORT", help="the deploy API's address")
    login.add_argument("--token", required=True, metavar="T", help="an API token (-: read it from stdin)")
    login.add_argument("--edge", default="", metavar="URL", help="the edge's URL, e.g. http://localhost:8000")
    login.add_argument("--ca-file", default="", metavar="FILE", help="speak TLS to the API, trusting this CA")
    login.add_argument(
        "--home", type=Path, default=None, help="where to write (env BERTH_HOME, default ~/.berth)"
    )

    completion = commands.add_parser("completion", help="print a shell completion script")
    completion.add_argument("shell", choices=("bash", "zsh"))
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("berth")
    except PackageNotFoundError:  # run from a checkout without installing
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    """The whole CLI's parser, each command's --help ending with examples (examples.py)."""
    from berth.cli import examples

    parser = _parser()
    examples.attach(parser)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        sys.exit(_run(args))
    except Error as exc:
        print(f"berth: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


def _run(args: argparse.Namespace) -> int:
    if args.command == "up":
        from services.launcher.platform import run_up

        return run_up(
            (args.home or home()).expanduser().resolve(),
            args.port,
            rate_limit=args.rate_limit,
            max_parameter_sets=args.max_parameter_sets,
            redirect_after=args.redirect_after,
            agents=args.agents,
            container_calls=args.container_calls,
        )
    if args.command == "completion":
        from berth.cli import completion

        print(completion.script(build_parser(), args.shell), end="")
        return 0
    if args.command == "login":
        from berth.cli import login
        from berth.cli.config import ClientConfig

        config = ClientConfig(
            server=args.server,
            token=login.read_token(args.token, sys.stdin),
            edge_url=args.edge.rstrip("/"),
            ca_file=str(Path(args.ca_file).resolve()) if args.ca_file else "",
        )
        login.print_logged_in(login.login(config, (args.home or home()).expanduser()), args.server)
        return 0
    from berth.cli.client import Api

    if args.command == "deploy":
        from berth.cli.deploy import deploy_file

        result = deploy_file(args.file, name=args.name, ephemeral=args.dev, verbose=args.verbose)
        print(
            f"{'served' if args.dev else 'deployed'} {result.app} (version {result.version})", file=sys.stderr
        )
        if args.dev:
            print(f"app-name: {result.app}")
        for url in result.urls:
            print(f"{url.function}: {url.url}")
            for domain in url.custom_domains:  # stderr: stdout stays one `function: url` a line
                print(f"{url.function}: also at custom domain {domain}", file=sys.stderr)
        return 0
    if args.command == "run":
        from berth.cli.run import run

        return run(args.target, args.args, api=Api())
    if args.command == "serve":
        from berth.cli.serve import serve

        return serve(args.file, name=args.name, api=Api())
    from berth.cli import apps, proxy_auth, secrets, tokens

    api = Api()
    if args.command == "proxy-auth":
        if args.proxy_command == "create":
            proxy_auth.print_created(proxy_auth.create(api, args.name), as_json=args.json)
        elif args.proxy_command == "list":
            proxy_auth.print_tokens(proxy_auth.list_tokens(api), as_json=args.json)
        elif args.proxy_command == "revoke":
            proxy_auth.revoke(api, args.key)
            print(f"revoked proxy-auth token {args.key}")
        return 0
    if args.command == "token":
        if args.token_command == "create":
            tokens.print_created(args.name, tokens.create(api, args.name))
        elif args.token_command == "list":
            tokens.print_tokens(tokens.list_tokens(api), as_json=args.json)
        elif args.token_command == "revoke":
            tokens.revoke(api, args.name)
            print(f"revoked token {args.name}")
        return 0
    if args.command == "secret":
        if args.secret_command == "create":
            from berth.cli import secret_values

            values = secret_values.gather(args.pairs, dotenv=args.from_dotenv, json_files=args.from_json)
            secrets.create(api, args.name, values, force=args.force)
            print(f"created secret {args.name}")
        elif args.secret_command == "list":
            secrets.print_secrets(secrets.list_secrets(api), as_json=args.json)
        elif args.secret_command == "delete":
            secrets.delete(api, args.name)
            print(f"deleted secret {args.name}")
        return 0
    if args.command == "container":
        from berth.cli import containers

        if args.container_command == "list":
            containers.print_containers(containers.list_containers(api, args.app), as_json=args.json)
        elif args.container_command == "stop":
            stopped = containers.stop_container(api, args.id)
            print(f"stopping {args.id} ({stopped.app}/{stopped.function}) once its requests finish")
        return 0
    if args.app_command in ("history", "rollback"):
        from berth.cli import history

        if args.app_command == "history":
            history.print_history(history.app_history(api, args.name), as_json=args.json)
            return 0
        version = history.parse_version(args.version) if args.version else 0
        done = history.rollback(api, args.name, version)
        print(
            f"rolled back {done.app} to version {done.rollback_of}, now version {done.version}",
            file=sys.stderr,
        )
        for url in done.urls:
            print(f"{url.function}: {url.url}")
            for domain in url.custom_domains:
                print(f"{url.function}: also at custom domain {domain}", file=sys.stderr)
        return 0
    if args.app_command == "list":
        apps.print_apps(apps.list_apps(api, include_stopped=args.all), as_json=args.json)
    elif args.app_command == "stop":
        apps.stop_app(api, args.name)
        print(f"stopped {args.name}")
    elif args.app_command == "logs":
        from berth.cli import logs

        since = logs.parse_since(args.since) if args.since else 0
        query = logs.Query(args.name, args.follow, args.function, since, args.tail, ephemeral=args.served)
        logs.print_logs(api, query)
    return 0


if __name__ == "__main__":
    main()
