"""The edge: the public HTTP/WebSocket port, routing hosts to functions, relaying streams."""
