"""safe_join: file names from annotation files stay inside their data root."""
from __future__ import annotations

import os

import pytest

from mmgen_det.utils.io import safe_join


@pytest.mark.parametrize('name', ['img.jpg', 'images/a.png', 'images/../b.png', './c.jpg'])
def test_names_inside_the_root_are_joined(tmp_path, name):
    assert safe_join(tmp_path, name) == tmp_path / name


@pytest.mark.parametrize('name', ['../x.jpg', 'images/../../x.jpg', '..', '/etc/passwd', ''])
def test_names_that_leave_the_root_are_refused(tmp_path, name):
    with pytest.raises(ValueError, match='escapes the data root|must be a relative path'):
        safe_join(tmp_path, name)


def test_a_symlinked_image_folder_is_inside_the_root(tmp_path):
    """Datasets often link images/ to another disk; the name, not the link target, is what is checked."""
    elsewhere = tmp_path / 'other-disk'
    elsewhere.mkdir()
    (elsewhere / 'a.jpg').write_bytes(b'')
    root = tmp_path / 'set'
    root.mkdir()
    os.symlink(elsewhere, root / 'images')
    assert safe_join(root, 'images/a.jpg').is_file()


@pytest.mark.parametrize('umask', [0o022, 0o002, 0o077])
def test_outputs_follow_the_users_umask(tmp_path, umask):
    """Atomic writes and converted datasets get the modes ``open()``/``mkdir()`` would give them (they
    were 0600/0700 whatever the umask, so a gallery or a converted set could not be shared)."""
    import subprocess
    import sys

    from helpers import yolo_folder
    src = yolo_folder(tmp_path / 'src', ['a', 'b'], (48, 32), 0.3, 2)
    script = ('import os, sys; os.umask(int(sys.argv[1], 8)); from mmgen_det.utils.io import atomic_write_json; '
              'from mmgen_det.datasets import convert_dataset; atomic_write_json(sys.argv[2], {}); '
              'convert_dataset(sys.argv[3], "yolo", sys.argv[4])')
    out = tmp_path / 'out'
    subprocess.run([sys.executable, '-c', script, oct(umask)[2:], str(tmp_path / 'a.json'), str(src), str(out)],
                   check=True, capture_output=True)
    assert (tmp_path / 'a.json').stat().st_mode & 0o777 == 0o666 & ~umask
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask
    assert (out / 'annotations').stat().st_mode & 0o777 == 0o777 & ~umask
    assert (out / 'annotations' / 'train.json').stat().st_mode & 0o777 == 0o666 & ~umask
