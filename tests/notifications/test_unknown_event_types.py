"""A preference for an event type the platform's registry does not know is a 422, never stored."""

import pytest

from narrative.extensions import db
from narrative.notifications.models import NotificationPreference

UNKNOWN = "no.such_event"


def stored_types(user):
    db.session.expire_all()
    return set(db.session.scalars(db.select(NotificationPreference.event_type).filter_by(user_id=user.id)))


def assert_refused(response, field):
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert body["error"] == "validation_failed"
    assert [detail["field"] for detail in body["details"]] == [field]


@pytest.mark.parametrize("event_type", [UNKNOWN, "notdotted"])
def test_v2_put_of_an_unknown_type_is_422_naming_the_field(auth_client, event_type):
    response = auth_client.put(f"/api/v1/notifications/preferences/v2/{event_type}", json={"muted": True})
    assert_refused(response, "event_type")
    assert stored_types(auth_client.user) == set()
    assert event_type not in auth_client.get("/api/v1/notifications/preferences/v2").get_json()


def test_v2_put_of_a_registered_type_is_stored(auth_client):
    response = auth_client.put("/api/v1/notifications/preferences/v2/task.created", json={"muted": True})
    assert response.status_code == 200 and response.get_json()["muted"] is True
    assert stored_types(auth_client.user) == {"task.created"}


def test_create_and_bulk_refuse_unknown_types_too(auth_client):
    created = auth_client.post("/api/v1/notifications/me", json={"event_type": UNKNOWN, "muted": True})
    assert_refused(created, "event_type")
    bulk = auth_client.put(
        "/api/v1/notifications/me/bulk",
        json={"preferences": [{"event_type": "job.failed", "muted": True}, {"event_type": UNKNOWN}]},
    )
    assert_refused(bulk, "preferences.1.event_type")
    assert stored_types(auth_client.user) == set()  # nothing of the refused batch was kept
