#!/usr/bin/python3
"""The emulated board's hardware and the person in front of it (scripts/board).

Runs inside the qemu guest as root, started by lab-driver.service before the agent:

1. creates the board's GPIO lines on gpio-sim (configfs): the entrance's door contact and
   exit button and the office's panic button (inputs) and the buzzer and light (outputs),
   on one chip the agent opens through the GPIO character device, as on a Pi;
2. creates a keyboard-wedge card reader on uinput (evdev), which the agent grabs;
3. copies the lab's configuration (qemu fw_cfg `opt/lab/config`) to
   /etc/nursery-agent/config.toml, tells systemd it is ready (the agent starts after it);
4. plays the mode named on the kernel command line (`lab.mode=`):
   - `check`: a fixed scenario (doors, badges, then the panic button: a test press armed
     on the staff page, a real press behind a backlog with the broker cut off), with
     checks printed as `LAB CHECK ok|FAIL name: detail`;
   - `traffic`: door and badge traffic at random, forever (the power cuts);
   - `quiet`: nothing (the outbox drains);
   - `fill`: the broker cut off, the SD card filled to 5 MiB free (telemetry dropped),
     then to the last block while alerts are raised, then freed and the broker back.

Everything it does is printed on the serial console as a line starting with `LAB `, which
the host reads. The staff page (127.0.0.1:8080 in the guest) is used as staff would: to
arm a test press of the panic button, to acknowledge the panic alarm and record what was
done about it.
"""

import http.client
import json

import os
import random
import socket
import subprocess
import sys
import time

import evdev
from evdev import UInput, ecodes

GPIO_SIM = "/sys/kernel/config/gpio-sim/lab"
# Offsets on the simulated chip; the lab's config.toml uses the same numbers.
LINES = {0: "door-contact", 1: "exit-button", 2: "buzzer", 3: "light", 4: "panic-button",
         5: "spare-5", 6: "spare-6", 7: "spare-7"}
DOOR, EXIT, BUZZER, LIGHT, PANIC = 0, 1, 2, 3, 4
PANIC_INPUT = "panic-office"
BROKER = "10.0.2.2"
PAGE = ("127.0.0.1", 8080)
PAGE_STAFF, PAGE_PIN = "s-01", "1234"
READER_NAME = "lab card reader"
STATE_DIR = "/var/lib/nursery-agent"
STAFF_CARDS = ["10001", "10002", "10003"]
UNKNOWN_CARDS = ["55501", "55502", "55503", "777000123"]


def say(*words):
    print("LAB", *words, flush=True)


def check(name, ok, detail=""):
    say("CHECK", "ok" if ok else "FAIL", f"{name}: {detail}")
    return bool(ok)


