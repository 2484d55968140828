"""Driving the search page in Debian's headless chromium through selenium and the system chromedriver
(apt: chromium, chromium-driver); nothing downloads a browser. Used by the browser test and by the bench,
which stores a screenshot for the serving report."""
from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
         "--window-size=1200,1400")


def browser_paths() -> tuple[str, str] | None:
    """(chromium, chromedriver) when both are installed."""
    chrome = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists()
                                              else None)
    return (chrome, driver) if chrome and driver else None


@contextmanager
def chromium() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as ChromeService

    paths = browser_paths()
    if paths is None:
        raise FileNotFoundError("chromium and chromium-driver are not installed (apt-get install chromium "
                                "chromium-driver)")
    profile = tempfile.mkdtemp(prefix="mgw-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = paths[0]
    for f in FLAGS:
        opts.add_argument(f)
    opts.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=ChromeService(executable_path=paths[1]), options=opts)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def search_in_page(driver, base: str, token: str, query: str, timeout: float = 30.0) -> dict:
    """Type `query`, wait for the stream to complete, open page 2; the titles of both pages."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, timeout)
    driver.get(f"{base}/?token={token}")
    box = wait.until(EC.presence_of_element_located((By.ID, "q")))
    box.send_keys(query)
    driver.find_element(By.ID, "go").click()
    done = (By.CSS_SELECTOR, "#status[data-complete='true']")
    wait.until(EC.presence_of_element_located(done))
    page1 = [e.get_attribute("data-id") for e in driver.find_elements(By.CSS_SELECTOR, "#results li.result")]
    platforms = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#results .platform")]
    label1 = driver.find_element(By.ID, "page-label").text
    if not driver.find_element(By.ID, "next").is_enabled():  # one page only
        return {"page1": page1, "page2": [], "platforms": platforms, "label1": label1, "label2": "",
                "status": driver.find_element(By.ID, "status").text}
    driver.find_element(By.ID, "next").click()
    wait.until(lambda d: d.find_element(By.ID, "page-label").text.startswith("page 2"))
    wait.until(EC.presence_of_element_located(done))
    page2 = [e.get_attribute("data-id") for e in driver.find_elements(By.CSS_SELECTOR, "#results li.result")]
    return {"page1": page1, "page2": page2, "platforms": platforms, "label1": label1,
            "label2": driver.find_element(By.ID, "page-label").text,
            "status": driver.find_element(By.ID, "status").text}


def screenshot(base: str, token: str, query: str, path: Path) -> dict:
    with chromium() as driver:
        out = search_in_page(driver, base, token, query)
        if not out["page2"]:
            path.parent.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(path))
            return out
        driver.find_element("id", "prev").click()
        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(driver, 30).until(lambda d: d.find_element("id", "page-label").text.startswith("page 1"))
        WebDriverWait(driver, 30).until(
            lambda d: d.find_element("id", "status").get_attribute("data-complete") == "true")
        path.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(path))
    return out
