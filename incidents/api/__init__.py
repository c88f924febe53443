"""The incidents app's REST API and the plumbing every app's API shares (authentication,
permissions, errors, throttling, pagination, idempotency keys, ETags, the schema class).

See docs/api.md for the decisions behind them.
"""
