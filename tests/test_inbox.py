"""Which files an inbox scan takes: in-progress names and unsettled files wait."""

from __future__ import annotations

import os
import time

from orchestration.ingest.inbox import scan


def test_scan_walks_folders_in_name_order_and_skips_in_progress_files(tmp_path):
    (tmp_path / "b.txt").write_text("b")
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.txt").write_text("c")
    (tmp_path / "d.txt.part").write_text("being written")
    (tmp_path / ".hidden.txt").write_text("hidden")
    found = scan([tmp_path], settle_seconds=0)
    assert [f.path.relative_to(tmp_path).as_posix() for f in found.files] == [
        "a.txt",
        "b.txt",
        "sub/c.txt",
    ]
    assert found.not_ready == []


def test_without_a_settle_time_a_file_dated_ahead_of_the_clock_is_taken(tmp_path):
    ahead = tmp_path / "ahead.txt"
    ahead.write_text("from a clock a moment ahead")
    os.utime(ahead, (time.time() + 5, time.time() + 5))
    assert [f.path.name for f in scan([tmp_path], settle_seconds=0).files] == ["ahead.txt"]
    assert [p.path.name for p in scan([tmp_path], settle_seconds=2).not_ready] == ["ahead.txt"]


def test_a_file_changed_moments_ago_waits_for_the_next_run(tmp_path):
    fresh = tmp_path / "fresh.txt"
    fresh.write_text("still growing")
    settled = tmp_path / "settled.txt"
    settled.write_text("done")
    an_hour_ago = time.time() - 3600
    os.utime(settled, (an_hour_ago, an_hour_ago))
    found = scan([tmp_path], settle_seconds=30)
    assert [f.name for f in found.files] == ["settled.txt"]
    assert [p.path.name for p in found.not_ready] == ["fresh.txt"]
    assert "may still be being written" in found.not_ready[0].reason
    # A file named on the command line is taken as it is.
    assert [f.name for f in scan([fresh], settle_seconds=30).files] == ["fresh.txt"]


def test_broken_links_and_special_files_are_unusable_with_a_reason(tmp_path):
    (tmp_path / "dangling.txt").symlink_to(tmp_path / "gone.txt")
    os.mkfifo(tmp_path / "pipe.txt")
    found = scan([tmp_path], settle_seconds=0)
    reasons = {p.path.name: p.reason for p in found.unreadable}
    assert reasons == {
        "dangling.txt": "a broken symbolic link",
        "pipe.txt": "not a regular file (a device, pipe or socket)",
    }
    assert found.files == [] and found.not_ready == []
