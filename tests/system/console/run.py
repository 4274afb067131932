#!/usr/bin/env python3
"""A console session driven through the serial port (issue 15's console test).

Boots the Linux personality with tests/linux/run-console (busybox sh on
the console tty), types into QEMU's serial port (its stdin) and reads what
comes back (its stdout), like pexpect: commands, busybox's line editing
(a backspace, ^U, history with the up arrow), the line discipline's
canonical mode (cat: erase, kill, ^D), a pipe, `ls /bin | wc -l`, ^C of a
process waiting on the tty and of one that computes, and ^D at an empty
prompt ending the shell. Each step is a TAP line; outputs are checked
exactly. Usage:

    run.py --kernel K --initrd I --root DIR --tap OUT [--log LOG]
"""
import argparse
import os
import re
import subprocess
import sys
import threading
import time

PROMPT = "hl> "
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class Console:
    def __init__(self, cmd, log):
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)
        self.buf = b""
        self.pos = 0  # what expect() has consumed
        self.lock = threading.Condition()
        self.log = open(log, "wb")
        threading.Thread(target=self._reader, daemon=True).start()

    def _reader(self):
        while True:
            b = os.read(self.p.stdout.fileno(), 4096)
            with self.lock:
                if not b:
                    self.eof = True
                    self.lock.notify_all()
                    return
                self.buf += b
                self.log.write(b)
                self.log.flush()
                self.lock.notify_all()

    eof = False

    def send(self, s):
        """Type s: one byte at a time, as someone typing (each byte its own UART interrupt),
        except an escape sequence (an arrow key), which a terminal sends in one write."""
        for part in re.findall(r"\x1b\[[0-9;]*[A-Za-z~]|.", s, re.S):
            self.p.stdin.write(part.encode())
            self.p.stdin.flush()
            time.sleep(0.01)

    def expect(self, pattern, timeout):
        """Wait for regex pattern after what was consumed; return the text up to its end."""
        rx = re.compile(pattern.encode(), re.S)
        end = time.time() + timeout
        with self.lock:
            while True:
                m = rx.search(self.buf, self.pos)
                if m:
                    text = self.buf[self.pos:m.end()].decode(errors="replace")
                    self.pos = m.end()
                    return text
                left = end - time.time()
                if left <= 0 or self.eof:
                    return None
                self.lock.wait(min(left, 0.5))

    def close(self):
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        return self.p.returncode


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--root", required=True, help="the boot module's file tree (its bin/)")
    ap.add_argument("--tap", required=True)
    ap.add_argument("--log", default="build/results/logs/linux-console.log")
    ap.add_argument("--boot-timeout", type=float, default=120)
    ap.add_argument("--step-timeout", type=float, default=30)
    a = ap.parse_args()
    os.makedirs(os.path.dirname(a.log) or ".", exist_ok=True)
    cmd = ["qemu-system-x86_64", "-machine", "q35", "-accel", "tcg", "-cpu", "max", "-smp", "1",
           "-m", "512M", "-display", "none", "-serial", "stdio", "-monitor", "none",
           "-no-reboot", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
           "-kernel", a.kernel, "-initrd", a.initrd, "-append", "test-exit"]
    c = Console(cmd, a.log)
    results = []

    def step(name, ok, detail=""):
        results.append((name, ok, detail))
        print(("ok - " if ok else "not ok - ") + "linux-console." + name, flush=True)
        if not ok and detail:
            print("#   " + detail.replace("\n", "\n#   "), flush=True)

    def run(name, typed, want, timeout=None):
        """Type a command line; its output (up to the next prompt, CR LF made LF, the echoed
        line dropped) must be exactly want."""
        c.send(typed)
        # the prompt after output or the echoed line (a redraw of the line starts with CR only)
        out = c.expect(r"\n" + re.escape(PROMPT), timeout or a.step_timeout)
        if out is None:
            step(name, False, f"no prompt after {typed!r}; last output: {c.buf[-300:]!r}")
            return None
        # busybox asks where the cursor is (ESC [ 6 n) before a prompt; no answer is needed
        body = ANSI.sub("", out[: -len(PROMPT)]).replace("\r\n", "\n")
        body = body.split("\n", 1)[1] if "\n" in body else ""
        step(name, body == want, f"typed {typed!r}: got {body!r}, want {want!r}")
        return body

    try:
        started = c.expect(r"linux: console session: /bin/sh\r?\n", a.boot_timeout)
        step("session_starts", started is not None, "no 'linux: console session' line")
        if started is None:
            raise TimeoutError("no session")
        first = c.expect(r"/ # ", a.step_timeout)
        step("shell_prompts", first is not None, f"no prompt: {c.buf[-300:]!r}")
        run("set_prompt", "PS1='h''l> '\r", "")
        run("echo", "echo hello world\r", "hello world\n")
        run("stdin_is_a_terminal", "[ -t 0 ] && [ -t 1 ] && echo yes\r", "yes\n")
        run("stty_size_80x24", "stty size\r", "24 80\n")
        run("pipe", "echo one two three | wc -w\r", "3\n")
        nbin = len(os.listdir(os.path.join(a.root, "bin")))
        run("ls_bin_wc_l", "ls /bin | wc -l\r", f"{nbin}\n")
        # busybox's line editing (the tty in raw mode): DEL erases, ^U kills the line.
        run("edit_backspace", "echo abx\x7fc\r", "abc\n")
        run("edit_ctrl_u", "echo junk\x15echo fine\r", "fine\n")
        run("history_up_arrow", "\x1b[A\r", "fine\n")
        # The line discipline's canonical mode (cat reads the tty): erase, kill, then ^D.
        c.send("cat\r")
        time.sleep(1)
        c.send("abd\x7fc\r")
        got = c.expect(r"abc\r\n", a.step_timeout)
        step("canonical_erase", got is not None and "abd\b \bc\r\n" in got,
             f"cat after 'abd DEL c': {got!r}")
        c.send("xx\x15yy\r")
        got = c.expect(r"yy\r\nyy\r\n", a.step_timeout)
        step("canonical_kill", got is not None and "xx\b \b\b \byy\r\nyy\r\n" in got,
             f"cat after 'xx ^U yy': {got!r}")
        c.send("\x04")
        got = c.expect(re.escape(PROMPT), a.step_timeout)
        step("canonical_ctrl_d_ends_cat", got is not None, f"no prompt after ^D: {c.buf[-200:]!r}")
        # ^C: SIGINT to the foreground process group, not to the shell.
        c.send("cat\r")
        time.sleep(1)
        c.send("\x03")
        got = c.expect(re.escape(PROMPT), a.step_timeout)
        step("ctrl_c_interrupts_cat", got is not None and "^C" in got,
             f"after ^C: {c.buf[-200:]!r}")
        run("cat_status_is_sigint", "echo status=$?\r", "status=130\n")
        c.send("yes > /dev/null\r")
        time.sleep(2)
        c.send("\x03")
        got = c.expect(re.escape(PROMPT), a.step_timeout)
        step("ctrl_c_interrupts_a_computing_process", got is not None,
             f"after ^C: {c.buf[-200:]!r}")
        run("shell_survives", "echo still here\r", "still here\n")
        # Job control: ^Z stops the foreground job (SIGTSTP to its group), the shell reports
        # it, `jobs` lists it, `fg` continues it in the foreground (^C then ends it), `bg`
        # continues one in the background; a background read from the tty stops with SIGTTIN.
        c.send("sleep 100\r")
        time.sleep(1)
        c.send("\x1a")
        got = c.expect(re.escape(PROMPT), a.step_timeout)
        step("ctrl_z_stops_sleep", got is not None and re.search(r"\[1\]\+ +Stopped +sleep 100", got)
             is not None, f"after ^Z: {c.buf[-200:]!r}")
        run("jobs_lists_it", "jobs\r", "[1]+  Stopped                    sleep 100\n")
        c.send("fg\r")
        got = c.expect(r"sleep 100\r\n", a.step_timeout)
        step("fg_continues_it", got is not None, f"after fg: {c.buf[-200:]!r}")
        time.sleep(1)
        c.send("\x03")
        got = c.expect(re.escape(PROMPT), a.step_timeout)
        step("fg_job_takes_ctrl_c", got is not None, f"after ^C: {c.buf[-200:]!r}")
        run("fg_status_is_sigint", "echo status=$?\r", "status=130\n")
        c.send("sleep 100\r")
        time.sleep(1)
        c.send("\x1a")
        c.expect(re.escape(PROMPT), a.step_timeout)
        run("bg_continues_it", "bg\r", "[1] sleep 100\n")
        run("bg_job_runs", "jobs\r", "[1]+  Running                    sleep 100\n")
        run("kill_bg_job", "kill %1; wait; echo status=$?\r",
            "status=0\n[1]+  Terminated                 sleep 100\n")
        def background_then_jobs(cmd):
            """Start cmd in the background, give it a second, and return what `jobs` says."""
            c.send(cmd + " &\r")
            c.expect(re.escape(PROMPT), a.step_timeout)
            time.sleep(1)
            c.send("jobs\r")
            return c.expect(r"\n" + re.escape(PROMPT), a.step_timeout)

        # A background read from the tty stops with SIGTTIN; fg gives it the terminal.
        got = background_then_jobs("cat")
        step("bg_read_stops_with_sigttin", got is not None and
             re.search(r"\[1\]\+ +Stopped \(tty input\) +cat", got) is not None,
             f"jobs after cat &: {got!r}")
        c.send("fg\r")
        c.expect(r"cat\r\n", a.step_timeout)
        time.sleep(1)
        c.send("read on\r")
        got = c.expect(r"read on\r\n", a.step_timeout)
        c.send("\x04")
        got = c.expect(re.escape(PROMPT), a.step_timeout) if got is not None else None
        step("fg_read_goes_on", got is not None, f"after fg and a line: {c.buf[-200:]!r}")
        # TOSTOP: a background write stops with SIGTTOU.
        run("stty_tostop", "stty tostop\r", "")
        got = background_then_jobs("(echo from the background)")
        step("tostop_bg_write_stops_with_sigttou", got is not None and
             re.search(r"\[1\]\+ +Stopped \(tty output\)", got) is not None
             and "\nfrom the background\r" not in got, f"jobs: {got!r}")
        c.send("fg\r")
        got = c.expect(r"from the background\r\n" + re.escape(PROMPT), a.step_timeout)
        step("fg_write_goes_on", got is not None, f"after fg: {c.buf[-200:]!r}")
        run("stty_no_tostop", "stty -tostop\r", "")
        # A read from the tty by an orphaned process group (its subshell, the link to the
        # shell, has gone): EIO, not SIGTTIN, which would stop it for good (POSIX). (Its
        # stdin is /dev/null, as for any background command without job control.)
        c.send("(sh -c 'sleep 1; cat < /dev/tty; echo orphan rc=$?' &)\r")
        got = c.expect(r"orphan rc=\d+", a.step_timeout + 5)
        step("orphaned_bg_read_gets_eio", got is not None and got.endswith("orphan rc=1")
             and "Input/output error" in got, f"after the orphaned cat: {c.buf[-300:]!r}")
        c.send("\r")
        c.expect(re.escape(PROMPT), a.step_timeout)
        # ^D at an empty prompt: the shell exits, the session ends, QEMU leaves.
        c.send("\x04")
        got = c.expect(r"linux: console session ended: exit=0", a.step_timeout)
        step("ctrl_d_exits_the_shell", got is not None, f"after ^D: {c.buf[-200:]!r}")
    except TimeoutError:
        pass
    finally:
        if c.p.poll() is None:
            try:
                c.p.stdin.close()
            except OSError:
                pass
        rc = c.close()
    # isa-debug-exit: (0 << 1) | 1 = 1 when the run file's @exit ran.
    step("qemu_exits_cleanly", rc == 1, f"QEMU exit status {rc}")
    with open(a.tap, "w") as f:
        for name, ok, _ in results:
            f.write(("ok - " if ok else "not ok - ") + "linux-console." + name + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
