"""`sk_` API keys over HTTP: the core/narrowapi `/api/v1/api-keys` and the assistant `/api/api-keys`.

Keys are made by `narrative.identity.service.create_api_key` (stored as a SHA-256 with a visible
prefix) and resolved by `narrative.identity.access`; this package manages their life cycle.
"""
