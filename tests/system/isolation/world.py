"""Two workspaces, A (whose objects are probed) and B (the stranger), and their callers."""

import dataclasses

from tests.identity.factories import auth_headers, make_api_key, make_user, workspace_of
from tests.system.isolation.bodies import materialise


@dataclasses.dataclass
class Side:
    user: object
    workspace: object
    jwt: dict  # headers: the owner's access token
    key: dict  # headers: an `sk_` key of the owner with every scope


def make_side(name):
    user = make_user(name=f"Owner of {name}", workspace_name=f"Workspace {name}")
    workspace = workspace_of(user)
    raw_key = make_api_key(user, scopes=["*"], name=f"Key of {name}")
    return Side(user, workspace, auth_headers(user), {"Authorization": f"Bearer {raw_key}"})


class FactoryFailed(AssertionError):
    """A factory's own API call failed: the object could not be made, nothing was probed."""


class World:
    """What one sweep case works with: `a` and `b`, and `call_a` for factories (`call` for B's own
    set-up, e.g. an execution token of B's own action)."""

    def __init__(self, client):
        self.client = client
        self.a = make_side("A")
        self.b = make_side("B")

    def call_a(self, method, path, *, expect=(200, 201), **kwargs):
        """Call the API as A's owner; the JSON answer, or FactoryFailed naming the call."""
        return self.call(self.a, method, path, expect=expect, **kwargs)

    def call(self, side, method, path, *, expect=(200, 201), **kwargs):
        response = self.client.open(path, method=method, headers=side.jwt, **materialise(kwargs))
        if response.status_code not in expect:
            raise FactoryFailed(
                f"factory call {method} {path} answered {response.status_code}: "
                f"{response.get_json(silent=True)}"
            )
        return response.get_json(silent=True)
