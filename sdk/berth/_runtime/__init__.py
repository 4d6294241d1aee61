"""The in-container runner: loads the user's function and serves it over the agent's socket.

Run as `python -m berth._runtime` with BERTH_BOOT, BERTH_SOCKET and BERTH_CODE_DIR set.
Imports only the stdlib, protobuf and berth at start-up; FastAPI, a2wsgi and OpenTelemetry
are imported only when the function needs them.
"""
