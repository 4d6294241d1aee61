"""The worker agent: boots, watches and stops containers on one host, and bridges their request
streams to the bus."""
