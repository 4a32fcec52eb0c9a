"""A journal folder as the shipper reads it: complete records, and when a segment is finished."""

from pathlib import Path

from taxi_serving.prediction_log import journal
from taxi_serving.prediction_log.journal import JournalFolder, Position
from taxi_serving.prediction_log.writer import JournalWriter


def test_a_reader_sees_a_full_segment_as_finished_once_the_next_one_exists(tmp_path: Path) -> None:
    writer = JournalWriter(tmp_path, fsync_seconds=60.0, segment_bytes=100)
    writer.open()
    for i in range(12):
        writer.append(b"%02d" % i + b"z" * 8)  # 11 bytes: ten fill a segment
    folder = JournalFolder(writer.folder.path)
    chunk = folder.read(Position(1, 0), owner_alive=True)
    assert len(chunk.records) == 10
    after = folder.read(chunk.position_after(10), owner_alive=True)
    assert (after.records, after.finished, after.next_segment) == ([], True, 2)
    assert [record[:2] for record in folder.read(Position(2, 0), owner_alive=True).records] == [b"10", b"11"]
    writer.close()


def test_a_removed_folder_is_never_seen_half_deleted(tmp_path: Path) -> None:
    writer = JournalWriter(tmp_path, fsync_seconds=60.0)
    writer.open()
    writer.append(b"x" * 10)
    writer.close()
    path = writer.folder.path
    seen: list[list[str]] = []
    real_rmtree = journal.shutil.rmtree

    def watching_rmtree(target: str | Path, ignore_errors: bool = False) -> None:
        # what another worker listing the journal sees while the files are deleted
        seen.append(sorted(p.name for p in journal.orphans(tmp_path, own="")))
        real_rmtree(target, ignore_errors=ignore_errors)

    journal.shutil.rmtree = watching_rmtree  # type: ignore[assignment]
    try:
        JournalFolder(path).remove()
    finally:
        journal.shutil.rmtree = real_rmtree
    assert seen == [[]]
    assert list(tmp_path.iterdir()) == []


def test_adopting_a_lockless_folder_that_vanishes_meanwhile_yields_nothing(tmp_path: Path) -> None:
    """Another adopter shipped and removed it between our look and our lock: no error, nothing adopted."""
    path = tmp_path / "otherhost-123-abc"
    path.mkdir()
    real_owner_alive = journal._owner_alive

    def removed_meanwhile(name: str) -> bool:
        journal.shutil.rmtree(path)
        return real_owner_alive(name)

    journal._owner_alive = removed_meanwhile  # type: ignore[assignment]
    try:
        with journal.adopted(path) as folder:
            assert folder is None
    finally:
        journal._owner_alive = real_owner_alive
    assert not path.exists()
