"""The wire contract shared by the edge, the agent and the runner inside each container.

- `codec`: the one length-prefix codec (4-byte big-endian length, then a serialized protobuf),
  used for the frames on a container's socket and for the agent <-> zygote messages alike;
- `frames`: `stream_pb2.Frame` on a container's socket (readers and a writer over asyncio streams);
- `flow`: credit-based flow control for HTTP bodies and WebSocket messages, both ways;
- `zygote`: the constants of the agent <-> zygote protocol.

It lives in the SDK because the runner inside a container has only the SDK; the platform's
services import it from here, so that every hop always agrees on the contract.
"""
