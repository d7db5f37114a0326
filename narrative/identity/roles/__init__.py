"""Roles and permissions of a workspace: the permission catalog, per-role grants, reset and seeding.

The catalog and the default grants live in `narrative.identity.permissions`; this package exposes
them over `/api/v1/permissions/*` and keeps a workspace's overrides (`Role` rows).
"""
