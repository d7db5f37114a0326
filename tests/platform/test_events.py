"""Domain events: outbox writes in the change's transaction, ordered at-least-once delivery, retries."""

import uuid
from dataclasses import FrozenInstanceError
from datetime import timedelta

import pytest
import sqlalchemy as sa
from rq import Queue

from narrative.extensions import db, get_queue
from narrative.identity.models import Workspace
from narrative.platform import events
from narrative.platform.events import dispatch as dispatch_module
from narrative.platform.events import outbox as outbox_module
from narrative.platform.events import registry
from narrative.platform.events.models import OutboxDelivery, OutboxEvent
from narrative.platform.models import utcnow
from narrative.platform.periodic import PERIODIC_JOBS
from narrative.platform.tenancy import current_workspace_id, workspace_scope
from workers.worker import run_jobs_in_process


class Recorder:
    """Consumers that write down what they received, and can be told to fail."""

    def __init__(self):
        self.calls = {}
        self.failing = {}  # consumer name -> predicate(event) that makes it raise

    def add(self, name):
        self.calls[name] = []

        @events.consumer(name)
        def record(event):
            self.calls[name].append(event)
            should_fail = self.failing.get(name)
            if should_fail is not None and should_fail(event):
                raise RuntimeError(f"{name} is down")

        return record

    def texts(self, name, workspace_id=None):
        return [
            event.payload.get("text")
            for event in self.calls[name]
            if workspace_id is None or event.workspace_id == workspace_id
        ]


@pytest.fixture
def recorder(app, monkeypatch):
    """Only this test's consumers are registered while it runs (in the test app's context)."""
    monkeypatch.setattr(registry, "_consumers", {})
    return Recorder()


def make_workspace(name):
    workspace = Workspace(name=name, slug=f"{name.lower()}-{uuid.uuid4().hex[:6]}")
    db.session.add(workspace)
    db.session.commit()
    return workspace.id


def emit_notes(workspace_id, *texts):
    for text in texts:
        events.emit("probe.note.added", {"text": text}, workspace_id=workspace_id)
    db.session.commit()


def outbox_rows(workspace_id=None):
    db.session.expire_all()
    query = sa.select(OutboxEvent).order_by(OutboxEvent.id)
    if workspace_id is not None:
        query = query.where(OutboxEvent.workspace_id == workspace_id)
    return db.session.scalars(query).all()


def queued_job_ids():
    return Queue("default", connection=get_queue("default").connection).get_job_ids()


