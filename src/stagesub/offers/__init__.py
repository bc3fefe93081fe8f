"""The offer engine: asking musicians in ranking order until every seat is filled.

`engine` is the pure decision core (no database, no I/O). The database layer, outbox,
response page and scheduler are built around it (issue 6, in progress).
"""
