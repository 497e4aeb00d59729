"""Text from a dataset stays text in every report: markdown, its HTML page and the csv.

Class names reach the report from the source's categories; a carriage return (YAML ``"\\r"``, COCO
``"\\r"``, VOC ``&#13;``) used to end the markdown code span around a name, so the rest of the name
rendered as a live link.
"""
from __future__ import annotations

import csv

import pytest

from mmgen_det.experiments.report import data_section, md_code, read_csv, write_csv
from mmgen_det.experiments.report_html import markdown_to_html

HOSTILE = ['cr\r[click](http://evil.example)', 'lf\n[click](http://evil.example)',
           'crlf\r\n<b>bold</b>', 'nul\x00x', 'sep\u2028[click](http://evil.example)',
           'pipe|[click](http://evil.example)', 'tick`[click](http://evil.example)`',
           '<a href="http://evil.example">html</a>', '![img](http://evil.example/x.png)']


@pytest.mark.parametrize('name', HOSTILE)
def test_a_hostile_class_name_renders_as_one_inert_code_cell(name):
    table = markdown_to_html('| class | boxes |\n|---|---|\n' f'| {md_code(name)} | 3 |\n| after | 4 |\n')
    assert '<a ' not in table and '<img' not in table and '<b>' not in table
    assert table.count('<tr>') == 3 and '<td>3</td>' in table and '<td>after</td>' in table
    assert table.count('<code>') == 1


def test_the_data_section_keeps_every_name_in_its_code_span():
    section = '\n'.join(data_section({'classes': HOSTILE, 'num_images': {'test': 5}}, {},
                                     dict.fromkeys(HOSTILE, 3)))
    page = markdown_to_html(section)
    assert '<a ' not in page and '<img' not in page and '<b>' not in page
    assert page.count('<code>') == 2 * len(HOSTILE)  # the class list and the test boxes line
    assert '\\r[click](http://evil.example)' in page  # shown, escaped, as the name it is


def test_class_columns_of_the_csv_read_back_as_written(tmp_path):
    rows = [{'num_real': 10, 'arm': 'real-only', 'seed': 0, 'mAP': 0.2,
             **{f'AP_{name}': 0.1 for name in HOSTILE}}]
    path = tmp_path / 'results.csv'
    write_csv(rows, path)
    back = read_csv(path)
    assert len(back) == 1 and all(back[0][f'AP_{name}'] == '0.1' for name in HOSTILE)
    with open(path, newline='') as f:
        header = next(csv.reader(f))
    assert not any(cell.startswith(('=', '+', '-', '@')) for cell in header)  # no spreadsheet formula
