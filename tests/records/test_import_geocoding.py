"""Geocoding: the offline gazetteer lands real addresses near their true place; Google over HTTP; the cache."""

import math

import httpx
import pytest
import respx
import sqlalchemy as sa

from narrative.extensions import db
from narrative.records.importing import geocoding
from narrative.records.importing.gazetteer import lookup
from narrative.records.importing.models import GeocodeCacheEntry

TRUE_PLACES = {
    "10001": (40.7506, -73.9972),
    "Paris, France": (48.8566, 2.3522),
    "Austin, TX 78701": (30.2711, -97.7437),
    "Berlin": (52.5200, 13.4050),
    "München, Deutschland": (48.1351, 11.5820),
    "Springfield, IL": (39.7817, -89.6501),
    "Paris, TX": (33.6609, -95.5555),
    "1600 Amphitheatre Parkway, Mountain View, CA 94043": (37.4220, -122.0841),
    "Sydney, Australia": (-33.8688, 151.2093),
}


def km_between(a, b):
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371 * math.asin(math.sqrt(h))


@pytest.mark.parametrize("address", sorted(TRUE_PLACES))
def test_offline_gazetteer_lands_within_25_km(address):
    found = lookup(address)
    assert found is not None
    assert km_between((found.latitude, found.longitude), TRUE_PLACES[address]) < 25


def test_unknown_place_is_not_found():
    assert lookup("Qwxyzzy Nowhereville") is None


def test_results_are_cached_per_normalised_address(app):
    calls = []

    class Counting(geocoding.GazetteerGeocoder):
        def geocode(self, address):
            calls.append(address)
            return super().geocode(address)

    first = geocoding.geocode("Berlin", geocoder=Counting())
    again = geocoding.geocode("  BERLIN ", geocoder=Counting())
    assert calls == ["Berlin"]
    assert (again.latitude, again.longitude) == (first.latitude, first.longitude)
    assert geocoding.geocode("Qwxyzzy Nowhereville", geocoder=Counting()) is None
    assert geocoding.geocode("qwxyzzy nowhereville", geocoder=Counting()) is None
    assert len(calls) == 2
    assert db.session.scalar(sa.select(sa.func.count()).select_from(GeocodeCacheEntry)) == 2


@respx.mock
def test_google_adapter_speaks_the_geocoding_api(app):
    route = respx.get(geocoding.GOOGLE_URL).mock(
        return_value=httpx.Response(
            200,
            json={
                "status": "OK",
                "results": [
                    {
                        "formatted_address": "Berlin, Germany",
                        "geometry": {
                            "location": {"lat": 52.52, "lng": 13.405},
                            "location_type": "APPROXIMATE",
                        },
                    }
                ],
            },
        )
    )
    app.config["GOOGLE_MAPS_API_KEY"] = "test-key"
    try:
        geocoder = geocoding.get_geocoder()
        assert geocoder.name == "google"
        result = geocoding.geocode("Berlin", geocoder=geocoder)
    finally:
        app.config["GOOGLE_MAPS_API_KEY"] = None
    assert (result.latitude, result.longitude, result.provider) == (52.52, 13.405, "google")
    request = route.calls.last.request
    assert request.url.params["address"] == "Berlin" and request.url.params["key"] == "test-key"


@respx.mock
def test_google_refusal_is_an_error_and_zero_results_is_none(app):
    respx.get(geocoding.GOOGLE_URL).mock(
        side_effect=[
            httpx.Response(200, json={"status": "ZERO_RESULTS", "results": []}),
            httpx.Response(
                200, json={"status": "REQUEST_DENIED", "error_message": "The provided API key is invalid."}
            ),
        ]
    )
    geocoder = geocoding.GoogleGeocoder("bad")
    assert geocoder.geocode("Nowhere") is None
    with pytest.raises(geocoding.GeocodingFailed, match="API key is invalid"):
        geocoder.geocode("Berlin")
