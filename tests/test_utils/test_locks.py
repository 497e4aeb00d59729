"""Lock files: one holder at a time, a refusal that names it, and nothing left behind on release."""
import threading
import time

import pytest

from mmgen_det.utils.locks import FolderBusyError, FolderLock, merge_lock


def folder_lock(folder) -> FolderLock:
    return FolderLock(folder, '.job.lock', 'another job', 'wait for it')


def test_a_released_folder_lock_leaves_no_file_and_can_be_taken_again(tmp_path):
    with folder_lock(tmp_path):
        assert (tmp_path / '.job.lock').is_file()
        with pytest.raises(FolderBusyError, match=r'being written by another job \(pid \d+ on .*command: .*\); wait'):
            folder_lock(tmp_path).acquire()
    assert not (tmp_path / '.job.lock').exists()
    with folder_lock(tmp_path):
        pass
    assert list(tmp_path.iterdir()) == []


def test_a_waiter_on_a_deleted_lock_file_takes_the_name_again(tmp_path):
    """The race that deleting lock files opens: a waiter that locks the file its holder just deleted
    must not believe it holds the lock; it takes the name again, so a third process is refused."""
    path = tmp_path / '.merge.lock'
    holder = folder_lock(tmp_path)
    holder.path = path
    holder.acquire()
    inside, leave = threading.Event(), threading.Event()

    def wait_then_hold():
        with merge_lock(path):
            inside.set()
            leave.wait(10)

    waiter = threading.Thread(target=wait_then_hold)
    waiter.start()
    time.sleep(0.3)  # the waiter has opened the file and blocks in flock
    assert not inside.is_set()
    holder.release()  # deletes the file, then unlocks it
    assert inside.wait(10)
    third = folder_lock(tmp_path)
    third.path = path
    with pytest.raises(FolderBusyError):
        third.acquire()
    leave.set()
    waiter.join(10)
    assert not path.exists()
