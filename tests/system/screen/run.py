#!/usr/bin/env python3
"""The screen's tty driven from outside (issue 15, the PS/2 keyboard and the screen).

Boots the Linux personality with tests/linux/run-screen (busybox sh on the
screen's tty), types on QEMU's PS/2 keyboard with QMP's send-key (each key
a press and a release, shift and ctrl held as a person would) and reads the
VGA text screen with the monitor's `xp /2000hx 0xb8000` (or, booted from an
image under UEFI with --iso, the framebuffer with QMP's screendump, each
8x16 cell read back against the kernel's font): commands and their
output, busybox's line editing (backspace, the up arrow), caps lock,
Ctrl-C of cat waiting on the tty, scrolling, that /dev/console is still the
serial port, Ctrl-D ending the shell, and the getty (`@screengetty`) offering
a shell before and after. Each step is a TAP line.

With --serve, it boots `make run`'s configuration instead (the root task with
webd, brokerd and the personality as manifest partitions, their NICs and the
broker's disk; the personality's run file `@gettys /bin/sh`): both appliances
come up, the serial console and the screen each offer busybox sh, and a shell
runs on each at once (the screen's typed with send-key, the console's through
the serial port); Ctrl-D ends the screen's and the getty offers another while
the console's goes on. Usage:

    run.py --kernel K --initrd I --root DIR --tap OUT [--log LOG]
    run.py --iso IMAGE --font build/kernel/gen/font8x16.c --root DIR --tap OUT  (UEFI)
    run.py --serve --kernel K --initrd build/serve/initrd-run.cpio --root DIR --tap OUT
"""
import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

COLS, ROWS = 80, 25

# Characters to QEMU key codes (qcodes): (key, shifted).
KEYS = {" ": ("spc", False), "\r": ("ret", False), "\t": ("tab", False),
        "\b": ("backspace", False), "-": ("minus", False), "=": ("equal", False),
        "/": ("slash", False), ".": ("dot", False), ",": ("comma", False),
        ";": ("semicolon", False), "'": ("apostrophe", False), "`": ("grave_accent", False),
        "\\": ("backslash", False), "[": ("bracket_left", False), "]": ("bracket_right", False),
        "|": ("backslash", True), ">": ("dot", True), "<": ("comma", True), "$": ("4", True),
        '"': ("apostrophe", True), "_": ("minus", True), "*": ("8", True), "&": ("7", True),
        "(": ("9", True), ")": ("0", True), "?": ("slash", True), "!": ("1", True),
        ":": ("semicolon", True), "+": ("equal", True), "#": ("3", True), "{": ("bracket_left", True),
        "}": ("bracket_right", True), "~": ("grave_accent", True), "@": ("2", True),
        "%": ("5", True), "^": ("6", True)}
for ch in "abcdefghijklmnopqrstuvwxyz0123456789":
    KEYS[ch] = (ch, False)
for ch in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
    KEYS[ch] = (ch.lower(), True)


def load_font(path):
    """The kernel's font (tools/mkfont.py's C array): rows 0-13 of each printable glyph -> the
    character (rows 14-15 hold the cursor's underline)."""
    rows = [[int(v, 16) for v in re.findall(r"0x([0-9a-f]{2})", line)]
            for line in open(path) if line.lstrip().startswith("{0x")]
    glyphs = {}
    for code in range(126, 31, -1):  # the lowest code wins a tie (space before others)
        glyphs[tuple(rows[code][:14])] = chr(code)
    return glyphs


