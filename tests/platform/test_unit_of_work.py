"""The request owns the transaction; the database's refusals are answers, never 500s."""

import sqlalchemy as sa

from narrative.extensions import db
from narrative.identity.models import User


def emails():
    return set(db.session.scalars(sa.select(User.email)))


def test_a_successful_view_is_committed_once_after_it_returns(client):
    response = client.post("/_probe/uow/users", json={"email": "ada@example.com"})
    assert response.status_code == 201
    db.session.expire_all()
    assert emails() == {"ada@example.com"}


def test_an_error_raised_after_writing_rolls_the_writes_back(client):
    response = client.post("/_probe/uow/users", json={"email": "ada@example.com", "then": "raise"})
    assert response.status_code == 422
    assert emails() == set()


def test_an_error_status_returned_by_a_view_rolls_back_too(client):
    response = client.post("/_probe/uow/users", json={"email": "ada@example.com", "then": "answer_400"})
    assert response.status_code == 400
    assert emails() == set()


def test_a_unique_violation_at_commit_is_409_already_exists_naming_the_field(client):
    assert client.post("/_probe/uow/users", json={"email": "ada@example.com"}).status_code == 201
    response = client.post("/_probe/uow/users", json={"email": "ada@example.com"})
    body = response.get_json()
    assert response.status_code == 409, body
    assert body["error"] == "conflict"
    assert "already exists" in body["message"] and "email" in body["message"]
    assert body["details"] == [{"field": "email", "message": body["message"]}]
    assert body["request_id"]


def test_a_foreign_key_to_nothing_is_409_refers_to_something_that_does_not_exist(client):
    response = client.post("/_probe/uow/dangling-member")
    body = response.get_json()
    assert response.status_code == 409, body
    assert "refers to something that does not exist" in body["message"]
    assert emails() == set()  # the user written before the refusal went with it


def test_nul_characters_are_refused_by_the_schema_naming_the_field(client):
    response = client.post("/_probe/uow/users", json={"email": "ada@example.com", "name": "A\u0000da"})
    assert response.status_code == 422
    assert [detail["field"] for detail in response.get_json()["details"]] == ["name"]
    response = client.post("/_probe/uow/users", json={"email": "a@example.com", "tags": ["ok", "n\u0000"]})
    assert response.status_code == 422
    assert response.get_json()["details"][0]["field"].startswith("tags")


def test_integers_beyond_64_bits_are_refused_by_the_schema(client):
    response = client.post("/_probe/uow/users", json={"email": "ada@example.com", "count": 2**63})
    assert response.status_code == 422
    assert [detail["field"] for detail in response.get_json()["details"]] == ["count"]
    assert (
        client.post("/_probe/uow/users", json={"email": "ada@example.com", "count": 2**63 - 1}).status_code
        == 201
    )


def test_a_string_longer_than_its_column_is_refused_at_flush_naming_the_attribute(client):
    response = client.post("/_probe/uow/users", json={"email": "ada@example.com", "name": "x" * 201})
    body = response.get_json()
    assert response.status_code == 422, body
    assert body["details"] == [{"field": "name", "message": "At most 200 characters."}]
    assert emails() == set()


def test_huge_page_numbers_and_offsets_are_422_not_a_database_overflow(client):
    for path in (
        "page?page=99999999999999999999",
        "page?page=9223372036854775807",
        "offset?offset=9223372036854775807",
        "skip?skip=2147483648",
    ):
        response = client.get(f"/_probe/pagination/{path}")
        assert response.status_code == 422, (path, response.get_json())
    assert client.get("/_probe/pagination/page?page=2147483647").status_code == 200


def test_a_savepoint_opened_before_any_write_nests_inside_the_unit_of_work(app):
    # On SQLite a SAVEPOINT outside a transaction would be the outermost one, committed on release.
    db.session.rollback()
    with db.session.begin_nested():
        db.session.add(User(email="ada@example.com"))
    db.session.rollback()
    assert emails() == set()
