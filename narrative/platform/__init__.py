"""Horizontal services every domain uses: errors, requests, Redis, jobs, events, limits, storage."""
