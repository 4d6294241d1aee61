"""Container runtimes: how a container is started and stopped. `select()` picks one by name."""

from services.agent.runtime.base import Container, LaunchSpec, Runtime


def select(name: str) -> Runtime:
    if name == "process":
        from services.agent.runtime.process import ProcessRuntime

        return ProcessRuntime()
    raise SystemExit(f"unknown runtime {name!r}: this agent supports 'process'")


__all__ = ["Container", "LaunchSpec", "Runtime", "select"]