class Qmp:
    font = None  # set: read the framebuffer (screendump) instead of the text page
    dump = None

    def __init__(self, path, deadline):
        while True:
            try:
                self.s = socket.socket(socket.AF_UNIX)
                self.s.connect(path)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
        self.f = self.s.makefile("rwb")
        self._read()  # greeting
        self.cmd("qmp_capabilities")

    def _read(self):
        while True:
            msg = json.loads(self.f.readline())
            if "event" not in msg:
                return msg

    def cmd(self, name, **args):
        self.f.write(json.dumps({"execute": name, "arguments": args}).encode() + b"\n")
        self.f.flush()
        r = self._read()
        if "error" in r:
            raise RuntimeError(f"{name}: {r['error']}")
        return r["return"]

    def keys(self, qcodes):
        self.cmd("send-key", keys=[{"type": "qcode", "data": k} for k in qcodes], **{"hold-time": 15})
        time.sleep(0.04)

    def type(self, text):
        for ch in text:
            key, shift = KEYS[ch]
            self.keys(["shift", key] if shift else [key])

    def screen(self):
        """The 25 rows of the text screen, trailing blanks cut."""
        if self.font:
            return self.fb_screen()
        out = self.cmd("human-monitor-command", **{"command-line": "xp /2000hx 0xb8000"})
        cells = [int(w, 16) for line in out.splitlines() for w in line.split(":", 1)[1].split()]
        text = "".join(chr(c & 0xff) if 32 <= (c & 0xff) < 127 else " " for c in cells)
        return [text[r * COLS:(r + 1) * COLS].rstrip() for r in range(ROWS)]

    def fb_screen(self):
        """The 80x25 cells centred on the framebuffer (vt.c), each 8x16 cell matched against
        the font: a pixel is set when it is not black; an unknown pattern reads as '#'."""
        self.cmd("screendump", filename=self.dump)
        data = open(self.dump, "rb").read()
        m = re.match(rb"P6\s+(\d+)\s+(\d+)\s+(\d+)\s", data)
        w, h = int(m.group(1)), int(m.group(2))
        px = data[m.end():]
        x0, y0 = (w - 8 * COLS) // 2, (h - 16 * ROWS) // 2
        rows = []
        for r in range(ROWS):
            line = ""
            for c in range(COLS):
                bits = []
                for gy in range(14):
                    off = ((y0 + r * 16 + gy) * w + x0 + c * 8) * 3
                    row = px[off:off + 24]
                    bits.append(sum(0x80 >> i for i in range(8) if any(row[3 * i:3 * i + 3])))
                line += self.font.get(tuple(bits), "#")
            rows.append(line.rstrip())
        return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel")
    ap.add_argument("--initrd")
    ap.add_argument("--iso", help="boot this image under UEFI (OVMF) instead")
    ap.add_argument("--font", help="the kernel's font8x16.c, to read the framebuffer (--iso)")
    ap.add_argument("--name", default="linux-screen", help="the TAP lines' prefix")
    ap.add_argument("--quick", action="store_true", help="leave out the keyboard and tty steps")
    ap.add_argument("--root", required=True, help="the boot module's file tree (its bin/)")
    ap.add_argument("--tap", required=True)
    ap.add_argument("--log", default="build/results/logs/linux-screen.log")
    ap.add_argument("--boot-timeout", type=float, default=120)
    ap.add_argument("--step-timeout", type=float, default=20)
    ap.add_argument("--serve", action="store_true", help="boot make run's configuration")
    a = ap.parse_args()
    os.makedirs(os.path.dirname(a.log) or ".", exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="hl-screen-")
    sock = os.path.join(tmp, "qmp")
    cmd = ["qemu-system-x86_64", "-machine", "q35", "-accel", "tcg", "-cpu", "max", "-smp", "1",
           "-m", "512M", "-display", "none", "-serial", "stdio", "-monitor", "none",
           "-qmp", f"unix:{sock},server=on,wait=off", "-no-reboot",
           "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]
    if a.iso:
        vars_copy = os.path.join(tmp, "vars.fd")
        with open("/usr/share/OVMF/OVMF_VARS.fd", "rb") as src, open(vars_copy, "wb") as dst:
            dst.write(src.read())
        cmd += ["-drive", "if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE.fd",
                "-drive", f"if=pflash,format=raw,file={vars_copy}", "-cdrom", a.iso, "-boot", "d"]
        Qmp.font = load_font(a.font)
        Qmp.dump = os.path.join(tmp, "screen.ppm")
    elif a.serve:  # make run's QEMU (mk/serve.mk): its devices, host ports free now
        disk = os.path.join(tmp, "disk.img")
        with open(disk, "wb") as f:
            f.truncate(512 << 20)
        ports = []
        for _ in range(3):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            ports.append(s)
        web, kafka, lx = (s.getsockname()[1] for s in ports)
        for s in ports:
            s.close()
        cmd[cmd.index("-smp") + 1], cmd[cmd.index("-m") + 1] = "4", "3G"
        cmd += ["-kernel", a.kernel, "-initrd", a.initrd, "-append", "",
                "-netdev", f"user,id=web,hostfwd=tcp:127.0.0.1:{web}-:80",
                "-device", "virtio-net-pci,netdev=web,addr=0x4",
                "-netdev", f"user,id=kafka,hostfwd=tcp:127.0.0.1:{kafka}-:9092",
                "-device", "virtio-net-pci,netdev=kafka,addr=0x5",
                "-drive", f"file={disk},if=none,id=disk,format=raw",
                "-device", "nvme,drive=disk,serial=hallows-log,addr=0x6",
                "-netdev", f"user,id=linux,hostfwd=tcp:127.0.0.1:{lx}-:80",
                "-device", "virtio-net-pci,netdev=linux,addr=0x7"]
    else:
        cmd += ["-kernel", a.kernel, "-initrd", a.initrd, "-append", "test-exit"]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE if a.serve else subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    serial = bytearray()
    lock = threading.Condition()
    log = open(a.log, "wb")

    def reader():
        while True:
            b = os.read(p.stdout.fileno(), 4096)
            with lock:
                if not b:
                    lock.notify_all()
                    return
                serial.extend(b)
                log.write(b)
                log.flush()
                lock.notify_all()

    threading.Thread(target=reader, daemon=True).start()

    def serial_expect(pattern, timeout):
        rx = re.compile(pattern.encode())
        end = time.time() + timeout
        with lock:
            while time.time() < end:
                if rx.search(serial):
                    return True
                if p.poll() is not None:
                    return bool(rx.search(serial))
                lock.wait(0.5)
        return False

    results = []

    def step(name, ok, detail=""):
        results.append((name, ok))
        print(("ok - " if ok else "not ok - ") + a.name + "." + name, flush=True)
        if not ok and detail:
            print("#   " + detail.replace("\n", "\n#   "), flush=True)

    q = None

    def wait_screen(cond, timeout=None):
        """Poll the screen until cond(rows) holds; the last rows seen."""
        end = time.time() + (timeout or a.step_timeout)
        while True:
            rows = q.screen()
            if cond(rows) or time.time() > end:
                return rows
            time.sleep(0.2)

    def prompt_last(rows):
        filled = [r for r in rows if r]
        return bool(filled) and filled[-1] == "hl>"

    def show(rows):
        return "\n".join(f"{i:2} |{r}" for i, r in enumerate(rows))

    def run(name, typed, want):
        """Type a command line and Enter; the rows between the command's line and the next
        prompt (the last filled row) must be exactly want."""
        q.type(typed + "\r")
        rows = wait_screen(lambda r: prompt_last(r) and any(x == "hl> " + typed or
                                                            x == "hl>" + typed for x in r))
        filled = [r for r in rows if r]
        try:
            i = max(k for k, r in enumerate(filled) if r.startswith("hl> ") and
                    r[4:] == typed)
            got = filled[i + 1:-1]
        except ValueError:
            got = None
        step(name, got == want, f"typed {typed!r}: got {got!r}, want {want!r}\n{show(rows)}")
        return rows

    def serial_send(text):
        p.stdin.write(text.encode())
        p.stdin.flush()

    def start_screen_session(started_step):
        """Enter on the keyboard starts the offered shell: the kernel hands the screen over,
        the shell prompts on it, and its prompt is set to one the steps look for."""
        q.type("\r")
        started = serial_expect(r"linux: screen session: /bin/sh", a.step_timeout)
        step(started_step, started, "no 'linux: screen session' line on the serial port")
        if not started:
            raise TimeoutError
        step("kernel_hands_over_the_screen",
             serial_expect(r"console: the screen is ring 3's from now on", 1),
             "the kernel did not say it stopped drawing on the screen")
        rows = wait_screen(lambda r: any(x.startswith("/ #") for x in r))
        step("shell_prompts_on_the_screen", any(x.startswith("/ #") for x in rows), show(rows))
        q.type("PS1='h''l> '\r")

    def serve_steps():
        """make run's configuration: both appliances, a shell on the console and one on the
        screen at once."""
        up = all(serial_expect(rx, a.boot_timeout) for rx in
                 (r"webd: ready", r"brokerd: ready",
                  r"linux: busybox sh on this console: press Enter",
                  r"linux: busybox sh on this screen: press Enter"))
        step("appliances_up_and_both_gettys_offer", up, f"serial: {bytes(serial[-600:])!r}")
        rows = wait_screen(lambda r: "busybox sh on Hallows: press Enter to start it" in r)
        step("screen_offers_a_shell", "busybox sh on Hallows: press Enter to start it" in rows,
             show(rows))
        start_screen_session("screen_session_starts")
        wait_screen(prompt_last)
        run("echo_on_the_screen", "echo hello screen", ["hello screen"])
        # The serial console's getty, while the screen's shell runs.
        serial_send("\r")
        step("console_session_starts_too",
             serial_expect(r"linux: console session: /bin/sh", a.step_timeout) and
             serial_expect(r"/ # ", a.step_timeout), f"serial: {bytes(serial[-300:])!r}")
        serial_send("echo serial-$((6*7))\r")
        step("echo_on_the_console", serial_expect(r"serial-42\r?\n", a.step_timeout),
             f"serial: {bytes(serial[-300:])!r}")
        run("screen_still_answers", "echo still $((2+3))", ["still 5"])
        rows = q.screen()
        step("console_text_not_on_the_screen", not any("serial-42" in r for r in rows), show(rows))
        # Ctrl-D ends the screen's shell; its getty offers another; the console's goes on.
        time.sleep(0.5)
        q.keys(["ctrl", "d"])
        step("screen_session_ends", serial_expect(r"linux: screen session ended", a.step_timeout),
             f"serial: {bytes(serial[-300:])!r}")
        rows = wait_screen(lambda r: "busybox sh on Hallows: press Enter to start it" in r)
        step("screen_getty_offers_again",
             "busybox sh on Hallows: press Enter to start it" in rows, show(rows))
        serial_send("echo after-$((1+1))\r")
        step("console_goes_on", serial_expect(r"after-2\r?\n", a.step_timeout),
             f"serial: {bytes(serial[-300:])!r}")
        q.cmd("quit")

    try:
        q = Qmp(sock, time.time() + 30)
        if a.serve:
            serve_steps()
            raise StopIteration
        # @screengetty: the screen offers a shell; Enter on the keyboard starts it.
        offered = serial_expect(r"linux: busybox sh on this screen: press Enter", a.boot_timeout)
        rows = wait_screen(lambda r: "busybox sh on Hallows: press Enter to start it" in r)
        step("getty_offers_a_shell_on_the_screen", offered and
             "busybox sh on Hallows: press Enter to start it" in rows, show(rows))
        start_screen_session("session_starts")
        rows = wait_screen(prompt_last)
        step("set_prompt", prompt_last(rows), show(rows))
        run("echo", "echo hello screen", ["hello screen"])
        # The keyboard and tty steps (the same code on either screen): once, not again with
        # --quick (the UEFI run, which checks what differs: the drawing).
        if not a.quick:
            run("stdin_and_stdout_are_a_terminal", "[ -t 0 ] && [ -t 1 ] && echo yes", ["yes"])
            run("stty_size_25x80", "stty size", ["25 80"])
            nbin = len(os.listdir(os.path.join(a.root, "bin")))
            run("ls_bin_wc_l", "ls /bin | wc -l", [str(nbin)])
            run("dev_tty1_is_the_screen", "echo via-tty1 > /dev/tty1", ["via-tty1"])
            # /dev/console is still the serial port: the text goes there, not to the screen.
            rows = run("dev_console_stays_serial", "echo to-the-serial-port > /dev/console", [])
            step("dev_console_text_on_serial", serial_expect(r"to-the-serial-port", 5),
                 "not on the serial port")
            # Line editing: backspace erases, the up arrow brings the line back.
            q.type("echo abx\bc\r")
            rows = wait_screen(lambda r: prompt_last(r) and "abc" in r)
            step("edit_backspace", "abc" in rows and prompt_last(rows), show(rows))
            q.keys(["up"])
            q.type("\r")
            rows = wait_screen(lambda r: prompt_last(r) and r.count("abc") >= 2)
            step("history_up_arrow", rows.count("abc") >= 2, show(rows))
            # Caps lock: letters come out capital, shift undoes it, a second press ends it.
            q.type("echo ")
            q.keys(["caps_lock"])
            q.type("ab1")
            q.keys(["shift", "c"])
            q.keys(["caps_lock"])
            q.type("d\r")
            rows = wait_screen(lambda r: prompt_last(r) and "AB1cd" in r)
            step("caps_lock", "AB1cd" in rows, show(rows))
            # Ctrl-C: SIGINT to cat waiting on the tty; the shell survives with status 130.
            q.type("cat\r")
            time.sleep(1)
            q.keys(["ctrl", "c"])
            rows = wait_screen(prompt_last)
            step("ctrl_c_interrupts_cat", prompt_last(rows) and any("^C" in r for r in rows),
                 show(rows))
            run("cat_status_is_sigint", "echo status=$?", ["status=130"])
        else:
            q.type("echo abx\bc\r")  # the cursor drawn back over an erased cell
            rows = wait_screen(lambda r: prompt_last(r) and "abc" in r)
            step("edit_backspace", "abc" in rows and prompt_last(rows), show(rows))
        # Scrolling: 40 lines through a 25-row screen; the prompt stays on the last row.
        q.type("seq 1 40\r")
        rows = wait_screen(lambda r: r[-1] == "hl>" and r[-2] == "40")
        step("scrolls", rows[-1] == "hl>" and rows[-5:-1] == ["37", "38", "39", "40"] and
             rows[0] == "17", show(rows))
        q.type("clear\r")
        rows = wait_screen(lambda r: r[0] == "hl>" and not any(r[1:]))
        step("clear_screen_escape", rows[0] == "hl>" and not any(rows[1:]), show(rows))
        # Ctrl-D at an empty prompt: the shell exits, the session ends, QEMU leaves. Not at
        # once: on row 1 the answer to busybox's cursor query (ESC [ 1 ; 1 R) starts like a
        # key's sequence (ESC [ 1 ; 5 C), so busybox waits 50 ms for more, and a key typed in
        # that time is taken into the sequence (a terminal's answer does the same on Linux).
        time.sleep(0.5)
        q.keys(["ctrl", "d"])
        ended = serial_expect(r"linux: screen session ended: exit=0", a.step_timeout)
        if not ended:  # what does the shell make of more typing?
            q.type("echo alive\r")
            time.sleep(2)
        step("ctrl_d_exits_the_shell", ended,
             "" if ended else f"serial: {bytes(serial[-300:])!r}\n{show(q.screen())}")
        # The getty offers a new shell (the screen was cleared above: this line is the new
        # offer); then QEMU is told to quit (the getty never ends).
        rows = wait_screen(lambda r: "busybox sh on Hallows: press Enter to start it" in r)
        step("getty_offers_a_new_shell", "busybox sh on Hallows: press Enter to start it" in rows
             and serial_expect(r"press Enter[^\n]*\n(.|\n)*press Enter", 1), show(rows))
        q.cmd("quit")
    except StopIteration:
        pass
    except (TimeoutError, OSError, RuntimeError, ValueError) as e:
        step("runner", False, f"{type(e).__name__}: {e}")
    finally:
        try:
            rc = p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = p.wait()
        for f in ("qmp", "vars.fd", "screen.ppm", "disk.img"):
            try:
                os.unlink(os.path.join(tmp, f))
            except OSError:
                pass
        try:
            os.rmdir(tmp)
        except OSError:
            pass
    step("qemu_quits_when_told", rc == 0, f"QEMU exit status {rc}")
    with open(a.tap, "w") as f:
        for name, ok in results:
            f.write(("ok - " if ok else "not ok - ") + a.name + "." + name + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
