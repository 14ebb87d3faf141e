"""The DynamoDB state through moto: conditional writes are what keep changes from being lost or doubled."""
from __future__ import annotations

from chalicelib.adapters.state.table import key
from chalicelib.rules.configuration import MAX_EXAMPLES, SortConfig
from chalicelib.rules.messages import SortRequest
from chalicelib.rules.outcomes import Outcome
from chalicelib.rules.ports import Example


def test_config_round_trip_and_every_put_bumps_its_version(state):
    assert state.get_config() is None and state.config_version() == 0
    state.put_config(SortConfig(("cat", "sports car"), 0.4, "Misc"))
    assert state.get_config() == SortConfig(("cat", "sports car"), 0.4, "Misc") and state.config_version() == 1
    state.put_config(SortConfig(("dog",)))
    assert state.get_config() == SortConfig(("dog",), None, "Unsorted") and state.config_version() == 2
    state.put_config(SortConfig(("dog",)))  # the same classes stored again: a change all the same
    assert state.config_version() == 3


def test_config_with_class_thresholds_round_trips_and_one_stored_before_them_loads_without_any(state):
    own = SortConfig(("cat", "receipt", "sports car"), 0.4, thresholds=(("receipt", 0.6), ("sports car", 1.0)))
    state.put_config(own)
    assert state.get_config() == own and own.class_thresholds() == (0.4, 0.6, 1.0)
    state.table.update("config", "current", "SET #v = :v", {"#v": "value"},
                       {":v": {"M": {"classes": {"L": [{"S": "cat"}]}, "unsorted_folder": {"S": "Unsorted"}}}})
    assert state.get_config() == SortConfig(("cat",)) and state.get_config().class_thresholds() == (None,)


def test_cursor_write_is_conditional_on_the_version_read(state):
    assert state.get_cursor("dbid:a") == (None, 0)
    assert state.put_cursor("dbid:a", "c1", 0)
    cursor, version = state.get_cursor("dbid:a")
    assert (cursor, version) == ("c1", 1)
    assert not state.put_cursor("dbid:a", "stale", 0)  # someone read version 0 before c1 was stored
    assert state.put_cursor("dbid:a", "c2", 1)
    assert state.get_cursor("dbid:a") == ("c2", 2)


def test_lease_is_exclusive_and_a_waiting_notification_is_remembered(state):
    holder = state.acquire_lease("dbid:a", 60)
    assert holder
    assert state.acquire_lease("dbid:a", 60) is None  # leaves the pending mark
    assert state.release_lease("dbid:a", holder) is False  # pending: the holder must sync again
    assert state.release_lease("dbid:a", holder) is True
    assert state.acquire_lease("dbid:a", 60)


def test_expired_lease_passes_on(state):
    assert state.acquire_lease("dbid:a", -1)
    assert state.acquire_lease("dbid:a", 60)


def test_a_sync_whose_lease_ran_out_cannot_release_the_lease_the_next_sync_took(state):
    late = state.acquire_lease("dbid:a", -1)  # a sync that ran out of its lease, still running
    holder = state.acquire_lease("dbid:a", 60)  # the sync that took the lease over
    assert late and holder and late != holder
    assert state.release_lease("dbid:a", late) is True  # the late sync lets go of nothing of its own
    assert state.release_lease("dbid:a", late, force=True) is True
    assert state.acquire_lease("dbid:a", 60) is None  # still held: no third sync runs beside it
    assert state.release_lease("dbid:a", holder) is False  # the notification that came meanwhile
    assert state.release_lease("dbid:a", holder) is True


def test_an_outcome_is_counted_once_however_often_it_is_recorded(state):
    job = state.create_job(total=3)
    cat = SortRequest("id:1", "/All/a.jpg", "r1", job)
    sorted_cat = Outcome(cat.path, "sorted", folder="Cat", to_path="/Cat/a.jpg", label="cat", score=0.9)
    assert state.record(cat, sorted_cat)
    assert not state.record(cat, sorted_cat)
    state.record(SortRequest("id:2", "/All/b.jpg", "r1", job),
                 Outcome("/All/b.jpg", "unsorted", folder="Unsorted", to_path="/Unsorted/b.jpg"))
    state.record(SortRequest("id:3", "/All/c.jpg", "r1", job),
                 Outcome("/All/c.jpg", "skipped", reason="corrupt", detail="bad"))
    found = state.job(job)
    total, counts = found.total, found.counts
    assert total == 3 and counts.finished == 3
    assert counts.to_dict() == {"sorted": {"Cat": 1}, "unsorted": 1, "skipped": 1, "failed": 0, "gone": 0}
    assert state.totals()[1].to_dict() == counts.to_dict()
    [event] = state.recent_events()
    assert (event["kind"], event["path"], event["reason"]) == ("skipped", "/All/c.jpg", "corrupt: bad")
    [record] = state.outcomes("id:1")
    assert (record["from"], record["to"], record["label"]) == ("/All/a.jpg", "/Cat/a.jpg", "cat")


