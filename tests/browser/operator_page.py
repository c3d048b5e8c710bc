#!/usr/bin/env python3
"""The operator's page in headless Chromium (Debian's chromium + chromium-driver, selenium).

Run by tests/tests/e2e_page.rs after real phones and clients used the sidecar; usable by hand:

    operator_page.py --url http://127.0.0.1:9169 --expect '{"rows": 8, ...}' \
        --artifacts target/test-artifacts/page [--new-transfer 'tftp 10.0.0.1 -c get F /tmp/x']

--expect (JSON): rows (phones on the page), phones {MAC: {state, percent?, protocol?, file?,
reason?}}, stuck_mac, problem (text of the check's problem), filter_mac, later_mac (the phone
--new-transfer makes appear), hostile_names (file names that must show as text).
Exit status 0 when every check passed; the first failure is printed with a screenshot saved.
"""

import argparse
import json
import shlex
import subprocess
import sys
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

ROWS_JS = """
return Array.from(document.querySelectorAll('#phones tbody tr')).map(function (tr) {
  var cell = function (c) { var e = tr.querySelector('td.' + c); return e ? e.textContent : ''; };
  var bar = tr.querySelector('td.progress progress');
  var code = tr.querySelector('td.file code');
  return {mac: tr.getAttribute('data-mac'), state: tr.getAttribute('data-state'),
          file: code ? code.textContent : null, fileCell: cell('file'), protocol: cell('protocol'),
          stateCell: cell('state'), progress: cell('progress'),
          bars: tr.querySelectorAll('td.progress progress').length,
          value: bar ? Number(bar.getAttribute('value')) : null,
          max: bar ? Number(bar.getAttribute('max')) : null};
});
"""


def browser(javascript=True):
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    # As root (CI): no sandbox. --headless=new is the real browser without a window.
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1500,1000", "--no-first-run", "--no-proxy-server"):
        opts.add_argument(a)
    if not javascript:
        opts.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


