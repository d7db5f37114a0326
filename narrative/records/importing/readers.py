"""Streaming readers for imported files: CSV, XLSX, JSON and GeoJSON, one row (a dict) at a time.

Every reader takes a binary file object and yields `(row_number, values)` pairs, where
`row_number` is the 1-based position of the record among the file's data rows (the header is not
counted) and `values` maps column names to cell values. Nothing reads a whole file into memory:
CSV goes through a text wrapper, XLSX through openpyxl's read-only mode, JSON through an
incremental decoder over fixed-size chunks.
"""

import codecs
import csv
import io
import json
from dataclasses import dataclass, field

FORMATS = ("csv", "xlsx", "json", "geojson")
HEAD_BYTES = 64 * 1024
JSON_CHUNK_CHARS = 64 * 1024
DELIMITERS = ",;\t|"
# Cells larger than this are a broken file (an unclosed quote), not data; the csv module's default is 128 KB.
csv.field_size_limit(16 * 1024 * 1024)


class UnreadableFile(ValueError):
    """The file cannot be read as the format it claims (the message says why, for people)."""


@dataclass
class CsvDialect:
    encoding: str
    delimiter: str


@dataclass
class FileShape:
    """What a reader learnt about the file before the rows: format, encoding, delimiter, headers."""

    format: str
    headers: list = field(default_factory=list)
    encoding: str | None = None
    delimiter: str | None = None


def detect_format(filename, head):
    """The format from the name's extension, falling back to the first bytes."""
    name = (filename or "").lower()
    for extension, fmt in (
        (".geojson", "geojson"),
        (".xlsx", "xlsx"),
        (".xlsm", "xlsx"),
        (".json", "json"),
        (".csv", "csv"),
        (".tsv", "csv"),
        (".txt", "csv"),
    ):
        if name.endswith(extension):
            if fmt == "json" and b'"FeatureCollection"' in head[:HEAD_BYTES]:
                return "geojson"
            return fmt
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith((b"[", b"{")):
        return "geojson" if b'"FeatureCollection"' in head else "json"
    return "csv"


# --- CSV -----------------------------------------------------------------------------------------