def make_retry_due(workspace_id):
    """Skip the backoff wait: the failed event may be tried again now."""
    db.session.execute(
        sa.update(OutboxEvent)
        .where(OutboxEvent.workspace_id == workspace_id, OutboxEvent.next_attempt_at.is_not(None))
        .values(next_attempt_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()


# --- the registry ------------------------------------------------------------------------------


def test_registry_lists_types_with_descriptions_and_examples(app):
    listed = {entry["name"]: entry for entry in events.event_types()}

    assert listed["job.completed"]["category"] == "job"
    assert listed["job.completed"]["example"]["status"] == "COMPLETED"
    assert listed["job.failed"]["example"]["error"]
    assert listed["probe.note.added"] == {
        "name": "probe.note.added",
        "description": "Probe: a note was added to a workspace.",
        "example": {"text": "Call the supplier back"},
        "category": "probe",
    }
    assert [entry["name"] for entry in events.event_types()] == sorted(listed)


def test_registering_a_type_validates_it_and_refuses_conflicts(monkeypatch):
    monkeypatch.setattr(registry, "_event_types", dict(registry._event_types))
    events.register_event_type("deal.won", description="A deal was won.", example={"deal_id": "d1"})
    # The same definition again (a module imported twice) is harmless.
    events.register_event_type("deal.won", description="A deal was won.", example={"deal_id": "d1"})

    with pytest.raises(ValueError, match="another definition"):
        events.register_event_type("deal.won", description="Something else.", example={})
    with pytest.raises(ValueError, match="dotted"):
        events.register_event_type("DealWon", description="A deal was won.", example={})
    with pytest.raises(ValueError, match="not JSON"):
        events.register_event_type("deal.lost", description="A deal was lost.", example={"at": object()})
    assert events.get_event_type("deal.won").category == "deal"


def test_emitting_an_unregistered_type_is_refused(recorder):
    workspace_id = make_workspace("Acme")

    with pytest.raises(ValueError, match="not registered"):
        events.emit("probe.never.declared", {}, workspace_id=workspace_id)
    with pytest.raises(ValueError, match="workspace_id is required"):
        events.emit("probe.note.added", {"text": "x"}, workspace_id=None)
    with pytest.raises(ValueError, match="not JSON"):
        events.emit("probe.note.added", {"text": object()}, workspace_id=workspace_id)
    db.session.commit()

    assert outbox_rows() == []


def test_payload_values_are_stored_as_json(recorder):
    workspace_id = make_workspace("Acme")
    when = utcnow()

    row = events.emit("probe.note.added", {"by": workspace_id, "at": when}, workspace_id=str(workspace_id))
    db.session.commit()

    assert row.workspace_id == workspace_id
    assert outbox_rows()[0].payload == {"by": str(workspace_id), "at": when.isoformat()}


# --- transactions and the dispatch request -----------------------------------------------------


def test_committed_events_are_dispatched_through_one_collapsed_rq_job(client, recorder):
    recorder.add("feed")
    created = client.post(
        "/_probe/events/workspaces", json={"name": "Acme", "slug": "acme", "notes": ["a", "b"]}
    )
    assert created.status_code == 201
    workspace_id = uuid.UUID(created.get_json()["id"])
    assert (
        client.post(
            "/_probe/events/notes", json={"workspace_id": str(workspace_id), "notes": ["c"]}
        ).status_code
        == 201
    )

    # Two commits, one queued dispatch job for the workspace.
    assert queued_job_ids() == [f"outbox-dispatch-{workspace_id}"]
    assert recorder.calls["feed"] == []

    run_jobs_in_process(client.application)

    received = recorder.calls["feed"]
    assert [event.type for event in received] == ["probe.workspace.created"] + ["probe.note.added"] * 3
    assert recorder.texts("feed")[1:] == ["a", "b", "c"]
    assert received[0].payload == {"workspace_id": str(workspace_id), "name": "Acme"}
    assert all(row.dispatched_at is not None for row in outbox_rows())
    assert queued_job_ids() == []
    # The finished run left nothing behind that would swallow the next request.
    emit_notes(workspace_id, "d")
    assert queued_job_ids() == [f"outbox-dispatch-{workspace_id}"]


def test_events_of_a_rolled_back_change_never_happen(client, recorder):
    recorder.add("feed")
    workspace_id = make_workspace("Acme")

    response = client.post(
        "/_probe/events/notes-then-fail", json={"workspace_id": str(workspace_id), "notes": ["x"]}
    )
    assert response.status_code == 500
    db.session.remove()  # what the request's teardown does outside the test's shared app context

    assert outbox_rows() == []
    assert queued_job_ids() == []
    assert events.dispatch_pending().handled == 0
    run_jobs_in_process(client.application)
    assert recorder.calls["feed"] == []


def test_rollback_discards_the_dispatch_request(recorder):
    workspace_id = make_workspace("Acme")
    events.emit("probe.note.added", {"text": "never"}, workspace_id=workspace_id)
    db.session.rollback()
    db.session.add(Workspace(name="Other", slug="other"))
    db.session.commit()  # a later, unrelated commit requests nothing

    assert outbox_rows() == []
    assert queued_job_ids() == []


def test_dispatch_is_requested_only_when_the_outermost_transaction_commits(recorder):
    workspace_id = make_workspace("Acme")
    with db.session.begin_nested():
        events.emit("probe.note.added", {"text": "in a savepoint"}, workspace_id=workspace_id)
    assert queued_job_ids() == []  # releasing the savepoint did not make the event real yet

    db.session.commit()
    assert queued_job_ids() == [f"outbox-dispatch-{workspace_id}"]


# --- order, failures and retries ---------------------------------------------------------------


def test_consumers_receive_events_in_order_per_workspace(recorder):
    recorder.add("feed")
    recorder.add("notifications")
    workspace_id = make_workspace("Acme")
    texts = [f"note {index}" for index in range(30)]
    emit_notes(workspace_id, *texts[:20])  # many in one transaction, many within one millisecond
    emit_notes(workspace_id, *texts[20:])

    report = events.dispatch_pending(workspace_id=workspace_id)

    assert report.dispatched == 30
    assert recorder.texts("feed") == texts
    assert recorder.texts("notifications") == texts
    ids = [event.id for event in recorder.calls["feed"]]
    assert ids == sorted(ids)


def test_a_failing_consumer_is_retried_later_and_the_others_are_not_called_again(recorder):
    recorder.add("feed")
    recorder.add("webhooks")
    recorder.add("notifications")
    recorder.failing["webhooks"] = lambda event: event.payload["text"] == "first"
    workspace_id = make_workspace("Acme")
    emit_notes(workspace_id, "first", "second")

    report = events.dispatch_pending(workspace_id=workspace_id)

    # The failing consumer does not keep the others from the event, but the next event waits.
    assert (report.dispatched, report.failed) == (0, 1)
    assert recorder.texts("feed") == ["first"]
    assert recorder.texts("notifications") == ["first"]
    first, second = outbox_rows(workspace_id)
    assert first.dispatched_at is None and first.attempts == 1
    assert (second.dispatched_at, second.attempts) == (None, 0)
    assert first.last_error == "webhooks: RuntimeError: webhooks is down"
    assert first.next_attempt_at > utcnow() + timedelta(seconds=25)
    deliveries = {d.consumer: d for d in db.session.scalars(sa.select(OutboxDelivery))}
    assert deliveries["feed"].delivered_at is not None
    assert deliveries["webhooks"].delivered_at is None
    assert deliveries["webhooks"].last_error == "RuntimeError: webhooks is down"

    # Within the backoff nothing is tried, not even the later event.
    assert events.dispatch_pending(workspace_id=workspace_id).handled == 0
    assert recorder.texts("webhooks") == ["first"]

    recorder.failing.clear()
    make_retry_due(workspace_id)
    report = events.dispatch_pending(workspace_id=workspace_id)

    assert report.dispatched == 2
    assert recorder.texts("webhooks") == ["first", "first", "second"]
    assert recorder.texts("feed") == ["first", "second"]  # not called again for "first"
    assert recorder.texts("notifications") == ["first", "second"]
    assert all(row.dispatched_at is not None for row in outbox_rows(workspace_id))
    assert db.session.get(OutboxDelivery, (first.id, "webhooks")).attempts == 2


def test_a_failing_consumers_writes_are_rolled_back_and_a_succeeding_ones_committed(recorder):
    workspace_id = make_workspace("Acme")

    @events.consumer("workspace-renamer")
    def rename(event):
        db.session.get(Workspace, event.workspace_id).name = f"renamed by {event.payload['text']}"

    @events.consumer("half-done")
    def half_done(event):
        db.session.add(Workspace(name="half", slug=f"half-{event.id}"))
        db.session.flush()
        raise RuntimeError("after writing")

    emit_notes(workspace_id, "one")
    events.dispatch_pending(workspace_id=workspace_id)

    db.session.expire_all()
    assert db.session.get(Workspace, workspace_id).name == "renamed by one"
    assert db.session.scalar(sa.select(sa.func.count()).where(Workspace.name == "half")) == 0


def test_workspaces_are_dispatched_independently(recorder):
    recorder.add("feed")
    blocked = make_workspace("Blocked")
    healthy = make_workspace("Healthy")
    recorder.failing["feed"] = lambda event: event.workspace_id == blocked
    emit_notes(blocked, "b1", "b2")
    emit_notes(healthy, "h1", "h2")

    report = events.dispatch_pending()

    assert (report.dispatched, report.failed) == (2, 1)
    assert recorder.texts("feed", healthy) == ["h1", "h2"]
    assert recorder.texts("feed", blocked) == ["b1"]


def test_each_consumer_runs_scoped_to_its_events_workspace(recorder):
    seen = []

    @events.consumer("scoped")
    def scoped(event):
        # The consumer sees its event's workspace only: its own query returns that one's events.
        workspaces = frozenset(row.workspace_id for row in outbox_rows())
        seen.append((event.workspace_id, current_workspace_id(), workspaces))

    first = make_workspace("First")
    second = make_workspace("Second")
    emit_notes(first, "f1")
    emit_notes(second, "s1")

    # The dispatcher serves every workspace, whatever scope it is started in (RQ starts it in none).
    with workspace_scope(uuid.uuid4()):
        assert events.dispatch_pending().dispatched == 2

    assert set(seen) == {(first, first, frozenset({first})), (second, second, frozenset({second}))}


def test_one_dispatcher_at_a_time_per_workspace(recorder):
    recorder.add("feed")
    busy = make_workspace("Busy")
    free = make_workspace("Free")
    emit_notes(busy, "b1")
    emit_notes(free, "f1")
    other_dispatcher = dispatch_module.workspace_lock(busy)
    assert other_dispatcher.acquire(blocking=False)

    report = events.dispatch_pending()

    assert report.busy == [busy]
    assert recorder.texts("feed") == ["f1"]

    other_dispatcher.release()
    assert events.dispatch_pending().dispatched == 1
    assert recorder.texts("feed") == ["f1", "b1"]


def test_an_event_is_abandoned_after_the_last_attempt_and_the_workspace_moves_on(app, recorder, monkeypatch):
    monkeypatch.setitem(app.config, "OUTBOX_MAX_ATTEMPTS", 2)
    recorder.add("feed")
    recorder.failing["feed"] = lambda event: event.payload["text"] == "poison"
    workspace_id = make_workspace("Acme")
    emit_notes(workspace_id, "poison", "after")

    assert events.dispatch_pending(workspace_id=workspace_id).failed == 1
    make_retry_due(workspace_id)
    report = events.dispatch_pending(workspace_id=workspace_id)

    assert (report.abandoned, report.dispatched) == (1, 1)
    assert recorder.texts("feed") == ["poison", "poison", "after"]
    poison, after = outbox_rows(workspace_id)
    assert poison.abandoned_at is not None and poison.dispatched_at is None
    assert after.dispatched_at is not None


def test_the_event_object_is_immutable_and_each_consumer_gets_its_own_payload(recorder):
    workspace_id = make_workspace("Acme")
    seen = []

    @events.consumer("meddler")
    def meddle(event):
        with pytest.raises(FrozenInstanceError):
            event.type = "something.else"
        event.payload["text"] = "changed"

    @events.consumer("reader")
    def read(event):
        seen.append(event)

    emit_notes(workspace_id, "original")
    events.dispatch_pending(workspace_id=workspace_id)

    assert seen[0].payload == {"text": "original"}
    assert (seen[0].type, seen[0].workspace_id, seen[0].actor_id) == ("probe.note.added", workspace_id, None)


# --- the RQ path and the sweep ----------------------------------------------------------------


def test_events_emitted_by_a_consumer_are_dispatched_by_the_same_job(app, recorder):
    recorder.add("feed")

    @events.consumer("echo")
    def echo(event):
        if event.payload["text"] == "ping":
            events.emit("probe.note.added", {"text": "pong"}, workspace_id=event.workspace_id)

    workspace_id = make_workspace("Acme")
    emit_notes(workspace_id, "ping")

    run_jobs_in_process(app)

    assert recorder.texts("feed") == ["ping", "pong"]
    assert all(row.dispatched_at is not None for row in outbox_rows(workspace_id))


def test_the_sweep_delivers_events_whose_dispatch_request_was_lost(app, recorder, monkeypatch):
    recorder.add("feed")
    workspace_id = make_workspace("Acme")

    def redis_down(workspace_id):
        raise outbox_module.redis.ConnectionError("redis is away")

    monkeypatch.setattr(outbox_module, "request_dispatch", redis_down)
    emit_notes(workspace_id, "survives")  # the commit succeeds although the request is lost
    assert queued_job_ids() == []

    result = events.sweep_outbox()

    assert result["dispatched"] == 1
    assert recorder.texts("feed") == ["survives"]


def test_the_sweep_runs_every_thirty_seconds_and_prunes_week_old_dispatched_events(recorder):
    assert any(job.func is events.sweep_outbox and job.interval == 30 for job in PERIODIC_JOBS)
    recorder.add("feed")
    workspace_id = make_workspace("Acme")
    emit_notes(workspace_id, "old", "recent", "stuck")
    events.dispatch_pending(workspace_id=workspace_id)
    old, recent, stuck = outbox_rows(workspace_id)
    old_id = old.id
    old.dispatched_at = utcnow() - timedelta(days=8)
    recent.dispatched_at = utcnow() - timedelta(days=6)
    stuck.dispatched_at = None
    stuck.created_at = utcnow() - timedelta(days=30)
    stuck.next_attempt_at = utcnow() + timedelta(hours=1)
    db.session.commit()

    assert events.sweep_outbox()["pruned"] == 1

    assert [row.payload["text"] for row in outbox_rows(workspace_id)] == ["recent", "stuck"]
    assert db.session.get(OutboxDelivery, (old_id, "feed")) is None
