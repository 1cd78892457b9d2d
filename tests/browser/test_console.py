"""The web console in a real browser (headless Chromium): log in, place a call to the simulated
gym and watch its transcript grow live, read the result fields and the latency chart, play the
recording, upload a two-row campaign and follow it to done. Each step asserts what an operator
would see; the call page is saved as `target/browser-artifacts/call-page.png`.
"""

import base64
import json
import time
import urllib.error
import urllib.request

from selenium.webdriver.common.by import By

from conftest import wait_for

CALL_RESULT_TIMEOUT_S = 300


def save_full_page(driver, path, scale=0.6):
    """The whole page (not only the window) as a PNG, scaled down (what the README shows)."""
    width, height = driver.execute_script(
        "return [document.documentElement.scrollWidth, document.documentElement.scrollHeight];"
    )
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": min(height, 4000), "scale": scale},
        },
    )
    path.write_bytes(base64.b64decode(shot["data"]))


def login(driver, stack):
    driver.get(stack["base_url"] + "/console/login")
    field = driver.find_element(By.ID, "token")
    field.send_keys(stack["api_token"])
    field.submit()
    wait_for(lambda: driver.current_url.endswith("/console/calls"), 20, message="the call list after login")


def test_the_console_needs_the_token(driver, stack):
    driver.get(stack["base_url"] + "/console/calls")
    assert driver.current_url.endswith("/console/login"), "not logged in: sent to the login page"
    label = driver.find_element(By.CSS_SELECTOR, "label[for=token]")
    assert label.text == "API token"
    field = driver.find_element(By.ID, "token")
    field.send_keys("not-the-token-at-all")
    field.submit()
    error = wait_for(lambda: driver.find_element(By.ID, "login-error"), 10, message="the login error")
    assert "not the API token" in error.text
    assert driver.get_cookie("gc_console") is None

    login(driver, stack)
    cookie = driver.get_cookie("gc_console")
    assert cookie is not None, "the session cookie is set"
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict", cookie
    assert stack["api_token"] not in driver.current_url
    assert stack["api_token"] not in cookie["value"], "the cookie is a signed session, not the token"


def _post(url, body, cookie_opt, origin_opt):
    request = urllib.request.Request(url, data=body.encode(), method="POST")
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    if cookie_opt:
        request.add_header("Cookie", "gc_console=" + cookie_opt)
    if origin_opt:
        request.add_header("Origin", origin_opt)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.headers


def test_forms_from_elsewhere_are_refused_and_the_rest_api_still_takes_its_bearer_token(driver, stack):
    base = stack["base_url"]
    cookie = driver.get_cookie("gc_console")["value"]
    form = "phone_number=%2B15005550123&gym_name=Forged&playbook=gym-dropin"
    status, headers = _post(base + "/console/calls", form, None, base)
    assert status == 303 and headers["Location"] == "/console/login", "no session: to the login page"
    status, _ = _post(base + "/console/calls", form + "&csrf=wrong", cookie, base)
    assert status == 403, "a session without the form's token"
    status, _ = _post(base + "/console/calls", form, cookie, "https://evil.example")
    assert status == 403, "a post from another site"

    request = urllib.request.Request(base + "/v1/calls?limit=1")
    request.add_header("Authorization", "Bearer " + stack["api_token"])
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        assert "calls" in json.loads(response.read())
    with_cookie = urllib.request.Request(base + "/v1/calls", data=b"{}", method="POST")
    with_cookie.add_header("Cookie", "gc_console=" + cookie)
    with_cookie.add_header("Content-Type", "application/json")
    try:
        urllib.request.urlopen(with_cookie, timeout=10)
        raise AssertionError("a REST POST with only the console cookie was accepted")
    except urllib.error.HTTPError as error:
        assert error.code == 401


