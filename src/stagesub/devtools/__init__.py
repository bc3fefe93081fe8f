"""Tools for developers and tests (a local PostgreSQL server); never imported by the product."""
