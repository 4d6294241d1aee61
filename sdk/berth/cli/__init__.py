"""The `berth` command. Thin: each command group is a module that calls the SDK and the API."""
