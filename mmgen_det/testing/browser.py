"""A headless Chromium driven by selenium, for checking the HTML pages (gallery, report) as a user sees them.

The browser and chromedriver come from the system (``make browser`` installs Debian's ``chromium`` and
``chromium-driver``); nothing is downloaded, and the browser runs offline with a fresh profile.
"""
from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from typing import Any, Iterator

CHROMIUM_FLAGS = ('--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                  '--disable-background-networking', '--disable-component-update', '--disable-sync')


def find_chromium() -> tuple[str, str]:
    """Paths of the browser and its chromedriver; ``RuntimeError`` saying how to get them if missing."""
    binary = shutil.which('chromium') or shutil.which('chromium-browser')
    driver = shutil.which('chromedriver')
    if not binary or not driver:
        raise RuntimeError('Chromium or chromedriver not found: `make browser` installs them with apt-get '
                           '(as root), or install chromium and chromium-driver from your distribution')
    return binary, driver


@contextmanager
def headless_chromium(width: int = 1400, height: int = 1000) -> Iterator[Any]:
    """A selenium ``WebDriver`` whose console log is readable with ``driver.get_log('browser')``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = find_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    profile = tempfile.mkdtemp(prefix='chromium-profile-')
    for flag in (*CHROMIUM_FLAGS, f'--window-size={width},{height}', f'--user-data-dir={profile}'):
        options.add_argument(flag)
    options.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
