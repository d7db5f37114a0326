"""Analysis of an uploaded file: format, encoding, delimiter, headers, inferred types, row count, samples.

One streamed pass over the file: the first rows are kept as samples for type inference and for
people to look at, the rest are only counted.
"""

from narrative.records.importing import inference, readers

SAMPLE_ROWS = 5


def analyze_stream(binary, *, filename=None):
    """Analyse a seekable binary file; returns a JSON-ready dict."""
    head = binary.read(readers.HEAD_BYTES)
    binary.seek(0)
    fmt = readers.detect_format(filename, head)
    shape = readers.FileShape(format=fmt)
    samples = []
    row_count = 0
    for _, values in readers.iter_rows(binary, fmt, shape):
        row_count += 1
        if len(samples) < inference.SAMPLE_SIZE:
            samples.append(values)
    columns = [
        {
            "name": header,
            "type": inference.infer_type([row.get(header) for row in samples]),
            "samples": [_jsonable(row.get(header)) for row in samples[:SAMPLE_ROWS]],
        }
        for header in shape.headers
    ]
    return {
        "format": fmt,
        "encoding": shape.encoding,
        "delimiter": shape.delimiter,
        "headers": list(shape.headers),
        "columns": columns,
        "inferred_types": {column["name"]: column["type"] for column in columns},
        "row_count": row_count,
        "sample_rows": [
            {key: _jsonable(value) for key, value in row.items() if key != "__extra__"}
            for row in samples[:SAMPLE_ROWS]
        ],
    }


def _jsonable(value):
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