def detect_encoding(head):
    """utf-8-sig for a BOM, utf-8 when the head decodes, else charset-normalizer's guess (latin-1 last)."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        # The head may end inside a multi-byte character: ignore an incomplete tail only.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    if len(head) < 4096:
        return "cp1252"  # too little text for a statistical guess; the usual non-UTF-8 export encoding
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(head).best()
        if best is not None and best.encoding:
            return best.encoding
    except ImportError:  # pragma: no cover - charset-normalizer is a dependency
        pass
    return "latin-1"


def detect_delimiter(sample):
    """The delimiter csv.Sniffer finds among , ; tab |, else the most frequent of them on line one."""
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        first_line = sample.split("\n", 1)[0]
        counts = {d: first_line.count(d) for d in DELIMITERS}
        best = max(counts, key=counts.get)
        return best if counts[best] else ","


def sniff_csv(binary):
    """Read the head of a seekable binary file to choose encoding and delimiter; rewinds it."""
    head = binary.read(HEAD_BYTES)
    binary.seek(0)
    encoding = detect_encoding(head)
    text = head.decode(encoding, errors="ignore")
    # Sniff whole lines only: a cut-off last line confuses the sniffer.
    sample = text[: text.rfind("\n")] if "\n" in text else text
    return CsvDialect(encoding=encoding, delimiter=detect_delimiter(sample[: 32 * 1024]))


def _unique_headers(raw):
    """Blank headers get a column_N name and duplicates a numeric suffix, so every column is addressable."""
    seen, headers = {}, []
    for index, name in enumerate(raw, start=1):
        name = (str(name).strip() if name is not None else "") or f"column_{index}"
        base, count = name, seen.get(name, 0)
        while name in seen:
            count += 1
            name = f"{base}_{count}"
        seen[base] = count
        seen[name] = 0
        headers.append(name)
    return headers


def read_csv(binary, shape):
    dialect = sniff_csv(binary)
    shape.encoding, shape.delimiter = dialect.encoding, dialect.delimiter
    text = io.TextIOWrapper(binary, encoding=dialect.encoding, errors="replace", newline="")
    reader = csv.reader(text, delimiter=dialect.delimiter)
    try:
        raw_headers = next(reader)
    except StopIteration:
        return
    shape.headers = _unique_headers(raw_headers)
    width = len(shape.headers)
    number = 0
    for cells in reader:
        if not (cells and (cells[0].strip() or any(cell.strip() for cell in cells))):
            continue  # blank lines are not records
        number += 1
        if len(cells) < width:
            cells = cells + [""] * (width - len(cells))
        values = dict(zip(shape.headers, cells, strict=False))  # extra cells are kept apart below
        if len(cells) > width:
            values["__extra__"] = cells[width:]
        yield number, values


# --- XLSX ----------------------------------------------------------------------------------------


def read_xlsx(binary, shape):
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(binary, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a broken archive
        raise UnreadableFile("This spreadsheet could not be opened as an .xlsx workbook.") from exc
    try:
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        header_row = next(rows, None)
        if header_row is None:
            return
        shape.headers = _unique_headers(header_row)
        number = 0
        for cells in rows:
            if not any(cell not in (None, "") for cell in cells):
                continue
            number += 1
            yield number, dict(zip(shape.headers, cells, strict=False))  # short rows: missing cells
    finally:
        workbook.close()


# --- JSON and GeoJSON ----------------------------------------------------------------------------


def _iter_json_array_items(text, *, start_key=None):
    """Decode the items of a top-level array (or of `start_key`'s array) one at a time."""
    decoder = json.JSONDecoder()
    buffer, position, eof = "", 0, False

    def fill():
        nonlocal buffer, position, eof
        chunk = text.read(JSON_CHUNK_CHARS)
        if not chunk:
            eof = True
        buffer = buffer[position:] + chunk
        position = 0

    def skip(chars):
        nonlocal position
        while True:
            while position < len(buffer) and buffer[position] in chars:
                position += 1
            if position < len(buffer) or eof:
                return
            fill()

    fill()
    if start_key is not None:
        marker = f'"{start_key}"'
        while marker not in buffer:
            if eof:
                raise UnreadableFile(f'This GeoJSON file has no "{start_key}" array.')
            keep = buffer[-len(marker) :]
            buffer, position = keep, 0
            fill()
        position = buffer.index(marker) + len(marker)
        skip(" \t\r\n:")
    else:
        skip("\ufeff \t\r\n")
    if position >= len(buffer) or buffer[position] != "[":
        raise UnreadableFile("This JSON file is not an array of objects.")
    position += 1
    while True:
        skip(" \t\r\n,")
        if position >= len(buffer):
            raise UnreadableFile("This JSON file ends before its array is closed.")
        if buffer[position] == "]":
            return
        while True:
            try:
                item, end = decoder.raw_decode(buffer, position)
                break
            except json.JSONDecodeError as exc:
                if eof:
                    raise UnreadableFile(f"This JSON file is not valid JSON ({exc.msg}).") from exc
                fill()
        position = end
        yield item
        if position > JSON_CHUNK_CHARS:
            buffer, position = buffer[position:], 0


def _json_text(binary):
    head = binary.read(4)
    binary.seek(0)
    encoding = "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"
    return io.TextIOWrapper(binary, encoding=encoding, errors="replace")


def _flatten(value):
    """Nested objects and lists stay JSON text in one cell."""
    return json.dumps(value) if isinstance(value, (dict, list)) else value


def read_json(binary, shape):
    known = {}
    for number, item in enumerate(_iter_json_array_items(_json_text(binary)), start=1):
        if not isinstance(item, dict):
            raise UnreadableFile("This JSON file must be an array of objects.")
        for key in item:
            known.setdefault(key, None)
        shape.headers = list(known)
        yield number, {key: _flatten(value) for key, value in item.items()}


def _point(geometry):
    if isinstance(geometry, dict) and geometry.get("type") == "Point":
        coordinates = geometry.get("coordinates") or []
        if len(coordinates) >= 2:
            return coordinates[1], coordinates[0]
    return None, None


def read_geojson(binary, shape):
    number = 0
    known = {}
    for feature in _iter_json_array_items(_json_text(binary), start_key="features"):
        if not isinstance(feature, dict):
            continue
        number += 1
        values = {key: _flatten(value) for key, value in (feature.get("properties") or {}).items()}
        latitude, longitude = _point(feature.get("geometry"))
        values["latitude"], values["longitude"] = latitude, longitude
        for key in values:
            known.setdefault(key, None)
        shape.headers = list(known)
        yield number, values


READERS = {"csv": read_csv, "xlsx": read_xlsx, "json": read_json, "geojson": read_geojson}


def iter_rows(binary, fmt, shape=None):
    """Yield `(row_number, values)` from a seekable binary file; `shape` is filled in as it goes."""
    shape = shape or FileShape(format=fmt)
    return READERS[fmt](binary, shape)
