#!/usr/bin/python
"""Reloads kea-dhcp4's configuration without restarting it."""

DOCUMENTATION = r"""
module: cisco_tftp_kea_reload
short_description: Reload kea-dhcp4's configuration without a restart
description:
  - Sends C(config-reload) over Kea's unix control socket when Kea answers on it, and reports
    Kea's answer. If Kea refuses the configuration and I(backup_file) is given, the backup is
    put back and reloaded, and the module fails with Kea's message.
  - Without a reachable control socket, sends SIGHUP (through systemd when it runs the service,
    else to the pid in I(pid_file)); does nothing when Kea is not running.
options:
  config_file: {description: Kea's live configuration file., type: path, required: true}
  control_socket: {description: Path of the unix control socket; empty for none., type: str, default: ""}
  services: {description: The systemd services that may run kea-dhcp4; the first active one is signalled., type: list, elements: str, default: [kea-dhcp4-server]}
  systemd: {description: Whether systemd is the service manager., type: bool, default: false}
  pid_file: {description: Kea's pid file, used without systemd., type: path, default: /run/kea/kea-dhcp4.kea-dhcp4.pid}
  backup_file: {description: The previous configuration, restored if Kea refuses the new one., type: str, default: ""}
  timeout: {description: Seconds to wait for Kea's answer., type: float, default: 30}
"""

import json
import os
import shutil
import signal
import socket

from ansible.module_utils.basic import AnsibleModule


def kea_command(path, command, timeout):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall(json.dumps({"command": command}).encode())
        buf = b""
        while True:
            part = s.recv(65536)
            if not part:
                break
            buf += part
            try:
                return json.loads(buf)
            except ValueError:
                continue
    return json.loads(buf)


def answer_of(reply):
    if isinstance(reply, list):
        reply = reply[0] if reply else {}
    return reply.get("result", 1), reply.get("text", "")


def pid_alive(pid_file):
    try:
        with open(pid_file) as f:
            pid = int(f.read().split()[0])
        with open(f"/proc/{pid}/comm") as f:
            if f.read().strip() != "kea-dhcp4":
                return None
        return pid
    except (OSError, ValueError, IndexError):
        return None


def main():
    m = AnsibleModule(
        argument_spec=dict(
            config_file=dict(type="path", required=True),
            control_socket=dict(type="str", default=""),
            services=dict(type="list", elements="str", default=["kea-dhcp4-server"]),
            systemd=dict(type="bool", default=False),
            pid_file=dict(type="path", default="/run/kea/kea-dhcp4.kea-dhcp4.pid"),
            backup_file=dict(type="str", default=""),
            timeout=dict(type="float", default=30),
        ),
        supports_check_mode=True,
    )
    p = m.params
    sock = p["control_socket"]
    if sock and os.path.exists(sock):
        try:
            kea_command(sock, "version-get", 5)
            reachable = True
        except OSError:
            reachable = False
        if reachable:
            if m.check_mode:
                m.exit_json(changed=True, method="control-socket")
            result, text = answer_of(kea_command(sock, "config-reload", p["timeout"]))
            if result == 0:
                m.exit_json(changed=True, method="control-socket", kea=text)
            msg = f"Kea refused the new configuration: {text}"
            if p["backup_file"] and os.path.exists(p["backup_file"]):
                shutil.copy2(p["backup_file"], p["config_file"])
                r2, t2 = answer_of(kea_command(sock, "config-reload", p["timeout"]))
                msg += f". Restored {p['backup_file']} and reloaded it: result {r2} ({t2})"
            m.fail_json(msg=msg, method="control-socket")
    for service in p["services"] if p["systemd"] else []:
        rc, out, _err = m.run_command(["systemctl", "is-active", service])
        if rc == 0 and out.strip() == "active":
            if not m.check_mode:
                m.run_command(["systemctl", "kill", "--signal=SIGHUP", "--kill-whom=main", service],
                              check_rc=True)
            m.exit_json(changed=True, method="systemd SIGHUP", service=service)
    pid = pid_alive(p["pid_file"])
    if pid:
        if not m.check_mode:
            os.kill(pid, signal.SIGHUP)
        m.exit_json(changed=True, method="SIGHUP", pid=pid)
    m.exit_json(changed=False, method="none", msg="kea-dhcp4 is not running: nothing to reload")


if __name__ == "__main__":
    main()
