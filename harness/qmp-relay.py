#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Let the guest drive QEMU's memory hotplug (vm.sh check).

The guest's third serial port (ttyS2) is a unix socket QEMU serves; this
relay connects to it and to QEMU's QMP socket. The guest writes one HMP
command per line; the relay runs it through QMP's human-monitor-command
and answers with the command's output lines, then one line
"relay-done ok" or "relay-done error <message>". Only the commands a
memory hotplug test needs are accepted: object_add, object_del,
device_add, device_del and info.

    qmp-relay.py GUEST_SOCKET QMP_SOCKET LOG

It ends when QEMU closes either socket.
"""
import json
import socket
import sys
import time

ALLOWED = ("object_add ", "object_del ", "device_add ", "device_del ",
           "info ")


def connect(path, deadline):
    """Connect to the unix socket PATH, retrying until DEADLINE."""
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return s
        except OSError:
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


class Qmp:
    """A QMP client: one command at a time, events skipped."""

    def __init__(self, sock):
        self.f = sock.makefile("rwb", buffering=0)
        self.reply()                    # the greeting
        self.call("qmp_capabilities")

    def reply(self):
        while True:
            line = self.f.readline()
            if not line:
                raise EOFError("QMP socket closed")
            msg = json.loads(line)
            if "event" not in msg:
                return msg

    def call(self, cmd, args=None):
        req = {"execute": cmd}
        if args is not None:
            req["arguments"] = args
        self.f.write(json.dumps(req).encode() + b"\n")
        return self.reply()


def main():
    guest_path, qmp_path, log_path = sys.argv[1:4]
    deadline = time.monotonic() + 60
    log = open(log_path, "a", buffering=1)
    qmp = Qmp(connect(qmp_path, deadline))
    guest = connect(guest_path, deadline).makefile("rwb", buffering=0)
    log.write("relay: connected\n")
    while True:
        raw = guest.readline()
        if not raw:
            break
        cmd = raw.decode(errors="replace").strip()
        # nothing, or our own words echoed by a tty not yet in raw mode:
        # never answered, so that an echo cannot start a loop
        if not cmd or cmd.startswith("relay-done") or raw[:1].isspace():
            continue
        if not cmd.startswith(ALLOWED):
            out, status = "", "error not allowed: " + cmd
        else:
            r = qmp.call("human-monitor-command", {"command-line": cmd})
            if "error" in r:
                out, status = "", "error " + r["error"].get("desc", "?")
            else:
                out = r.get("return", "")
                # HMP reports most failures as text, not as a QMP error
                status = "error " + out.strip() if out.startswith("Error") \
                    else "ok"
        log.write("relay: %s -> %s\n" % (cmd, status))
        for line in out.splitlines():
            guest.write(("  " + line.rstrip("\r") + "\n").encode())
        guest.write(("relay-done %s\n" % status.replace("\n", " ")).encode())
    log.write("relay: guest closed\n")


if __name__ == "__main__":
    try:
        main()
    except (OSError, EOFError) as e:
        sys.stderr.write("qmp-relay: %s\n" % e)
        sys.exit(1)
