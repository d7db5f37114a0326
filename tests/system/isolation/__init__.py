"""The generated tenant-isolation sweep (tests/system/test_isolation_sweep.py) and its parts.

- `table`      the reviewed table: which factory makes the object a path parameter names (by
               parameter name and path prefix), the parameters that are not object ids, the
               operations whose caller is not what scopes them, and per-operation bodies.
- `factories`  one factory per id kind: makes a real object in workspace A and returns the path
               parameters that name it (parents included, e.g. {"recordset_slug", "view_id"}).
- `world`      the two workspaces and the three callers (A's owner by JWT, B's owner by JWT and
               by `sk_` key), and the helper factories use to call the API as A.
- `bodies`     minimal valid request input built from an operation's OpenAPI request schema.
"""
