"""File names are bytes and links may lead anywhere: every name ends loaded (or a duplicate),
links never take ingest out of the folder it walks, and a rejection never quotes the file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestration.ingest.batch import ingest_paths
from orchestration.ingest.inbox import as_text, is_in_progress_name, scan
from orchestration.ingest.ledger import Outcome

from conftest import fresh_database, run_cli

ABSTRACT = "We study a question at some length, and then answer it. " * 5


def page(title: str) -> bytes:
    return f"new\n\nDaily Papers\n\nSep 3\n\n{title}\n\n{ABSTRACT}\n".encode()


def usable_name(raw: bytes) -> bool:
    """A name a folder scan takes: one path component, not hidden nor in progress."""
    return (
        b"/" not in raw
        and b"\0" not in raw
        and raw not in (b".", b"..")
        and not is_in_progress_name(os.fsdecode(raw))
    )


# Any bytes (most of them not UTF-8), any Unicode text (markup, control
# characters, right-to-left marks), and the longest names Linux allows.
names = st.one_of(
    st.binary(min_size=1, max_size=255),
    st.text(min_size=1, max_size=60).map(lambda text: text.encode("utf-8", "surrogatepass")[:255]),
    st.sampled_from([b"bad\xffname.txt", b"[bold]x[/]", b"a\nb", b"\x1b[31mred", b"x" * 255]),
).filter(usable_name)


def recorded_names(url: str) -> dict[bytes, tuple[str, int]]:
    """Each ledger row's name as bytes, with its status and listing count."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select file_name, file_name_bytes, status, listing_count from raw.ingested_files"
        ).fetchall()
    return {
        (bytes(raw) if raw is not None else text.encode()): (status, count)
        for text, raw, status, count in rows
    }


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw_names=st.lists(names, min_size=1, max_size=40, unique=True), copies=st.integers(0, 5))
def test_any_file_name_is_ingested_once_and_kept_as_its_bytes(
    server_url, template_db, tmp_path_factory, raw_names, copies
):
    inbox = tmp_path_factory.mktemp("names")
    # The last `copies` names hold the bytes of the first file: duplicates under odd names.
    distinct = max(1, len(raw_names) - copies)
    for index, raw in enumerate(raw_names):
        (inbox / os.fsdecode(raw)).write_bytes(
            page(f"Paper number {index if index < distinct else 0}")
        )
    # Of a file and its copies, the first in the scan's (name) order is the original.
    copies_of_first = [raw_names[0], *raw_names[distinct:]]
    first = min(copies_of_first, key=lambda raw: Path(os.fsdecode(raw)))
    originals = [first, *raw_names[1:distinct]]

    with fresh_database(server_url, template_db) as url:
        report = ingest_paths(url, [inbox], settle_seconds=0)
        assert report.by_outcome == {
            Outcome.LOADED: len(originals),
            **(
                {Outcome.DUPLICATE: len(raw_names) - len(originals)}
                if len(raw_names) > len(originals)
                else {}
            ),
        }
        recorded = recorded_names(url)
        assert set(recorded) == set(raw_names)
        for raw in raw_names:
            assert recorded[raw] == (("loaded", 1) if raw in originals else ("duplicate", 0))
        # every result shows as valid text
        for result in report.results:
            result.name.encode("utf-8")

        again = ingest_paths(url, [inbox], settle_seconds=0)
        assert again.by_outcome == {Outcome.UNCHANGED: len(raw_names)}