class Check:
    def __init__(self, driver, artifacts):
        self.d = driver
        self.artifacts = artifacts
        self.n = 0

    def shot(self, name):
        path = f"{self.artifacts}/{name}.png"
        self.d.save_screenshot(path)
        print(f"screenshot: {path}")

    def fail(self, msg):
        self.shot("failure")
        print(f"FAIL: {msg}", file=sys.stderr)
        print(f"  at {self.d.current_url}", file=sys.stderr)
        try:
            for entry in self.d.get_log("browser"):
                print(f"  browser console: {entry}", file=sys.stderr)
        except Exception as e:  # the log is a diagnostic only
            print(f"  (no browser log: {e})", file=sys.stderr)
        status = self.d.execute_script(
            "return document.getElementById('refresh-status').textContent")
        print(f"  refresh status: {status}", file=sys.stderr)
        try:
            base = self.d.current_url.split("/", 3)
            with urllib.request.urlopen(f"{base[0]}//{base[2]}/page/fragment", timeout=5) as r:
                print(f"  the server answers /page/fragment: {r.status}", file=sys.stderr)
        except Exception as e:
            print(f"  the server does not answer /page/fragment: {e}", file=sys.stderr)
        sys.exit(1)

    def that(self, cond, msg):
        self.n += 1
        if not cond:
            self.fail(msg)

    def wait(self, pred, msg, timeout=15):
        try:
            WebDriverWait(self.d, timeout, poll_frequency=0.2,
                          ignored_exceptions=(StaleElementReferenceException,
                                              NoSuchElementException)).until(lambda _: pred())
        except Exception:
            self.fail(f"timed out: {msg}")
        self.n += 1

    def rows(self):
        """The table's rows, read in one script call: the page swaps its table in every
        refresh, so element handles would go stale between reads."""
        return self.d.execute_script(ROWS_JS)

    def row(self, mac):
        return next((r for r in self.rows() if r["mac"] == mac), None)

    def text(self, css):
        """innerText of every element matching css, in one script call."""
        return self.d.execute_script(
            "return Array.from(document.querySelectorAll(arguments[0]))"
            ".map(function (e) { return e.innerText; });", css)

    def click_link(self, css):
        """Click a link, again if a refresh replaced it in between."""
        for _ in range(10):
            try:
                self.d.find_element(By.CSS_SELECTOR, css).click()
                return
            except (StaleElementReferenceException, NoSuchElementException):
                time.sleep(0.2)
        self.fail(f"cannot click {css}")

    def not_injected(self, where):
        """No hostile name ran script or became markup."""
        pwned = self.d.execute_script("return window.__pwned")
        self.that(pwned is None, f"{where}: injected script ran (window.__pwned = {pwned!r})")
        injected = self.d.execute_script(
            "return document.querySelectorAll("
            "'#main img, #main svg, #main script, #main iframe, main h1').length")
        self.that(injected == 0, f"{where}: {injected} injected element(s) in the page")
        self.that(len(self.d.find_elements(By.TAG_NAME, "h1")) == 1, f"{where}: one h1")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--expect", help="the scenario's expectations (JSON)")
    ap.add_argument("--bulk", type=int, help="check a table of this many phones instead")
    ap.add_argument("--bulk-mac", help="with --bulk: a MAC to filter for")
    ap.add_argument("--artifacts", required=True)
    ap.add_argument("--new-transfer")
    a = ap.parse_args()
    if a.bulk:
        return bulk(a)
    exp = json.loads(a.expect)
    url = a.url.rstrip("/")
    started = time.time()

    d = browser()
    c = Check(d, a.artifacts)
    try:
        d.get(url + "/")
        c.wait(lambda: c.row(exp["stuck_mac"]) is not None, "the stuck phone's row")
        # The check runs in the background: wait for its problem, then everything else.
        c.wait(lambda: exp["problem"] in "".join(c.text("#check")),
               f"the check's problem {exp['problem']!r}")
        c.not_injected("first load")
        c.that(len(c.rows()) == exp["rows"],
               f"{len(c.rows())} rows, expected {exp['rows']}")

        # Each phone: state, progress, protocol, file (one consistent read of the table).
        rows = {r["mac"]: r for r in c.rows()}
        for mac, want in exp["phones"].items():
            r = rows.get(mac)
            c.that(r is not None, f"no row for {mac}")
            c.that(r["state"] == want["state"], f"{mac}: state {r['state']}, expected {want['state']}")
            if "percent" in want:
                c.that(r["bars"] == 1, f"{mac}: one progress bar")
                pct = int(r["value"] * 100 // r["max"])
                c.that(pct == want["percent"], f"{mac}: progress {pct} %, expected {want['percent']}")
                c.that(f"({want['percent']} %)" in r["progress"], f"{mac}: progress text {r['progress']!r}")
            if "protocol" in want:
                c.that(r["protocol"].startswith(want["protocol"]), f"{mac}: protocol {r['protocol']!r}")
            if "file" in want:
                c.that(r["file"] == want["file"], f"{mac}: file {r['file']!r}, expected {want['file']!r}")
            if "reason" in want:
                c.that(want["reason"] in r["stateCell"], f"{mac}: reason {r['stateCell']!r}")

        # The stuck phone names its file, beside the check's problem about that file.
        stuck = rows[exp["stuck_mac"]]
        c.that("missing from the root" in stuck["fileCell"], "stuck row points to the check")
        problem = [li for li in c.text("#problems li") if exp["problem"] in li]
        c.that(problem and "1 phone(s) stuck or failed on it" in problem[0],
               f"problem names the phones on it: {problem}")
        counts = "".join(c.text("#counts"))
        n_stuck = sum(1 for w in exp["phones"].values() if w["state"] == "stuck")
        c.that(f"stuck {n_stuck}" in counts, f"counts {counts!r}, expected stuck {n_stuck}")
        c.that("definitions" in d.page_source and "asked for nothing since" in
               "".join(c.text("#definitions")), "the page defines its states")
        c.shot("overview")

        # The filter box: without a reload, by state word and by a MAC typed with colons.
        d.execute_script("window.__sameDocument = 1")
        box = d.find_element(By.ID, "filter")
        box.send_keys("stuck")
        c.wait(lambda: sorted(r["state"] for r in c.rows()) == ["stuck"] * n_stuck,
               "filter 'stuck' leaves the stuck phones")
        c.shot("filter-stuck")
        box.clear()
        box.send_keys(exp["filter_mac"])
        want_mac = exp["filter_mac"].replace(":", "").upper()
        c.wait(lambda: [r["mac"] for r in c.rows()] == [want_mac],
               f"filter by MAC {exp['filter_mac']}")
        c.that("q=" in d.current_url, "the filter is in the address (bookmarkable)")
        box.clear()
        box.send_keys(" ")  # an input event with an empty filter
        c.wait(lambda: len(c.rows()) == exp["rows"], "clearing the filter shows every phone")
        # Sorting by MAC (a link: works without script too).
        c.click_link("#phones thead th:first-child a")
        c.wait(lambda: "sort=mac" in d.current_url, "sorted by MAC")
        macs = [r["mac"] for r in c.rows()]
        c.that(macs == sorted(macs), f"rows in MAC order: {macs}")
        d.get(url + "/")
        d.execute_script("window.__sameDocument = 1")

        # Hostile names: shown as text in the tftp-hpa phone's transcript and rows.
        c.not_injected("after filtering")

        # A new transfer completes: the page shows it without a reload.
        if a.new_transfer:
            before = len(c.rows())
            subprocess.run(shlex.split(a.new_transfer), check=True, capture_output=True)
            c.wait(lambda: c.row(exp["later_mac"]) is not None,
                   "the phone of the new transfer appears", timeout=20)
            c.that(d.execute_script("return window.__sameDocument") == 1,
                   "updated in place, not by a reload")
            c.that(len(c.rows()) == before + 1, "one more row")
            c.that(c.row(exp["later_mac"])["state"] == "up", "the new phone is up")
            c.shot("updated")

        # The stuck phone's transcript.
        c.click_link(f'#phones tr[data-mac="{exp["stuck_mac"]}"] td.mac a')
        c.wait(lambda: d.find_elements(By.ID, "transcript"), "the detail page")
        lines = d.find_elements(By.CSS_SELECTOR, "#transcript tbody tr")
        first = lines[0].text if lines else ""
        c.that(exp["phones"][exp["stuck_mac"]]["file"] in first and "file not found" in first,
               f"transcript's newest line is the missing image: {first!r}")
        c.that(len(lines) >= 5, f"the boot transcript ({len(lines)} lines)")
        c.shot("phone-detail")

        # The hostile names, in a transcript: text, exactly as sent.
        for mac, want in exp["phones"].items():
            if want.get("file") == exp["hostile_names"][-1]:
                d.get(f"{url}/phones/{mac}")
                shown = [e.get_attribute("textContent") for e in
                         d.find_elements(By.CSS_SELECTOR, "#transcript td.file code")]
                for name in exp["hostile_names"]:
                    c.that(name in shown, f"{name!r} shown as text in {mac}'s transcript")
                c.that(d.execute_script("return window.__pwned") is None, "detail: no script ran")
                c.shot("hostile-transcript")
    finally:
        d.quit()

    # Without JavaScript: the same table, server-rendered.
    d = browser(javascript=False)
    c2 = Check(d, a.artifacts)
    try:
        d.get(url + "/?state=stuck")
        c2.that(len(c2.rows()) == n_stuck, f"no-JS: {len(c2.rows())} stuck rows")
        c2.that(c2.row(exp["stuck_mac"]) is not None, "no-JS: the stuck phone")
        c2.shot("no-javascript")
    finally:
        d.quit()
    print(f"operator page: {c.n + c2.n} checks passed in {time.time() - started:.1f} s")


def bulk(a):
    """Many phones: one bounded page of rows, counts over all, pages and the filter work."""
    url = a.url.rstrip("/")
    d = browser()
    c = Check(d, a.artifacts)
    try:
        t = time.time()
        d.get(url + "/")
        loaded = time.time() - t
        size = d.execute_script("return document.documentElement.outerHTML.length")
        c.that(len(c.rows()) == 100, f"{len(c.rows())} rows on the first page, expected 100")
        c.that(f"all {a.bulk}" in "".join(c.text("#counts")), f"counts: {c.text('#counts')}")
        c.that(size < 100_000, f"document of {size} characters")
        print(f"{a.bulk} phones: first page loaded in {loaded:.2f} s, document {size} characters")
        c.shot("first-page")
        with open(f"{a.artifacts}/first-page.html", "w") as f:
            f.write(d.page_source)
        c.not_injected("bulk")
        first = [r["mac"] for r in c.rows()]
        c.click_link('#pages a[rel="next"]')
        c.wait(lambda: "page=2" in d.current_url and len(c.rows()) == 100
               and [r["mac"] for r in c.rows()] != first, "the next page")
        pages = "".join(c.text("#list h2"))
        c.that(f"page 2 of {a.bulk // 100}" in pages, f"pages: {pages!r}")
        d.get(url + "/")
        box = d.find_element(By.ID, "filter")
        box.send_keys(a.bulk_mac)
        c.wait(lambda: [r["mac"] for r in c.rows()] == [a.bulk_mac], f"filter {a.bulk_mac}")
        c.shot("filtered")
    finally:
        d.quit()
    print(f"operator page, {a.bulk} phones: {c.n} checks passed")


if __name__ == "__main__":
    main()