def test_place_a_call_and_follow_it_live(driver, stack, artifacts):
    base = stack["base_url"]
    driver.get(base + "/console/calls/new")
    driver.find_element(By.ID, "phone_number").send_keys("12345")
    driver.find_element(By.ID, "gym_name").send_keys("Atlas Jiu Jitsu")
    driver.find_element(By.ID, "phone_number").submit()
    error = wait_for(lambda: driver.find_element(By.ID, "form-error"), 10, message="the form's error")
    assert "phone number" in error.text and "E.164" in error.text, error.text
    assert driver.find_element(By.ID, "phone_number").get_attribute("aria-invalid") == "true"

    number = driver.find_element(By.ID, "phone_number")
    number.clear()
    number.send_keys(stack["persona_numbers"][0])
    timezone = driver.find_element(By.ID, "timezone")
    timezone.clear()
    timezone.send_keys("America/Denver")
    driver.find_element(By.CSS_SELECTOR, "#playbook option[value=gym-dropin]").click()
    number.submit()
    wait_for(lambda: "/console/calls/c_" in driver.current_url, 15, message="the call's page")
    call_id = driver.current_url.rsplit("/", 1)[1]

    # the transcript grows while the call runs, before any result is shown
    observations = []
    started = time.monotonic()
    while time.monotonic() - started < CALL_RESULT_TIMEOUT_S:
        turns = len(driver.find_elements(By.CSS_SELECTOR, "#transcript li"))
        has_result = bool(driver.find_elements(By.ID, "fields"))
        observations.append((turns, has_result))
        if has_result:
            break
        time.sleep(0.5)
    live_counts = [turns for turns, has_result in observations if not has_result and turns > 0]
    assert live_counts, f"no transcript turn appeared live: {observations[-5:]}"
    assert max(live_counts) > min(live_counts), f"the transcript did not grow live: {sorted(set(live_counts))}"
    assert observations[-1][1], "the result fields appeared"
    agent_lines = driver.find_elements(By.CSS_SELECTOR, "#transcript li.agent")
    gym_lines = driver.find_elements(By.CSS_SELECTOR, "#transcript li.callee")
    assert agent_lines and gym_lines, "both sides are in the transcript"

    # the result: each field with status, value, confidence and evidence
    rows = driver.find_elements(By.CSS_SELECTOR, "#fields tbody tr")
    assert len(rows) >= 3, f"{len(rows)} result fields"
    known = [r for r in rows if r.find_element(By.CSS_SELECTOR, ".field-status").text == "known"]
    assert known, "at least one field is known"
    for row in known:
        assert row.find_element(By.CSS_SELECTOR, ".field-value").text.strip(), row.text
        assert row.find_element(By.CSS_SELECTOR, ".field-confidence").text.endswith("%"), row.text
    assert any(r.find_elements(By.CSS_SELECTOR, ".field-evidence q") for r in known), "an evidence quote is shown"

    # the per-reply latency chart
    bars = driver.find_elements(By.CSS_SELECTOR, "#latency-chart rect")
    assert bars, "the latency chart has bars"
    assert driver.find_element(By.ID, "latency-chart").get_attribute("role") == "img"

    # the stereo recording loads and plays
    wait_for(
        lambda: driver.execute_script(
            "var a = document.getElementById('recording'); return a && a.readyState >= 2 && a.duration > 1;"
        ),
        60,
        message="the recording to load",
    )
    duration = driver.execute_script("return document.getElementById('recording').duration;")
    played = driver.execute_async_script(
        """
        var done = arguments[arguments.length - 1];
        var audio = document.getElementById('recording');
        audio.muted = true;
        audio.play().then(function () {
          setTimeout(function () { done({ok: true, at: audio.currentTime}); }, 1500);
        }, function (error) { done({ok: false, error: String(error)}); });
        """
    )
    assert played["ok"] and played["at"] > 0.2, played
    assert duration > 5, f"the recording lasts {duration} s"
    driver.execute_script("document.getElementById('recording').pause();")
    driver.execute_script("window.scrollTo(0, 0);")
    driver.save_screenshot(str(artifacts / "call-page.png"))
    save_full_page(driver, artifacts / "call-page-full.png")

    # the call list shows it with its final status
    driver.get(base + "/console/calls?q=Atlas")
    row = driver.find_element(By.CSS_SELECTOR, f'tr[data-call-id="{call_id}"]')
    assert "Atlas Jiu Jitsu" in row.text
    wait_for(
        lambda: driver.find_element(By.CSS_SELECTOR, f'tr[data-call-id="{call_id}"] .call-status').text
        in ("completed", "ended"),
        30,
        message="the call's final status in the list",
    )
    driver.get(base + "/console/calls?status=failed&q=Atlas")
    assert not driver.find_elements(By.CSS_SELECTOR, f'tr[data-call-id="{call_id}"]'), "filtered out by status"


def test_upload_a_campaign_and_follow_it_to_done(driver, stack, artifacts, tmp_path):
    base = stack["base_url"]
    csv_file = tmp_path / "two-gyms.csv"
    csv_file.write_text(
        "phone_number,gym_name,timezone\n"
        f"{stack['persona_numbers'][1]},Atlas Jiu Jitsu (campaign),America/Denver\n"
        f"{stack['hang_up_number']},Hang-up Gym,America/Denver\n"
    )
    driver.get(base + "/console/campaigns/new")
    driver.find_element(By.ID, "name").send_keys("Browser test campaign")
    driver.find_element(By.ID, "csv_file").send_keys(str(csv_file))
    wait_for(
        lambda: "Hang-up Gym" in driver.find_element(By.ID, "csv").get_property("value"),
        10,
        message="the file read into the form",
    )
    driver.find_element(By.ID, "csv").submit()
    wait_for(lambda: "/console/campaigns/k_" in driver.current_url, 20, message="the campaign's page")
    assert driver.find_element(By.TAG_NAME, "h1").text == "Campaign: Browser test campaign"
    assert len(driver.find_elements(By.CSS_SELECTOR, "#campaign tbody tr")) == 2

    seen = set()

    def finished():
        text = driver.find_element(By.ID, "progress-text").text
        seen.add(text)
        return "2 of 2 done" in text

    wait_for(finished, CALL_RESULT_TIMEOUT_S, interval_s=1, message="the campaign to finish")
    assert driver.find_element(By.ID, "campaign-progress").get_attribute("value") == "2"
    statuses = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#campaign .row-status")]
    assert statuses == ["completed", "completed"], statuses
    assert any("of 2 done" in s and "2 of 2" not in s for s in seen), f"progress was seen before done: {seen}"
    driver.save_screenshot(str(artifacts / "campaign-page.png"))

    exported = driver.execute_async_script(
        """
        var done = arguments[arguments.length - 1];
        Promise.all([
          fetch(document.getElementById('export-csv').href).then(function (r) { return r.text(); }),
          fetch(document.getElementById('export-json').href).then(function (r) { return r.json(); })
        ]).then(function (both) { done(both); }, function (e) { done(String(e)); });
        """
    )
    csv_text, results = exported
    lines = csv_text.strip().splitlines()
    assert lines[0].startswith("row,phone_number,gym_name,call_id,status,attempts,call_sid,error,outcome"), lines[0]
    assert len(lines) == 3, csv_text
    assert [r["status"] for r in results] == ["completed", "completed"], results
    assert results[0]["outcome"] is not None and results[0]["fields"], "the persona's call has a result"