def test_names_that_differ_only_in_bytes_that_are_not_utf8_stay_two_files(db_url, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    # Both show as "bad\ufffdname.txt"; the same bytes, so the second is a duplicate of the first.
    for raw in (b"bad\xfename.txt", b"bad\xffname.txt"):
        (inbox / os.fsdecode(raw)).write_bytes(page("One Paper"))
    report = ingest_paths(db_url, [inbox], settle_seconds=0)
    assert sorted(r.outcome for r in report.results) == [Outcome.DUPLICATE, Outcome.LOADED]
    assert recorded_names(db_url) == {
        b"bad\xfename.txt": ("loaded", 1),
        b"bad\xffname.txt": ("duplicate", 0),
    }
    assert {r.name for r in report.results} == {"bad\ufffdname.txt"}
    assert ingest_paths(db_url, [inbox], settle_seconds=0).by_outcome == {Outcome.UNCHANGED: 2}


def test_the_cli_ingests_and_reports_names_that_are_not_text(cli_env, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    nasty = [b"bad\xffname.txt", b"[bold red]markup", b"[blink]x", b"tab\tand\x1b[2Jclear"]
    for index, raw in enumerate(nasty):
        (inbox / os.fsdecode(raw)).write_bytes(page(f"Paper {index}"))
    (inbox / "copy_of_the_first.txt").write_bytes(page("Paper 0"))
    (inbox / "copy\nof the second.txt").write_bytes(page("Paper 1"))

    done = run_cli("ingest", str(inbox), env=cli_env)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "bad\ufffdname.txt" in done.stdout  # named as the original of the copy
    assert "\x1b" not in done.stdout  # an escape in a name never reaches the terminal
    # a line break in a name shows as its picture: on two lines it would read as two names
    assert "copy\u240aof the second.txt" in done.stdout
    status = json.loads(run_cli("status", "--format", "json", env=cli_env).stdout)
    assert status["files_by_status"] == {"loaded": 4, "duplicate": 2, "empty": 0, "rejected": 0}
    assert run_cli("ingest", str(inbox), env=cli_env).returncode == 0


def test_links_never_lead_out_of_the_folder_nor_round_in_a_loop(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(page("Outside"))
    inbox = tmp_path / "inbox"
    (inbox / "sub").mkdir(parents=True)
    (inbox / "sub" / "inside.txt").write_bytes(page("Inside"))
    (inbox / "to_a_file_outside.txt").symlink_to(outside / "secret.txt")
    (inbox / "to_a_folder_outside").symlink_to(outside)
    (inbox / "to_etc_passwd").symlink_to("/etc/passwd")
    (inbox / "loop").symlink_to(".")
    (inbox / "sub" / "up").symlink_to("..")
    (inbox / "sub" / "self").symlink_to("self")
    (inbox / "alias.txt").symlink_to(inbox / "sub" / "inside.txt")
    (inbox / "relative_alias.txt").symlink_to("sub/inside.txt")

    found = scan([inbox], settle_seconds=0)
    assert [f.path.relative_to(inbox).as_posix() for f in found.files] == ["alias.txt"]
    reasons = {p.path.relative_to(inbox).as_posix(): p.reason for p in found.unreadable}
    assert reasons == {
        "to_a_file_outside.txt": "a symbolic link out of the folder being ingested; not followed",
        "to_a_folder_outside": "a symbolic link out of the folder being ingested; not followed",
        "to_etc_passwd": "a symbolic link out of the folder being ingested; not followed",
        "sub/self": "a broken symbolic link",
    }
    # A folder linked in from elsewhere is walked only when it is named.
    assert [f.name for f in scan([inbox / "to_a_folder_outside"], settle_seconds=0).files] == [
        "secret.txt"
    ]


def test_a_rejected_file_is_never_quoted_in_its_reason(db_url, conn, tmp_path):
    secret = "root:x:0:0:the first line of a file nobody should see"
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "passwd.txt").write_text(f"{secret}\nsecond line\n")
    report = ingest_paths(db_url, [inbox, Path("/etc/passwd")], settle_seconds=0)
    assert [r.outcome for r in report.results] == [Outcome.REJECTED, Outcome.REJECTED]
    first_line = Path("/etc/passwd").read_text().splitlines()[0]
    for result in report.results:
        assert "not a listing page" in result.message
        assert secret not in result.message and first_line not in result.message
    errors = [row[0] for row in conn.execute("select error from raw.ingested_files")]
    assert len(errors) == 2 and not any(secret in e or first_line in e for e in errors)


def test_a_named_path_that_cannot_be_read_is_rejected_with_the_reason(db_url, tmp_path):
    if os.geteuid() == 0:
        # Root reads past permissions; the kernel refuses /proc/self/mem from its start (EIO).
        unreadable = tmp_path / "unreadable.txt"
        unreadable.symlink_to("/proc/self/mem")
    else:
        unreadable = tmp_path / "unreadable.txt"
        unreadable.write_bytes(page("Locked"))
        unreadable.chmod(0)
    report = ingest_paths(db_url, [unreadable], settle_seconds=0)
    assert [(r.outcome, as_text(r.path.name)) for r in report.results] == [
        (Outcome.REJECTED, "unreadable.txt")
    ]
    assert "cannot be read" in report.results[0].message
