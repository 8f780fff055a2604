"""HTTP routes, each module a router factory taking the runtime."""
