"""Geocoding: addresses to coordinates through a provider, cached per normalised address.

- `GoogleGeocoder` (the Geocoding API over HTTP) when GOOGLE_MAPS_API_KEY is set; its rate limit
  (GOOGLE_GEOCODING_RATE, default 40/second) is respected by waiting, not by failing the job.
- `GazetteerGeocoder` otherwise: offline, from the gazetteers PyPI packages ship (see gazetteer.py).

`geocode(address)` -> GeoResult or None; the answer (found or not) is cached per provider and
normalised address in `geocode_cache`, so a re-run or a repeated address costs nothing.
"""

import logging
import time

import httpx
import sqlalchemy as sa
from flask import current_app

from narrative.extensions import db
from narrative.platform import ratelimit
from narrative.platform.errors import ApiError
from narrative.records.importing import gazetteer
from narrative.records.importing.gazetteer import GeoResult
from narrative.records.importing.models import GeocodeCacheEntry

log = logging.getLogger("narrative.records.geocoding")

GOOGLE_URL = "https://maps.googleapis.com/maps/api/geocode/json"
DEFAULT_GOOGLE_RATE = "40/second"


class GeocodingFailed(ApiError):
    status = 502
    code = "geocoding_failed"
    message = "The geocoding provider refused the request."


def normalise_address(address):
    """Case, accents, punctuation and spacing do not make two addresses different."""
    return gazetteer.fold(address)[:500]


class GazetteerGeocoder:
    name = "gazetteer"

    def geocode(self, address):
        return gazetteer.lookup(address)


class GoogleGeocoder:
    name = "google"

    def __init__(self, api_key, *, rate=DEFAULT_GOOGLE_RATE, client=None):
        self.api_key = api_key
        self.rate = rate
        self.client = client or httpx.Client(timeout=10)

    def _wait_for_turn(self):
        while True:
            decision = ratelimit.hit("geocode.google", "api", self.rate)
            if decision.allowed:
                return
            time.sleep(min(max(decision.retry_after_seconds or 0.05, 0.05), 1.0))

    def geocode(self, address):
        self._wait_for_turn()
        response = self.client.get(GOOGLE_URL, params={"address": address, "key": self.api_key})
        body = (
            response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
        )
        status = body.get("status")
        if status == "ZERO_RESULTS":
            return None
        if status == "OVER_QUERY_LIMIT":
            time.sleep(1)
            return self.geocode(address)
        if response.status_code != 200 or status != "OK":
            log.warning("google geocoding refused: %s %s", response.status_code, status)
            raise GeocodingFailed(body.get("error_message") or f"The geocoding provider answered {status}.")
        first = body["results"][0]
        location = first["geometry"]["location"]
        precision = "address" if first["geometry"].get("location_type") == "ROOFTOP" else "approximate"
        return GeoResult(
            latitude=float(location["lat"]),
            longitude=float(location["lng"]),
            label=first.get("formatted_address") or address,
            precision=precision,
            provider=self.name,
        )


def get_geocoder():
    """Google when a key is configured, the offline gazetteer otherwise."""
    key = current_app.config.get("GOOGLE_MAPS_API_KEY")
    if key:
        return GoogleGeocoder(key, rate=current_app.config.get("GOOGLE_GEOCODING_RATE", DEFAULT_GOOGLE_RATE))
    return GazetteerGeocoder()


def geocode(address, *, geocoder=None):
    """Coordinates of `address` (GeoResult) or None, through the cache."""
    geocoder = geocoder or get_geocoder()
    key = normalise_address(address)
    if not key:
        return None
    cached = db.session.scalar(
        sa.select(GeocodeCacheEntry).where(
            GeocodeCacheEntry.provider == geocoder.name, GeocodeCacheEntry.address_key == key
        )
    )
    if cached is not None:
        if cached.latitude is None:
            return None
        return GeoResult(cached.latitude, cached.longitude, cached.label, cached.precision, geocoder.name)
    result = geocoder.geocode(address)
    entry = GeocodeCacheEntry(provider=geocoder.name, address_key=key)
    if result is not None:
        entry.latitude, entry.longitude = result.latitude, result.longitude
        entry.label, entry.precision = result.label[:500], result.precision
    try:
        with db.session.begin_nested():
            db.session.add(entry)
    except sa.exc.IntegrityError:
        pass  # another worker cached the same address a moment ago
    return result
