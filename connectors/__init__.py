"""Backends behind the gateway: each implements :class:`connectors.base.Backend`."""