def sh(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def cmdline():
    args = {}
    with open("/proc/cmdline") as f:
        for word in f.read().split():
            if word.startswith("lab.") and "=" in word:
                k, v = word[4:].split("=", 1)
                args[k] = v
    return args


def write(path, value):
    with open(path, "w") as f:
        f.write(value)


def read(path):
    with open(path) as f:
        return f.read().strip()


class Board:
    """The gpio-sim chip: the door contact and exit button are driven here (their `pull`
    is the wire's level), the buzzer and light read here (their `value`)."""

    def __init__(self):
        sh("modprobe", "gpio-sim")
        if not os.path.isdir(GPIO_SIM):
            os.mkdir(GPIO_SIM)
            bank = f"{GPIO_SIM}/bank0"
            os.mkdir(bank)
            write(f"{bank}/num_lines", str(len(LINES)))
            write(f"{bank}/label", "lab-header")
            for n, name in LINES.items():
                os.mkdir(f"{bank}/line{n}")
                write(f"{bank}/line{n}/name", name)
            write(f"{GPIO_SIM}/live", "1")
        self.chip = read(f"{GPIO_SIM}/bank0/chip_name")
        self.dev = read(f"{GPIO_SIM}/dev_name")
        self.sysfs = f"/sys/devices/platform/{self.dev}/{self.chip}"
        # The door is a normally-closed contact (high = closed); the exit button and the
        # panic button are pulled up (low = pressed): the agent's own pull-up leaves them
        # at rest.
        self.set(DOOR, 1)
        self.set(EXIT, 1)
        self.set(PANIC, 1)

    def set(self, line, level):
        write(f"{self.sysfs}/sim_gpio{line}/pull", "pull-up" if level else "pull-down")

    def get(self, line):
        return int(read(f"{self.sysfs}/sim_gpio{line}/value"))


class Reader:
    """A keyboard-wedge reader: types the card's digits and Enter."""

    KEYS = {str(d): getattr(ecodes, f"KEY_{d}") for d in range(10)}

    def __init__(self):
        sh("modprobe", "uinput")
        keys = list(self.KEYS.values()) + [ecodes.KEY_ENTER]
        self.ui = UInput({ecodes.EV_KEY: keys}, name=READER_NAME, vendor=0x1d6b,
                         product=0x0104, version=1)
        sh("udevadm", "settle", "--timeout=10")

    def badge(self, card):
        for ch in card:
            self.key(self.KEYS[ch])
        self.key(ecodes.KEY_ENTER)

    def key(self, code):
        self.ui.write(ecodes.EV_KEY, code, 1)
        self.ui.syn()
        time.sleep(0.004)
        self.ui.write(ecodes.EV_KEY, code, 0)
        self.ui.syn()
        time.sleep(0.004)


class Page:
    """The staff page in the guest, as a logged-in member of staff uses it."""

    def __init__(self):
        self.cookie = self.csrf = None

    def request(self, method, path, body=None):
        con = http.client.HTTPConnection(*PAGE, timeout=60)
        headers = {"Content-Type": "application/json"}
        if self.cookie:
            headers["Cookie"] = self.cookie
            headers["X-CSRF-Token"] = self.csrf
        try:
            con.request(method, path, body=None if body is None else json.dumps(body),
                        headers=headers)
            r = con.getresponse()
            text = r.read().decode(errors="replace")
            cookie = r.getheader("Set-Cookie")
        except OSError as e:
            return 0, {"error": str(e)}, None
        finally:
            con.close()
        try:
            value = json.loads(text)
        except ValueError:
            value = {"error": text[:200]}
        return r.status, value, cookie

    def login(self):
        status, value, cookie = self.request(
            "POST", "/api/login", {"staff": PAGE_STAFF, "pin": PAGE_PIN})
        if status == 200 and cookie:
            self.cookie = cookie.split(";")[0]
            self.csrf = value.get("csrf")
        return status, value

    def alerts(self):
        status, value, _ = self.request("GET", "/api/view")
        return value.get("alerts", []) if status == 200 else None


def uplink(blocked):
    """Cuts the guest off from the broker (a prohibit route, and the open MQTT connection
    torn down with `ss -K`), or lets it through again."""
    if blocked:
        sh("ip", "route", "add", "prohibit", f"{BROKER}/32")
        killed = sh("ss", "-K", "-t", "dst", BROKER)
        say("uplink connections torn down:", " ".join(killed.stdout.split()[5:]) or "none",
            killed.stderr.strip())
    else:
        sh("ip", "route", "del", "prohibit", f"{BROKER}/32")


def fw_cfg(name):
    sh("modprobe", "qemu_fw_cfg")
    path = f"/sys/firmware/qemu_fw_cfg/by_name/opt/lab/{name}/raw"
    with open(path, "rb") as f:
        return f.read()


def notify(state):
    addr = os.environ.get("NOTIFY_SOCKET")
    if not addr:
        return
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.connect(addr)
        s.sendall(state.encode())


def agent_active(timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if sh("systemctl", "is-active", "--quiet", "nursery-agent").returncode == 0:
            return True
        time.sleep(0.5)
    return False


# ---------------------------------------------------------------------------------------
# What people do at the entrance.

def entry(board, reader, rng):
    """A member of staff badges, opens, walks through, closes: no alert."""
    card = rng.choice(STAFF_CARDS)
    say("do badge staff", card)
    reader.badge(card)
    time.sleep(0.3)
    say("do door open (granted)")
    board.set(DOOR, 0)
    time.sleep(rng.uniform(0.5, 2.0))
    say("do door closed")
    board.set(DOOR, 1)


def forced(board, rng, hold=None):
    """The door opens with no badge and no exit button: door_forced, then resolved."""
    say("do door open (forced)")
    board.set(DOOR, 0)
    time.sleep(hold if hold is not None else rng.uniform(0.5, 3.0))
    say("do door closed")
    board.set(DOOR, 1)


def held(board, reader, rng):
    """Badged, but left open past door_held_open (5 s in the lab): door_held_open."""
    say("do badge staff", STAFF_CARDS[0])
    reader.badge(STAFF_CARDS[0])
    time.sleep(0.3)
    say("do door open (granted, held)")
    board.set(DOOR, 0)
    time.sleep(rng.uniform(6.0, 8.0))
    say("do door closed")
    board.set(DOOR, 1)


def exit_press(board, rng):
    """Someone leaves: the exit button grants the door."""
    say("do exit button")
    board.set(EXIT, 0)
    time.sleep(0.2)
    board.set(EXIT, 1)
    time.sleep(0.2)
    say("do door open (exit)")
    board.set(DOOR, 0)
    time.sleep(rng.uniform(0.5, 1.5))
    say("do door closed")
    board.set(DOOR, 1)


def unknown(reader, rng):
    card = rng.choice(UNKNOWN_CARDS)
    say("do badge unknown")
    reader.badge(card)


def traffic(board, reader, rng):
    n = 0
    while True:
        n += 1
        what = rng.choices(["entry", "forced", "held", "exit", "unknown"],
                           weights=[3, 3, 1, 2, 3])[0]
        if what == "entry":
            entry(board, reader, rng)
        elif what == "forced":
            forced(board, rng)
        elif what == "held":
            held(board, reader, rng)
        elif what == "exit":
            exit_press(board, rng)
        else:
            unknown(reader, rng)
        time.sleep(rng.uniform(0.3, 1.5))
        if n % 10 == 0:
            say("traffic rounds", n)


# ---------------------------------------------------------------------------------------
# The fixed scenario with its checks.

def edges(board, seconds, line=BUZZER):
    """The moments (s) an output changed level within `seconds` (sampled every 5 ms)."""
    times, last = [], board.get(line)
    t0 = time.monotonic()
    end = t0 + seconds
    while time.monotonic() < end:
        v = board.get(line)
        if v != last:
            times.append(time.monotonic() - t0)
            last = v
        time.sleep(0.005)
    return times


def buzzer_toggles(board, seconds, line=BUZZER):
    """How often an output changed level within `seconds` (sampled every 20 ms)."""
    changes, last = 0, board.get(line)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        v = board.get(line)
        if v != last:
            changes, last = changes + 1, v
        time.sleep(0.02)
    return changes


def scenario(board, reader, rng):
    ok = True
    pid = sh("systemctl", "show", "-p", "MainPID", "--value", "nursery-agent").stdout.strip()
    user = sh("ps", "-o", "user=", "-p", pid).stdout.strip()
    ok &= check("agent runs as its system user", user == "nursery-agent", f"pid {pid}, user {user!r}")
    info = sh("gpioinfo", board.chip).stdout
    held_lines = [l for l in info.splitlines() if '"nursery-agent"' in l]
    ok &= check("agent holds the door, exit, panic, buzzer and light lines through the GPIO character device",
                len(held_lines) == 5, f"{board.chip}: " + "; ".join(" ".join(l.split()) for l in held_lines))
    try:
        dev = evdev.InputDevice(reader.ui.device.path)
        try:
            dev.grab()
            dev.ungrab()
            grabbed = False
        except OSError:
            grabbed = True
        dev.close()
    except OSError as e:
        grabbed = False
        say("reader open failed", e)
    ok &= check("agent grabbed the uinput card reader (EVIOCGRAB)", grabbed, reader.ui.device.path)
    mounts = read("/proc/mounts")
    sd = [l for l in mounts.splitlines() if f" {STATE_DIR} " in l]
    ok &= check("the agent's storage is the SD (second virtio disk, ext4)",
                bool(sd) and sd[0].startswith("/dev/vdb ") and " ext4 " in sd[0], sd[0] if sd else "not mounted")
    db = f"{STATE_DIR}/nursery-agent.db"
    st = os.stat(db) if os.path.exists(db) else None
    owner = sh("stat", "-c", "%U", db).stdout.strip() if st else ""
    ok &= check("the journal is on the SD, owned by the service user", owner == "nursery-agent", f"{db} {owner}")

    # Quiet buzzer while nothing is open.
    quiet = buzzer_toggles(board, 1.0)
    ok &= check("buzzer silent with no alert open", quiet == 0 and board.get(BUZZER) == 0, f"{quiet} changes")

    # A staff badge opens the door: no alert.
    say("scenario: staff badge and entry")
    entry(board, reader, rng)
    # Past the badge's door_grant_window (2 s in the lab): an opening sooner is granted.
    time.sleep(3)
    # Forced door: critical; the buzzer sounds while it is open.
    say("scenario: forced door")
    board.set(DOOR, 0)
    say("do door open (forced)")
    time.sleep(0.5)
    sounding = buzzer_toggles(board, 3.0)
    light = buzzer_toggles(board, 1.0, LIGHT)
    say("do door closed")
    board.set(DOOR, 1)
    ok &= check("buzzer sounds while the door is forced (gpio-sim output line)", sounding > 0,
                f"{sounding} level changes in 3 s")
    time.sleep(1.0)
    after = buzzer_toggles(board, 1.5)
    ok &= check("buzzer stops once the door is closed", after == 0 and board.get(BUZZER) == 0,
                f"{after} changes, level {board.get(BUZZER)}")
    ok &= check("light flashes while the door is forced", light > 0, f"{light} level changes in 1 s")
    # Held open.
    say("scenario: door held open")
    held(board, reader, rng)
    # Exit button then open: no alert.
    say("scenario: exit button")
    exit_press(board, rng)
    # Unknown card.
    say("scenario: unknown card")
    reader.badge("55501")
    say("do badge unknown")
    time.sleep(3)
    ok &= panic_scenario(board, reader, rng)
    restarts = sh("systemctl", "show", "-p", "NRestarts", "--value", "nursery-agent").stdout.strip()
    ok &= check("agent never restarted", restarts == "0", f"NRestarts={restarts}")
    say("scenario done", "ok" if ok else "with failures")


def press(board, hold=0.5):
    board.set(PANIC, 0)
    time.sleep(hold)
    board.set(PANIC, 1)


def panic_scenario(board, reader, rng):
    """The office's panic button: a test press armed on the staff page raises nothing; a
    real press behind a backlog (the broker unreachable) raises panic_button, sounds the
    critical pattern, and goes upstream first once the broker is back; staff acknowledge
    it (silence) and record what was done (resolved)."""
    ok = True
    page = Page()
    t0 = time.monotonic()
    status, value = page.login()
    ok &= check("staff page login (argon2id PIN)", status == 200 and page.csrf,
                f"HTTP {status} in {time.monotonic() - t0:.1f} s {value if status != 200 else ''}")
    say("scenario: panic button test press, armed on the staff page")
    status, value, _ = page.request("POST", f"/api/inputs/{PANIC_INPUT}/test", {})
    ok &= check("the staff page arms a test press of the wired panic button", status == 200,
                f"HTTP {status} {json.dumps(value)}")
    say("do panic press (test)")
    press(board)
    time.sleep(2.0)
    quiet = buzzer_toggles(board, 1.0)
    open_ = page.alerts() or []
    ok &= check("a test press raises nothing and the buzzer stays silent",
                quiet == 0 and not any(a.get("type") == "panic_button" for a in open_),
                f"{quiet} buzzer changes, open: {[a.get('type') for a in open_]}")

    say("scenario: broker unreachable, a backlog of alerts")
    uplink(True)
    say("uplink blocked")
    for card in UNKNOWN_CARDS[1:]:
        say("do badge unknown")
        reader.badge(card)
        time.sleep(0.8)
    time.sleep(1.0)
    say("scenario: panic button pressed")
    say("do panic press")
    board.set(PANIC, 0)
    time.sleep(0.3)
    times = edges(board, 3.0)
    light = buzzer_toggles(board, 1.0, LIGHT)
    board.set(PANIC, 1)
    gaps = sorted(b - a for a, b in zip(times, times[1:]))
    median = gaps[len(gaps) // 2] if gaps else 0
    ok &= check("the buzzer sounds the critical pattern for the panic button (100 ms on, 100 ms off)",
                len(times) >= 10 and 0.06 <= median <= 0.16,
                f"{len(times)} edges in 3 s, median {median * 1000:.0f} ms apart")
    ok &= check("the light flashes for the panic button", light > 0, f"{light} level changes in 1 s")
    alerts = page.alerts() or []
    panic = [a for a in alerts if a.get("type") == "panic_button"]
    ok &= check("panic_button open on the staff page", len(panic) == 1,
                json.dumps(panic[:1], ensure_ascii=False)[:300])
    time.sleep(2.0)
    uplink(False)
    say("uplink restored")
    time.sleep(10)  # reconnect_max 5 s; the urgent alert first, then the backlog
    if panic:
        aid = panic[0]["alert_id"]
        status, value, _ = page.request("POST", f"/api/alerts/{aid}/ack", {})
        ok &= check("staff acknowledge the panic alarm on the page", status == 200,
                    f"HTTP {status} {json.dumps(value)[:200]}")
        time.sleep(1.0)
        after = buzzer_toggles(board, 1.5)
        ok &= check("the buzzer stops once the panic alarm is acknowledged",
                    after == 0 and board.get(BUZZER) == 0, f"{after} changes, level {board.get(BUZZER)}")
        status, value, _ = page.request("POST", f"/api/alerts/{aid}/disposition",
                                        {"action": "handled_on_site", "note": "lab: test of the board"})
        ok &= check("a disposition on the page resolves panic_button", status == 200,
                    f"HTTP {status} {json.dumps(value)[:200]}")
        time.sleep(2.0)
        still = [a for a in page.alerts() or [] if a.get("type") == "panic_button"]
        ok &= check("panic_button no longer open after its disposition", not still,
                    json.dumps(still[:1])[:200])
    say("panic alert", panic[0]["alert_id"] if panic else "none")
    return ok


# ---------------------------------------------------------------------------------------
# A full SD card.

def agent_state():
    out = sh("systemctl", "show", "-p", "ActiveState,SubState,NRestarts,ExecMainStatus",
             "nursery-agent").stdout
    return " ".join(out.split())


def sql(query):
    """One value from the agent's journal (read beside the running agent; WAL)."""
    # As the service user: a file sqlite creates beside the journal stays the agent's.
    r = sh("runuser", "-u", "nursery-agent", "--", "sqlite3", "-readonly",
           f"{STATE_DIR}/nursery-agent.db", query)
    return r.stdout.strip() if r.returncode == 0 else f"error: {r.stderr.strip()}"


def agent_status():
    """`nursery-agent status`'s journal and the storage alert, as one line of JSON."""
    r = sh("runuser", "-u", "nursery-agent", "--", "nursery-agent", "status",
           "--config", "/etc/nursery-agent/config.toml")
    try:
        v = json.loads(r.stdout)
    except ValueError:
        return json.dumps({"error": (r.stderr or r.stdout).strip()[:300]})
    storage = [a for a in v.get("open_alerts", []) if a.get("type") == "storage_pressure"]
    return json.dumps({"journal": v.get("journal"), "storage_pressure": storage})


def fill_to(f, leave):
    """Writes zeros to `f` until the SD has at most `leave` bytes free (0: the last
    block); returns the bytes written."""
    written = 0
    for size in (256 * 1024, 4096, 1024):
        while True:
            st = os.statvfs(STATE_DIR)
            if leave and st.f_bavail * st.f_frsize <= leave:
                return written
            try:
                f.write(b"\0" * size)
                written += size
            except OSError:
                break
    return written


def free_bytes():
    st = os.statvfs(STATE_DIR)
    return st.f_bavail * st.f_frsize


def fill(board, reader, rng):
    """The SD filling up, as a card does when the platform is away for long: the broker
    unreachable (telemetry waits in the outbox), then the SD down to a few MiB (telemetry
    dropped first, counted), then to its last block (alerts still raised, shown and held;
    storage_pressure critical; the journal failing), then space back: the agent catches
    up by itself."""
    say("sd free before", free_bytes(), "of", os.statvfs(STATE_DIR).f_blocks * os.statvfs(STATE_DIR).f_frsize)
    forced(board, rng, hold=1.0)
    uplink(True)
    say("uplink blocked")
    # Telemetry is per room every minute; it waits in memory with the journal's routine
    # group (up to 5 minutes) before it reaches the card, so the file shows none yet.
    time.sleep(125)
    say("telemetry waiting:", sql("SELECT count(*) FROM outbox_telemetry"),
        "on the SD; dropped so far:", sql("SELECT telemetry_dropped FROM outbox_state"))
    filler = f"{STATE_DIR}/lab-filler"
    with open(filler, "wb", buffering=0) as f:  # ENOSPC at the write, not at close
        # Low, not full: under the level where telemetry is shed, above where archives go.
        written = fill_to(f, 5 << 20)
        os.fsync(f.fileno())
        say("sd low: filler", written, "bytes; free", free_bytes())
        forced(board, rng, hold=1.0)
        time.sleep(12)  # the storage is read every 5 s
        say("telemetry after low:", sql("SELECT count(*) FROM outbox_telemetry"),
            "waiting; dropped:", sql("SELECT telemetry_dropped FROM outbox_state"))
        say("status while low:", agent_status())
        written += fill_to(f, 0)
        try:
            os.fsync(f.fileno())
        except OSError:
            pass
    say("sd full: filler", written, "bytes; free", free_bytes())
    say("agent while full (before traffic):", agent_state())
    for i in range(3):
        say("full round", i)
        forced(board, rng, hold=1.0)
        time.sleep(0.5)
        unknown(reader, rng)
        time.sleep(1.5)
    time.sleep(8)
    say("agent while full:", agent_state())
    say("status while full:", agent_status())
    # What staff see: the live view (the wall's, no login), not the journal.
    say("page while full:", json.dumps(
        [[a.get("type"), a.get("subject"), a.get("severity")] for a in Page().alerts() or []]))
    os.remove(filler)
    sh("sync")
    say("sd freed; free", free_bytes())
    time.sleep(15)
    say("agent after space returned:", agent_state())
    say("status after space returned:", agent_status())
    uplink(False)
    say("uplink restored")
    forced(board, rng, hold=1.0)
    unknown(reader, rng)
    time.sleep(12)
    say("agent at the end:", agent_state())
    say("status at the end:", agent_status())
    say("telemetry at the end:", sql("SELECT count(*) FROM outbox_telemetry"),
        "waiting; dropped:", sql("SELECT telemetry_dropped FROM outbox_state"),
        "; alerts waiting:", sql("SELECT count(*) FROM outbox"))
    say("fill done")


def main():
    args = cmdline()
    mode = args.get("mode", "check")
    seed = int(args.get("seed", "1"))
    rng = random.Random(seed)
    say("driver starting, mode", mode, "seed", seed)
    board = Board()
    reader = Reader()
    say("gpio-sim", board.chip, board.dev, "reader", reader.ui.device.path)
    try:
        cfg = fw_cfg("config")
        os.makedirs("/etc/nursery-agent", exist_ok=True)
        path = "/etc/nursery-agent/config.toml"
        with open(path + ".new", "wb") as f:
            f.write(cfg)
        sh("chgrp", "nursery-agent", path + ".new")
        os.chmod(path + ".new", 0o640)
        os.replace(path + ".new", path)
        say("config from fw_cfg,", len(cfg), "bytes")
    except OSError as e:
        say("no lab config on fw_cfg:", e)
    notify("READY=1")
    if not agent_active(240):
        say("agent failed to start:", agent_state())
        print(sh("systemctl", "status", "--no-pager", "-l", "nursery-agent").stdout, flush=True)
        print(sh("journalctl", "-b", "--no-pager", "-n", "60", "-u", "nursery-agent").stdout,
              flush=True)
        mode = "quiet"
    else:
        say("agent active")
    time.sleep(2)
    if mode == "check":
        scenario(board, reader, rng)
    elif mode == "traffic":
        traffic(board, reader, rng)
    elif mode == "fill":
        fill(board, reader, rng)
    say("idle")
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main())
