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
