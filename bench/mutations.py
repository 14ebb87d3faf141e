"""Does the suite catch the bugs that matter? Each mutation below breaks one promise in a copy of
the code; the tests named for it must then fail. Prints one row per mutation and the count caught.

Usage:  .venv/bin/python bench/mutations.py [--only NAME ...]

A mutation is a text replacement that must match exactly once (so a stale one fails loudly rather
than test nothing); the copy shares this checkout's .venv. Runs the named test files only, with -x;
a name may be one test ("tests/test_page.py::test_..."), which must then exist (pytest's "not
found" or "no tests ran" is an error here, not a catch).
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Mutation:
    name: str
    file: str
    old: str
    new: str
    tests: tuple[str, ...]


MUTATIONS = [
    Mutation("a Live Photo's video goes its own way", "chalicelib/flows/inbox.py",
             "leads.get(f.path_lower)) for f in files]", "None) for f in files]",
             ("tests/test_camera_roll.py::test_a_live_photo_its_video_and_its_edit_land_together_in_its_class_folder_"
              "and_undo_puts_all_three_back",)),
    Mutation("a companion keeps its own name beside a renamed photo", "chalicelib/rules/sorting.py",
             'name = f"{lead.stem}{PurePosixPath(photo.path).suffix}" if lead.stem else None', "name = None",
             ("tests/test_camera_roll.py::test_a_live_photos_video_is_renamed_with_its_photo_when_the_class_folder_"
              "has_that_name_already",)),
    Mutation("a late video forgets its photo", "chalicelib/adapters/state/ledger.py",
             'return {pk.removeprefix("pair#"): item["file_id"]["S"]', 'return {} or {pk: item["file_id"]["S"]',
             ("tests/test_camera_roll.py::test_a_live_photos_video_uploaded_after_its_photo_was_sorted_follows_it_"
              "into_its_class_folder",)),
    Mutation("a RAW classified by its thumbnail", "chalicelib/rules/photo_files.py",
             "if found is not None and (best is None or found[0] > best[0]):",
             "if found is not None and (best is None or found[0] < best[0]):",
             ("tests/test_camera_roll.py::test_a_raws_preview_is_its_largest_embedded_jpeg_not_its_thumbnail_nor_its_"
              "lossless_sensor_data",)),
    Mutation("a lone video moved without videos folder", "chalicelib/rules/sorting.py",
             "    if config.videos_folder is None:\n", "    if False:\n",
             ("tests/test_camera_roll.py::test_a_video_on_its_own_stays_in_the_inbox_by_default",)),
    Mutation("a correction leaves the Live Photo's video behind", "chalicelib/flows/review.py",
             "along = _beside(info, state.followers(file_id), store)", "along: list[tuple[str, str]] = []",
             ("tests/test_review.py::test_a_correction_takes_a_live_photos_video_and_raw_along_and_its_undo_brings_"
              "them_back",)),
    Mutation("one job per listing page", "chalicelib/flows/inbox.py",
             "            if job_id is None and photos:", "            if photos:",
             ("tests/test_scale.py::test_a_notification_listing_several_pages_is_one_job_whose_total_counts_every_"
              "photo_once",)),
    Mutation("drop one photo", "chalicelib/flows/inbox.py",
             "leads.get(f.path_lower)) for f in files]", "leads.get(f.path_lower)) for f in files[1:]]",
             ("tests/test_service.py",)),
    Mutation("skip the move but record success", "chalicelib/adapters/dropbox_photos.py",
             "moved = self._dropbox.move_batch(",
             "moved = [FileInfo(m.photo.ref.file_id, '', f'/{m.folder}/x', '', '', 0, m.photo.version) "
             "for m in todo] or self._dropbox.move_batch(", ("tests/test_service.py",)),
    Mutation("no autorename", "chalicelib/adapters/dropbox_store.py",
             "entries, autorename=True,", "entries, autorename=False,", ("tests/test_guarantees.py",)),
    Mutation("cursor stored before enqueueing", "chalicelib/flows/inbox.py",
             "            listing += self._queue(photos, others, job_id=job_id)\n"
             "            if not self._save_cursor(key, page.cursor, version):\n",
             "            self._save_cursor(key, page.cursor, version)\n"
             "            listing += self._queue(photos, others, job_id=job_id)\n"
             "            if False:\n", ("tests/test_guarantees.py",)),
    Mutation("ignore the webhook signature", "chalicelib/flows/webhook.py",
             "if not signature_ok(body, signature, self.app_secret):", "if False:", ("tests/test_service.py",)),
    Mutation("any Bearer key", "chalicelib/flows/auth.py",
             'return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), service_key.encode())',
             'return scheme.lower() == "bearer"', ("tests/test_service.py",)),
    Mutation("== instead of compare_digest", "chalicelib/flows/auth.py",
             "hmac.compare_digest(token.strip().encode(), service_key.encode())",
             "token.strip() == service_key", ("tests/test_guarantees.py",)),
    Mutation("webhook 200 on a Dropbox error", "app.py",
             'raise Unavailable(f"cannot reach Dropbox now: {e}") from None',
             'return Response({"queued": 0, "skipped": 0})', ("tests/test_security.py",)),
    Mutation("transient error treated as final", "chalicelib/adapters/dropbox_photos.py",
             'return Outcome(request.path, "retry", reason="dropbox_busy"',
             'return Outcome(request.path, "failed", reason="dropbox_busy"', ("tests/test_delivery.py",)),
    Mutation("acknowledge when recording fails", "chalicelib/flows/classify.py",
             "return Acks(done=undone, retry=[m.receipt_handle for m in ours])",
             "return Acks(done=undone + [m.receipt_handle for m in ours], retry=[])",
             ("tests/test_guarantees.py",)),
    Mutation("no size limit", "chalicelib/rules/photo_files.py",
             "    if size > max_bytes:", "    if False:", ("tests/test_main_folder.py", "tests/test_images.py")),
    Mutation("a pending notification forgotten", "chalicelib/flows/inbox.py",
             "        while not self.state.release_lease(account, owner):",
             "        while not self.state.release_lease(account, owner, force=True):", ("tests/test_delivery.py",)),
    Mutation("a sync out of time just stops", "chalicelib/flows/inbox.py",
             "        self.queue.send_sync(account)\n", "", ("tests/test_nothing_forgotten.py",)),
    Mutation("each request counted, not each photo", "chalicelib/adapters/state/ledger.py",
             "photos.setdefault(request.file_id, _Photo())", "photos.setdefault(request_key(request), _Photo())",
             ("tests/test_nothing_forgotten.py",)),
    Mutation("a late failure un-sorts a placed photo", "chalicelib/adapters/state/ledger.py",
             " or (_placed(before) and not _placed(photo.counter))", "", ("tests/test_state_store.py",)),
    Mutation("a swapped file moved as if classified", "chalicelib/adapters/dropbox_photos.py",
             "            return self._put_back(photo, result)", "            return result.path_display",
             ("tests/test_nothing_forgotten.py",)),
    Mutation("own recorded moves queued to be learned", "chalicelib/flows/class_folders.py",
             "\n                if not learning.put_there(top_folder(f.path_display), put_in(ledger.get(f.id)))]", "]",
             ("tests/test_learning.py",)),
    Mutation("own moves learned as examples", "chalicelib/rules/learning.py",
             " or put_there(now_in, put_in):", ":", ("tests/test_stories_both_stores.py",)),
    Mutation("undo takes a photo back from wherever it is", "chalicelib/rules/undo.py",
             "    if now.casefold() != to.casefold():\n        return Left(moved_since(now))\n", "",
             ("tests/test_stories_both_stores.py::"
              "test_undo_leaves_a_photo_the_user_moved_within_its_class_folder_and_says_where_it_is",)),
    Mutation("undone photos sorted again by the webhook", "chalicelib/flows/inbox.py",
             "photos = [f for f in photos if not (f.id in entries and entries[f.id].undone)]", "photos = list(photos)",
             ("tests/test_undo.py",)),
    Mutation("a dry run moves the photos", "chalicelib/rules/sorting.py",
             "    if dry_run:\n        ended |= {i: _decided(", "    if False:\n        ended |= {i: _decided(",
             ("tests/test_preview.py",)),
    Mutation("a dry run counted as sorted", "chalicelib/adapters/state/ledger.py",
             "            if request.dry_run:\n", "            if False:\n", ("tests/test_preview.py",)),
    Mutation("copies sorted into their class", "chalicelib/rules/sorting.py",
             "            copies = earlier\n", "            pass\n", ("tests/test_duplicates.py",)),
    Mutation("two copies at once both the first", "chalicelib/adapters/state/claims.py",
             'condition = "attribute_not_exists(pk) OR file_id = :me"',
             'condition = "attribute_not_exists(pk) OR attribute_exists(pk)"',
             ("tests/test_duplicates.py",)),
    Mutation("a copy of a deleted photo is a copy", "chalicelib/adapters/dropbox_originals.py",
             "return info.path_display if info is not None and info.content_hash == holder.content_hash else None",
             "return holder.path", ("tests/test_duplicates.py",)),
    Mutation("a folder forgets what it sorted before", "cli/folder_photos.py",
             'self.journal.record(version, file, f"{folder}/{moved}", content)',
             'self.journal.record(version, file, f"{folder}/{moved}")', ("tests/test_main_folder.py",)),
    # Issue 25: one ledger per photo.
    Mutation("undo marks the photos it left alone as undone", "chalicelib/flows/undo.py",
             'state.mark_undone(job_id, [m["file_id"] for m in moved_back]',
             "state.mark_undone(job_id, [f for f, _, _ in moves]",
             ("tests/test_ledger.py::test_undo_leaves_a_photo_that_a_later_job_sorted_again_and_says_which_to_undo",)),
    Mutation("a redelivered message moves an undone photo again", "chalicelib/flows/classify.py",
             "undone = {f for f, entry in entries.items() if entry.undone}", "undone: set[str] = set()",
             ("tests/test_ledger.py::"
              "test_an_undone_photo_stays_in_all_counted_nowhere_when_sqs_delivers_its_message_again",)),
    Mutation("a user's drag of a queued photo taken for the service's move", "chalicelib/rules/sorting.py",
             "if outcome.reason not in (MOVED_BY_US, SORTED_ALREADY) or outcome.to_path is None:",
             'if outcome.reason not in (MOVED_BY_US, SORTED_ALREADY, "moved_away") or outcome.to_path is None:',
             ("tests/test_ledger.py::"
              "test_a_queued_photo_the_user_drags_into_a_class_folder_is_counted_gone_learned_and_never_undone",)),
    Mutation("a rename inside a class folder queued to be learned", "chalicelib/flows/class_folders.py",
             "learning.put_there(top_folder(f.path_display), put_in(ledger.get(f.id)))",
             "learning.put_there(f.path_display, (ledger.get(f.id) or LedgerEntry()).to)",
             ("tests/test_ledger.py::"
              "test_a_sorted_photo_renamed_inside_its_class_folder_is_not_learned_as_an_example",)),
    Mutation("undo moves whatever is at the job's path", "chalicelib/flows/undo.py",
             "[(file_id, came_from) for file_id, _, came_from, _ in chunk]",
             "[(now, came_from) for _, now, came_from, _ in chunk]",
             ("tests/test_ledger.py::"
              "test_undo_never_moves_a_file_the_user_put_at_the_jobs_path_while_it_was_undoing",)),
    Mutation("a job undoes a photo another job moved", "chalicelib/adapters/state/ledger.py",
             " and not outcome.by_another  # what an undo moves back", "  # what an undo moves back",
             ("tests/test_ledger.py::"
              "test_a_photo_queued_by_the_webhook_and_by_post_sort_is_sorted_in_both_jobs_and_undone_by_the_mover",)),
    Mutation("an undo whose answer was lost says it moved nothing", "chalicelib/flows/undo.py",
             "landed = _back_in(store, file_id, came_from) if isinstance(result, Exception) else result",
             "landed = None if isinstance(result, Exception) else result",
             ("tests/test_ledger.py::"
              "test_an_undo_whose_move_answer_dropbox_lost_still_puts_the_photos_back_and_says_so",)),
    Mutation("undo takes back a later job's sort", "chalicelib/flows/undo.py",
             "sorted_again = entry is None or entry.job_id != job_id or entry.to != to.lower()", "sorted_again = False",
             ("tests/test_ledger.py::test_undo_leaves_a_photo_that_a_later_job_sorted_again_and_says_which_to_undo",)),
    Mutation("an undone job undone again", "chalicelib/flows/undo.py",
             "if job is not None and job.undone_at is not None:", "if False:",
             ("tests/test_ledger.py::"
              "test_an_undone_job_says_undone_and_when_everywhere_and_a_second_undo_is_a_409_already_undone",)),
    Mutation("a photo that was not moved keeps its claim on the bytes", "chalicelib/rules/sorting.py",
             "if originals is not None and not_placed:", "if False:",
             ("tests/test_main_folder.py::"
              "test_with_duplicates_folder_a_copy_whose_original_could_not_be_moved_stays_in_all_too",)),
    Mutation("a copy of a photo no longer sorted is a duplicate", "chalicelib/adapters/dropbox_originals.py",
             "if entry is None or entry.to is None:", "if False:",
             ("tests/test_ledger.py::"
              "test_a_copy_of_an_undone_photo_is_no_duplicate_even_when_the_undo_could_not_withdraw_its_claim",)),
    Mutation("a claim whose answer was lost is ignored", "chalicelib/adapters/state/claims.py",
             'condition = "attribute_not_exists(pk) OR file_id = :me"', 'condition = "attribute_not_exists(pk)"',
             ("tests/test_duplicates.py",)),
    Mutation("the page shown in another site's frame", "chalicelib/flows/page.py",
             " form-action 'none'; frame-ancestors 'none'\")", " form-action 'none'\")",
             ("tests/test_page.py::test_another_site_cannot_show_the_page_in_a_frame",)),
    Mutation("an overwrite moved as if classified", "chalicelib/adapters/dropbox_photos.py",
             " and (result.content_hash or result.rev) == photo.version", "",
             ("tests/test_nothing_forgotten.py::"
              "test_a_photo_overwritten_after_it_was_classified_goes_back_and_is_sorted_as_what_it_is_now",)),
    Mutation("examples count in full for every class", "chalicelib/rules/examples.py",
             "    weighted: np.ndarray = score(similar) * share / share.sum(axis=1, keepdims=True)",
             "    weighted: np.ndarray = score(similar)",
             ("tests/test_learning.py::"
              "test_examples_two_classes_share_count_half_for_each_so_the_photos_name_decides",)),
    Mutation("a release drops another sync's lease", "chalicelib/adapters/state/cursors.py",
             'condition="lease_owner = :o" + pending_clear',
             'condition="(lease_owner = :o OR attribute_exists(lease_owner))" + pending_clear',
             ("tests/test_state_store.py::"
              "test_a_sync_whose_lease_ran_out_cannot_release_the_lease_the_next_sync_took",)),
    Mutation("/Unsorted and /Duplicates learned", "chalicelib/rules/configuration.py",
             '{self.unsorted_folder.casefold(), top_folder(self.inbox).casefold(),\n'
             '                                         (self.duplicates_folder or "").casefold(),\n'
             '                                         (self.videos_folder or "").casefold()}',
             "{top_folder(self.inbox).casefold()}",
             ("tests/test_learning.py::"
              "test_photos_the_user_puts_in_unsorted_or_duplicates_are_no_examples_of_a_class",)),
    Mutation("photos in subfolders learned", "chalicelib/flows/class_folders.py", "len(parts) == 2", "len(parts) >= 2",
             ("tests/test_learning.py::test_photos_in_a_class_folders_subfolders_are_no_examples",)),
    Mutation("thumbnails of any path", "chalicelib/flows/review.py",
             "if not wanted.startswith(\"id:\") and not _inside(wanted, folders):", "if False:",
             ("tests/test_review.py::test_the_thumbnail_route_refuses_a_path_outside_the_apps_folders_a_file_id_there_"
              "and_a_missing_key",)),
    Mutation("a correction keeps what the photo taught where it was", "chalicelib/flows/review.py",
             "    state.forget_examples([info.path_display])\n", "",
             ("tests/test_review.py::test_a_correction_put_back_by_its_undo_teaches_nothing_and_the_photo_is_where_"
              "the_service_put_it",)),
    Mutation("a photo the user moved stays in the review queue", "chalicelib/flows/review.py",
             "if top_folder(info.path_display).casefold() != candidate.folder.casefold() or not _directly_in(info):",
             "if False:",
             ("tests/test_review.py::test_a_photo_the_user_moved_since_leaves_the_review_queue_and_its_correction_is_a_409",)),
    Mutation("Retry-After not waited for", "chalicelib/adapters/dropbox_store.py",
             "delay, asked = float(e.backoff), True", "asked = True",
             ("tests/test_dropbox_store.py::test_a_rate_limited_call_waits_the_retry_after_then_succeeds",)),
    Mutation("a Retry-After past the wait budget waited out", "chalicelib/adapters/dropbox_store.py",
             "if asked and delay > left:", "if False:",
             ("tests/test_dropbox_store.py::test_a_retry_after_longer_than_the_wait_budget_gives_up_at_once_with_a_"
              "transient_error",)),
    Mutation("a redelivered example counted again", "chalicelib/adapters/state/examples.py",
             "if exists == (sign < 0):", "if True:",
             ("tests/test_state_store.py::test_example_counts_follow_adds_redeliveries_and_forgets_without_reading_"
              "the_examples",)),
    Mutation("the webhook's listing without a time budget", "chalicelib/flows/paging.py",
             "if now + slowest > self._deadline:", "if False:",
             ("tests/test_scale.py::test_a_webhook_out_of_time_queues_the_pages_that_fit_and_the_rest_is_queued_by_"
              "the_classify_function_each_once",)),
    Mutation("an undo asked again forgets what its first try put back", "chalicelib/flows/undo.py",
             "if entry is not None and entry.undone_by == job_id:\n", "if False:\n",
             ("tests/test_ledger.py::test_an_undo_asked_again_after_aws_failed_past_its_moves_reports_them_moved_back_"
              "and_counts_nothing_twice",)),
    Mutation("the webhook lists /All whatever the inbox", "chalicelib/flows/webhook.py",
             "inbox = (config or SortConfig(())).inbox", "inbox = SortConfig(()).inbox",
             ("tests/test_service.py::"
              "test_once_the_inbox_is_another_folder_the_webhook_and_post_sort_sort_that_one_and_leave_all_alone",)),
    Mutation("undo puts photos in /All, not the inbox they came from", "chalicelib/flows/undo.py",
             "store.move_batch([(file_id, came_from) for file_id, _, came_from, _ in chunk])",
             'store.move_batch([(file_id, "/All/" + came_from.rsplit("/", 1)[1]) for file_id, _, came_from, _ in chunk])',
             ("tests/test_stories_both_stores.py::"
              "test_a_nested_inbox_is_sorted_into_top_level_class_folders_leaving_all_alone_and_undo_puts_it_back",)),
    Mutation("by_date ignored by the moves", "chalicelib/rules/sorting.py",
             'else "/".join(filter(None, (config.folder_for(decision.label), date))))',
             "else config.folder_for(decision.label))",
             ("tests/test_stories_both_stores.py::"
              "test_by_date_each_photo_goes_into_the_date_folder_of_its_exif_date_and_undo_puts_back_byte_for_byte",)),
    Mutation("photos in date folders not learned", "chalicelib/flows/class_folders.py",
             "(len(parts) == 2 or len(parts) == 3 and is_date_folder(parts[1]))", "(len(parts) == 2)",
             ("tests/test_stories_both_stores.py::test_photos_in_a_class_folders_date_folders_are_its_examples_and_"
              "a_move_between_classes_is_a_correction",)),
]


def run(mutation: Mutation) -> tuple[bool, str, float]:
    """(caught, the first failing test or why not, seconds)."""
    with tempfile.TemporaryDirectory(prefix="mutant-") as tmp:
        copy = Path(tmp) / "repo"
        shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".venv", ".venv-build", ".git", "build",
                                                                  "sandbox", "__pycache__"))
        (copy / ".venv").symlink_to(ROOT / ".venv")
        target = copy / mutation.file
        text = target.read_text()
        if text.count(mutation.old) != 1:
            raise SystemExit(f"{mutation.name}: the text to replace occurs {text.count(mutation.old)} times "
                             f"in {mutation.file}; update this mutation")
        target.write_text(text.replace(mutation.old, mutation.new))
        started = time.monotonic()
        result = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", *mutation.tests],
                                cwd=copy, capture_output=True, text=True, timeout=900)
        seconds = time.monotonic() - started
    failed = re.findall(r"^FAILED (\S+)", result.stdout, re.MULTILINE)
    if result.returncode in (4, 5):  # a test named that does not exist, or none ran: nothing was tried
        raise SystemExit(f"{mutation.name}: pytest found no test to run in {' '.join(mutation.tests)} "
                         f"(exit {result.returncode}); update this mutation\n{result.stdout[-2000:]}")
    if result.returncode == 0:
        return False, "all tests passed", seconds
    return True, failed[0].split("::", 1)[-1] if failed else f"pytest exit {result.returncode}", seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run the mutations whose name contains NAME")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTATIONS if not args.only or any(word in m.name for word in args.only)]
    caught = 0
    print(f"{'mutation':<40} {'caught by':<100} seconds")
    for mutation in chosen:
        hit, by, seconds = run(mutation)
        caught += hit
        print(f"{mutation.name:<40} {by if hit else 'NOT CAUGHT: ' + by:<100} {seconds:6.1f}", flush=True)
    print(f"caught {caught} of {len(chosen)} mutations")
    return 0 if caught == len(chosen) else 1


if __name__ == "__main__":
    sys.exit(main())
