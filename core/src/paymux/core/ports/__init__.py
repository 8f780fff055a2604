"""Ports: the protocols paymux's core talks to (providers), implemented by plugins."""
