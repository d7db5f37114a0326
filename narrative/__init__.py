"""Narrative: one multi-tenant platform serving five HTTP API families from one data model."""

__version__ = "0.1.0"
