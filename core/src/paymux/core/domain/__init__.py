"""The payment domain: pure data and rules, no I/O, no web framework, no ORM."""
