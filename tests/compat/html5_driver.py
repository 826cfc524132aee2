#!/usr/bin/python3
"""Drive FunASR's HTML5 demo page (runtime/html5/static) in headless Chromium.

The page is NOT part of this repository: run-funasr-clients.sh serves it from the
FunASR checkout named by FUNASR_SRC. This driver speaks the Chrome DevTools
protocol over a WebSocket (Debian's python3-websockets), acts as a user would
(clicks, file chooser), and prints one JSON line with what the page showed.

File mode: type the server URL, pick "文件" (file), click the file input and answer the
file chooser, click "连接" (connect); the page then streams the file, sends
is_speaking:false and closes the socket when it sees is_final. (In file mode the
page always sends mode "offline"; its start/stop buttons are for the microphone.)

Mic mode (--mic): Chromium's fake capture device plays --audio as the microphone;
pick the ASR mode, click 连接, 开始, wait, 停止.
"""
import argparse
import asyncio
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import websockets


class Cdp:
    """Minimal DevTools client: numbered commands, events kept in a list."""

    def __init__(self, ws):
        self.ws = ws
        self.next_id = 0
        self.pending = {}
        self.events = []
        self.reader = asyncio.create_task(self._read())

    async def _read(self):
        async for raw in self.ws:
            msg = json.loads(raw)
            if "id" in msg and msg["id"] in self.pending:
                self.pending.pop(msg["id"]).set_result(msg)
            elif "method" in msg:
                self.events.append(msg)
                if msg["method"] == "Page.javascriptDialogOpening":
                    # The page alert()s on connection errors; an open dialog would block
                    # every later Runtime.evaluate, so dismiss it and report it instead.
                    asyncio.create_task(self.call("Page.handleJavaScriptDialog", accept=True))

    async def call(self, method, timeout=30, **params):
        self.next_id += 1
        fut = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = fut
        await self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        msg = await asyncio.wait_for(fut, timeout)
        if "error" in msg:
            raise RuntimeError(f"{method}: {msg['error']}")
        return msg.get("result", {})

    async def wait_event(self, method, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i, ev in enumerate(self.events):
                if ev["method"] == method:
                    return self.events.pop(i)
            await asyncio.sleep(0.05)
        raise TimeoutError(f"no {method} event within {timeout} s")

    async def js(self, expr):
        r = await self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            what = d.get("exception", {}).get("description", d.get("text", "?")).splitlines()[0]
            raise RuntimeError(f"JS error: {what} (in {expr[:60]!r}...)")
        return r["result"].get("value")

    async def click(self, selector):
        """A real mouse click at the centre of the element (as a user would)."""
        box = await self.js(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " return [r.x + r.width / 2, r.y + r.height / 2, e.disabled === true]; })()")
        x, y, disabled = box
        if disabled:
            raise RuntimeError(f"{selector} is disabled; a user could not click it")
        for kind in ("mousePressed", "mouseReleased"):
            await self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)


