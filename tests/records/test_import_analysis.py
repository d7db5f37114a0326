"""File analysis for imports: encodings, delimiters, quoted newlines, XLSX, JSON and GeoJSON, inferred types."""

import io
import json

import openpyxl

from narrative.records.importing import readers
from narrative.records.importing.analysis import analyze_stream

MESSY_CSV = (
    "\ufeffname;joined;amount;email;active\n"
    '"Ann\nSmith";2024-01-02;"1,5";ann@example.com;yes\n'
    "Bob;not a date;2;bob@example.org;no\n"
    "Cé;2024-03-04;3;ce@example.io;yes\n"
    "Dan;2024-05-06;4,25;dan@example.com;no\n"
    "Eve;07/05/2024;5;eve@example.com;yes\n"
)


def test_messy_csv_is_read_with_bom_semicolons_and_quoted_newlines():
    result = analyze_stream(io.BytesIO(MESSY_CSV.encode("utf-8")), filename="people.csv")
    assert result["format"] == "csv"
    assert result["encoding"] == "utf-8-sig"
    assert result["delimiter"] == ";"
    assert result["headers"] == ["name", "joined", "amount", "email", "active"]  # no BOM in the first name
    assert result["row_count"] == 5
    assert result["sample_rows"][0]["name"] == "Ann\nSmith"
    assert result["inferred_types"] == {
        "name": "text",
        "joined": "date",
        "amount": "number",
        "email": "email",
        "active": "boolean",
    }


def test_latin1_csv_is_decoded():
    data = "city,visits\nSão Paulo,3\nZürich,4\n".encode("latin-1")
    result = analyze_stream(io.BytesIO(data), filename="cities.csv")
    assert [row["city"] for row in result["sample_rows"]] == ["São Paulo", "Zürich"]
    assert result["inferred_types"]["visits"] == "number"


def test_types_are_inferred_from_samples():
    lines = ["price,share,when,site,phone,where,count"]
    for i in range(10):
        lines.append(
            f'"$1,{i}00.50",{i}%,2024-01-0{i} 10:30:00,https://ex{i}.com,+1 555 010 {i:04d},"48.8{i}, 2.3{i}",{i}'
        )
    lines[3] = lines[3].replace("2024-01-02 10:30:00", "2024-01-02T10:30:00")
    result = analyze_stream(io.BytesIO("\n".join(lines).encode()), filename="t.csv")
    assert result["inferred_types"] == {
        "price": "currency",
        "share": "percent",
        "when": "datetime",
        "site": "url",
        "phone": "phone",
        "where": "geo",
        "count": "number",
    }


def test_xlsx_is_streamed_in_read_only_mode(tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["name", "score", "joined"])
    for i in range(30):
        sheet.append([f"p{i}", i * 1.5, f"2024-02-{i % 28 + 1:02d}"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    buffer.seek(0)
    result = analyze_stream(buffer, filename="scores.xlsx")
    assert result["format"] == "xlsx"
    assert result["row_count"] == 30
    assert result["inferred_types"] == {"name": "text", "score": "number", "joined": "date"}


def test_json_array_is_decoded_incrementally(monkeypatch):
    monkeypatch.setattr(readers, "JSON_CHUNK_CHARS", 7)  # force many partial reads
    items = [{"id": i, "tags": ["a", "b"], "ok": i % 2 == 0} for i in range(25)]
    result = analyze_stream(io.BytesIO(json.dumps(items).encode()), filename="items.json")
    assert result["row_count"] == 25
    assert result["headers"] == ["id", "tags", "ok"]
    assert result["inferred_types"]["ok"] == "boolean"
    assert result["sample_rows"][0]["tags"] == '["a", "b"]'


def test_geojson_points_become_latitude_and_longitude():
    collection = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [2.35, 48.85]},
                "properties": {"name": "Paris"},
            },
            {"type": "Feature", "geometry": None, "properties": {"name": "Nowhere"}},
        ],
    }
    result = analyze_stream(io.BytesIO(json.dumps(collection).encode()), filename="places.geojson")
    assert result["format"] == "geojson"
    assert result["row_count"] == 2
    assert result["sample_rows"][0] == {"name": "Paris", "latitude": 48.85, "longitude": 2.35}
