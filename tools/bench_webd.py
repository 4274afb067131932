#!/usr/bin/env python3
"""bench-webd: HTTP on Floo inside Hallows (webd under QEMU TCG, virtio-net on
a TAP device) beside the same Floo and HTTP code as a Linux program
(hosted floo-demo on the same kind of TAP), driven by the same client from a
network namespace, in one run:

  web.<sys>.http_rate_reqps     GET /hello.txt (webd) or / (floo-demo), one keep-alive
                                connection, requests per second
  web.<sys>.http_p50_us / p99   their latency
  web.<sys>.bytes_mbps          GET /bytes/N throughput (floo-bench bulk)

<sys> is hallows for webd and linux for floo-demo (Floo hosted on Linux,
not the Linux kernel's stack). Skipped with a message when namespaces or
TAP devices cannot be made (needs root).
"""
import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench"))
import results  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NS, TAP = "hwb%d" % os.getpid(), ("hwbt%d" % os.getpid())[:15]


def sh(*cmd, check=True):
    return subprocess.run(cmd, check=check, capture_output=True, text=True)


def in_ns(*cmd, timeout=120):
    r = subprocess.run(("ip", "netns", "exec", NS) + cmd, capture_output=True, text=True,
                       timeout=timeout)
    if r.returncode:
        raise RuntimeError("%s: %s" % (" ".join(cmd), r.stderr.strip() or r.stdout.strip()))
    return dict(kv.split("=") for kv in r.stdout.split())


def measure(system, path, secs, nbytes, config, out):
    rr = in_ns("python3", os.path.join(ROOT, "tests/system/webd/load.py"), "198.18.0.2", "80",
               str(secs), path)
    bulk = in_ns(os.path.join(ROOT, "build/hosted/floo-bench"), "bulk", "198.18.0.2", str(nbytes))
    cfg = dict(config, path=path, seconds=secs, bulk_bytes=nbytes, requests=int(rr["n"]))
    out += [results.make_result("web.%s.http_rate_reqps" % system, float(rr["rate"]), "reqps", "tcg" if system == "hallows" else "host", cfg),
            results.make_result("web.%s.http_p50_us" % system, float(rr["p50"]), "us", "tcg" if system == "hallows" else "host", cfg),
            results.make_result("web.%s.http_p99_us" % system, float(rr["p99"]), "us", "tcg" if system == "hallows" else "host", cfg),
            results.make_result("web.%s.bytes_mbps" % system, float(bulk["mbps"]), "mbps", "tcg" if system == "hallows" else "host", cfg)]
    for r in out[-4:]:
        print("%-36s %10.1f %s" % (r["name"], r["value"], r["unit"]))


def wait_for(pred, secs):
    end = time.time() + secs
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.1)
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--bytes", type=int, default=20000000)
    a = ap.parse_args()
    if sh("ip", "netns", "add", NS, check=False).returncode:
        print("bench-webd: cannot create network namespaces; skipped")
        return 0
    qemu = demo = None
    recs = []
    log = os.path.join(ROOT, "build/bench/webd-qemu.log")
    os.makedirs(os.path.dirname(log), exist_ok=True)
    if os.path.exists(log):
        os.unlink(log)
    try:
        if sh("ip", "netns", "exec", NS, "ip", "tuntap", "add", "dev", TAP, "mode", "tap",
              check=False).returncode:
            print("bench-webd: cannot create a TAP device; skipped")
            return 0
        for c in (("ip", "link", "set", "lo", "up"), ("ip", "addr", "add", "198.18.0.1/24", "dev", TAP),
                  ("ip", "link", "set", TAP, "up")):
            sh("ip", "netns", "exec", NS, *c)
        qcmd = ["qemu-system-x86_64", "-machine", "q35", "-accel", "tcg", "-cpu", "max", "-smp", "1",
                "-m", "256M", "-display", "none", "-serial", "file:" + log, "-monitor", "none",
                "-no-reboot", "-kernel", a.kernel, "-initrd", a.initrd, "-append", "",
                "-netdev", "tap,id=n0,ifname=%s,script=no,downscript=no" % TAP,
                "-device", "virtio-net-pci,netdev=n0"]
        qemu = subprocess.Popen(["ip", "netns", "exec", NS] + qcmd, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        if not wait_for(lambda: os.path.exists(log) and "webd: ready" in open(log, errors="replace").read(), 120):
            raise RuntimeError("webd did not report ready (see %s)" % log)
        ver = sh("qemu-system-x86_64", "--version").stdout.split("\n")[0]
        measure("hallows", "/hello.txt", a.seconds, a.bytes,
                {"system": "webd in QEMU TCG, 1 vCPU, virtio-net on a TAP", "qemu": ver,
                 "client": "python3 + floo-bench in a netns"}, recs)
        qemu.terminate()
        qemu.wait()
        qemu = None
        demo = subprocess.Popen(["ip", "netns", "exec", NS, os.path.join(ROOT, "build/hosted/floo-demo"),
                                 "--tap", TAP, "--addr", "198.18.0.2/24"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_for(lambda: sh("ip", "netns", "exec", NS, "ping", "-c1", "-W1", "198.18.0.2",
                                   check=False).returncode == 0, 20):
            raise RuntimeError("floo-demo did not answer ping")
        measure("linux", "/", a.seconds, a.bytes,
                {"system": "floo-demo (Floo hosted on Linux) on a TAP, same host",
                 "client": "python3 + floo-bench in a netns"}, recs)
    finally:
        for p in (qemu, demo):
            if p:
                p.terminate()
                p.wait()
        sh("ip", "netns", "del", NS, check=False)
    results.append_results(a.out, recs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