def test_a_batch_is_recorded_once_even_when_part_of_it_was_recorded_before(state):
    job = state.create_job(total=3)
    requests = [SortRequest(f"id:{i}", f"/All/{i}.jpg", "r1", job) for i in range(3)]
    outcomes = [(requests[0], Outcome("/All/0.jpg", "sorted", folder="Cat", to_path="/Cat/0.jpg", label="cat")),
                (requests[1], Outcome("/All/1.jpg", "sorted", folder="Dog", to_path="/Dog/1.jpg", label="dog")),
                (requests[2], Outcome("/All/2.jpg", "skipped", reason="corrupt", detail="bad"))]
    assert state.record(*outcomes[1])
    assert state.record_many(outcomes) == [True, False, True]
    assert state.record_many(outcomes) == [False, False, False]
    counts = state.job(job).counts
    assert counts.to_dict() == {"sorted": {"Cat": 1, "Dog": 1}, "unsorted": 0, "skipped": 1, "failed": 0, "gone": 0}
    assert state.totals()[1].to_dict() == counts.to_dict()
    assert len(state.recent_events()) == 1


def test_a_photo_once_placed_stays_counted_there_when_a_later_request_for_it_fails(state):
    sorted_once = Outcome("/All/a.jpg", "sorted", folder="Cat", to_path="/Cat/a.jpg", label="cat")
    state.record(SortRequest("id:1", "/All/a.jpg", "r1"), sorted_once)
    late = Outcome("/All/a.jpg", "failed", reason="gave_up", detail="a late duplicate request gave up")
    assert state.record(SortRequest("id:1", "/All/a.jpg", "r1", "job"), late)
    assert state.totals()[1].to_dict() == {"sorted": {"Cat": 1}, "unsorted": 0, "skipped": 0, "failed": 0, "gone": 0}


def test_only_the_newest_examples_of_a_class_are_kept(state):
    for i in range(MAX_EXAMPLES + 5):
        state.put_examples([Example("Cat", "example", f"id:{i}", f"/cat/{i}.jpg", i.to_bytes(2, "big"))])
    positives, negatives = state.examples(["Cat"])["cat"]
    assert positives == [i.to_bytes(2, "big") for i in range(5, MAX_EXAMPLES + 5)] and negatives == []
    assert state.example_counts() == {"cat": (MAX_EXAMPLES, 0)}


def test_more_photos_than_one_batch_read_takes_are_all_read(state):
    ids = [f"id:{i}" for i in range(250)]  # BatchGetItem takes 100 keys at a time
    state.moving([(SortRequest(i, f"/All/{i}.jpg", "r1", "job"), "Cat") for i in ids])
    assert all(entry.moving for entry in state.ledger(ids).values()) and len(state.ledger(ids)) == 250
    state.mark_undone("job", ids)
    assert {i for i, entry in state.ledger(ids).items() if entry.undone} == set(ids)


def cat(file_id: str, role: str = "example") -> Example:
    return Example("Cat", role, file_id, f"/cat/{file_id[3:]}.jpg", b"\0\1")


def test_example_counts_follow_adds_redeliveries_and_forgets_without_reading_the_examples(state, monkeypatch):
    assert state.example_counts() == {}  # counted once (nothing yet); kept from here on
    state.put_examples([cat("id:1"), cat("id:2"), cat("id:2"), cat("id:3", "counter")])  # id:2 twice in a batch
    state.put_examples([cat("id:1")])  # redelivered: the same example again
    state.forget_examples(["/cat/2.jpg", "/cat/9.jpg"])
    queries = []
    monkeypatch.setattr(state.table, "query", lambda *a, **k: queries.append(a))
    assert state.example_counts() == {"cat": (1, 1)}
    assert queries == []  # one item read, not the partition


def test_examples_stored_before_there_were_counts_are_counted_once_then_counted_as_they_change(state, monkeypatch):
    # As an older version left them: the examples and the version, no counts.
    state.table.batch_write([{"PutRequest": {"Item": {**key("examples", f"cat#example#id:{i}"),
                                                      "path": {"S": f"/cat/{i}.jpg"}, "features": {"B": b"\0"},
                                                      "at": {"N": str(i)}}}} for i in range(3)])
    state.table.put({**key("examples", "version"), "n": {"N": "3"}})
    assert state.example_counts() == {"cat": (3, 0)}
    state.put_examples([cat("id:7", "counter")])
    state.forget_examples(["/cat/0.jpg"])
    queries = []
    monkeypatch.setattr(state.table, "query", lambda *a, **k: queries.append(a))
    assert state.example_counts() == {"cat": (2, 1)}
    assert queries == []


def test_counts_left_half_made_by_a_write_during_the_first_count_are_counted_again(state):
    # A write lands between the first count and its storing: the stored counts would be stale, so
    # they are not stored, and the next call counts again.
    state.table.put({**key("examples", "version"), "n": {"N": "1"}})
    state.table.put({**key("examples", "cat#example#id:1"), "path": {"S": "/cat/1.jpg"}, "features": {"B": b"\0"},
                     "at": {"N": "1"}})
    query = state.table.query

    def query_then_a_write_lands(*args, **kwargs):
        found = query(*args, **kwargs)
        state.table.query = query
        state.put_examples([cat("id:2")])
        return found

    state.table.query = query_then_a_write_lands
    assert state.example_counts() == {"cat": (1, 0)}  # as counted, before the write
    assert state.example_counts() == {"cat": (2, 0)}