def start_chromium(args, profile):
    port_file = os.path.join(profile, "DevToolsActivePort")
    cmd = [args.chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--disable-extensions", "--mute-audio", f"--user-data-dir={profile}",
           "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
           "--window-size=1000,1300"]
    if args.ignore_cert_errors:
        cmd.append("--ignore-certificate-errors")
    if args.mic:
        cmd += ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={args.audio}%noloop",
                "--autoplay-policy=no-user-gesture-required"]
    cmd.append("about:blank")
    log = open(os.path.join(profile, "chromium.log"), "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if os.path.exists(port_file):
            lines = open(port_file).read().split("\n")
            if len(lines) >= 2 and lines[1]:
                return proc, int(lines[0])
        if proc.poll() is not None:
            raise RuntimeError(f"chromium exited with {proc.returncode}; see {profile}/chromium.log")
        time.sleep(0.1)
    proc.kill()
    raise TimeoutError("chromium did not open its DevTools port within 30 s")


def page_ws_url(port):
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
        for t in json.load(r):
            if t.get("type") == "page":
                return t["webSocketDebuggerUrl"]
    raise RuntimeError("no page target in chromium")


async def wait_js(cdp, expr, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await cdp.js(expr):
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"timed out after {timeout} s waiting for {what}")


async def drive(args, port):
    async with websockets.connect(page_ws_url(port), max_size=None, ping_interval=None) as ws:
        cdp = Cdp(ws)
        for domain in ("Page", "Runtime", "DOM", "Network"):
            await cdp.call(f"{domain}.enable")
        await cdp.call("Page.navigate", url=args.page_url)
        await cdp.wait_event("Page.loadEventFired", 30)
        # Type the server address into the page's ws-URL field.
        await cdp.click("#wssip")
        await cdp.js("document.getElementById('wssip').select()")
        await cdp.call("Input.insertText", text=args.ws_url)
        await cdp.js("document.getElementById('wssip').dispatchEvent(new Event('change'))")
        await cdp.click("input[name=use_itn][value='%s']" % ('true' if args.itn else 'false'))
        if not args.hotwords:
            await cdp.click("#varHot")
            await cdp.js("document.getElementById('varHot').select()")
            await cdp.call("Input.dispatchKeyEvent", type="keyDown", key="Delete", code="Delete",
                           windowsVirtualKeyCode=46)
            await cdp.call("Input.dispatchKeyEvent", type="keyUp", key="Delete", code="Delete",
                           windowsVirtualKeyCode=46)
        if args.mic:
            await cdp.click("input[name=asr_mode][value='%s']" % args.mode)
            await cdp.click("#btnConnect")
            await wait_js(cdp, "!document.getElementById('btnStart').disabled", 20, "the connection")
            await cdp.click("#btnStart")
            await wait_js(cdp, "!document.getElementById('btnStop').disabled", 20, "recording to start")
            await asyncio.sleep(args.mic_seconds)
            await cdp.click("#btnStop")
            # The page closes the socket 3 s after stop; the final reply must come before.
            await wait_js(cdp, "!document.getElementById('btnConnect').disabled", args.timeout,
                          "the page to close the connection")
        else:
            await cdp.click("input[name=recoder_mode][value='file']")
            await cdp.call("Page.setInterceptFileChooserDialog", enabled=True)
            await cdp.click("#upfile")
            chooser = await cdp.wait_event("Page.fileChooserOpened", 10)
            await cdp.call("DOM.setFileInputFiles", files=[os.path.abspath(args.audio)],
                           backendNodeId=chooser["params"]["backendNodeId"])
            await wait_js(cdp, "typeof file_data_array !== 'undefined' && file_sample_rate > 0", 10,
                          "the page to read the file")
            await asyncio.sleep(0.3)  # the page reads the file twice (data, then the WAV header)
            await cdp.click("#btnConnect")
            # The page closes the socket itself when it gets is_final (and re-enables 连接).
            await wait_js(cdp, "!document.getElementById('btnConnect').disabled && "
                               "document.getElementById('info_div').innerText === '请点击连接'",
                          args.timeout, "the is_final reply (page never re-enabled 连接)")
        await asyncio.sleep(0.5)
        state = await cdp.js("({text: document.getElementById('varArea').value,"
                             " info: document.getElementById('info_div').innerText})")
        if args.screenshot:
            shot = await cdp.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
            with open(args.screenshot, "wb") as f:
                f.write(base64.b64decode(shot["data"]))
        exceptions = [e["params"]["exceptionDetails"].get("exception", {}).get("description")
                      or e["params"]["exceptionDetails"].get("text")
                      for e in cdp.events if e["method"] == "Runtime.exceptionThrown"]
        console = [" ".join(str(a.get("value", a.get("description", ""))) for a in e["params"]["args"])
                   for e in cdp.events if e["method"] == "Runtime.consoleAPICalled"]
        replies = [c[len("message: "):] for c in console if c.startswith("message: ")]
        # What went over the page's WebSocket (text frames only; audio is binary).
        received = [json.loads(e["params"]["response"]["payloadData"]) for e in cdp.events
                    if e["method"] == "Network.webSocketFrameReceived" and e["params"]["response"]["opcode"] == 1]
        sent = [json.loads(e["params"]["response"]["payloadData"]) for e in cdp.events
                if e["method"] == "Network.webSocketFrameSent" and e["params"]["response"]["opcode"] == 1]
        cdp.reader.cancel()
        dialogs = [e["params"]["message"] for e in cdp.events if e["method"] == "Page.javascriptDialogOpening"]
        return {"text": state["text"], "info": state["info"], "exceptions": exceptions, "alerts": dialogs,
                "sent": sent, "received": received, "reply_texts": replies, "console_tail": console[-8:]}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    p.add_argument("--page-url", required=True, help="http URL of FunASR's html5 index.html")
    p.add_argument("--ws-url", required=True, help="paraserve's ws:// or wss:// URL")
    p.add_argument("--audio", required=True, help="WAV file to upload (or to play as the mic)")
    p.add_argument("--itn", action="store_true", help="pick ITN 是 (true); default 否")
    p.add_argument("--hotwords", action="store_true", help="keep the page's default hotwords")
    p.add_argument("--mic", action="store_true", help="microphone mode with a fake capture device")
    p.add_argument("--mode", default="2pass", choices=["2pass", "online", "offline"], help="mic mode only")
    p.add_argument("--mic-seconds", type=float, default=5.0)
    p.add_argument("--ignore-cert-errors", action="store_true")
    p.add_argument("--screenshot", help="write a PNG of the page at the end")
    p.add_argument("--timeout", type=float, default=60)
    args = p.parse_args()
    profile = tempfile.mkdtemp(prefix="paraserve-chromium-")
    proc = None
    try:
        proc, port = start_chromium(args, profile)
        result = asyncio.run(asyncio.wait_for(drive(args, port), args.timeout + 60))
        print(json.dumps(result, ensure_ascii=False))
        return 0
    except Exception as e:  # one line for the caller's FAIL message
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}, ensure_ascii=False))
        return 1
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
