"""Gunicorn entry point: `gunicorn wsgi:app`."""

from narrative.app import create_app

app = create_app()
