"""A connection plugin for the tests only: runs Ansible's modules inside a directory with
chroot(8), as root, the way `-c local` runs them on the machine itself. ansible-core ships no
chroot connection (community.general's is not installed here); this is the least that the
role's tasks need. The root is the host's `cisco_tftp_chroot` variable (one root per host: two
roots stand for the two servers of a Kea HA pair), else the CISCO_TFTP_CHROOT environment
variable."""

import os
import shutil
import subprocess

from ansible.errors import AnsibleError
from ansible.plugins.connection import ConnectionBase

DOCUMENTATION = """
name: cisco_tftp_chroot
short_description: run tasks inside a chroot (cisco-tftp's tests)
description:
  - Runs every command with chroot(8) into the host's directory and copies files in and out
    of it. Needs root.
author: cisco-tftp maintainers
options:
  chroot:
    description: the root directory of this host
    vars:
      - name: cisco_tftp_chroot
    env:
      - name: CISCO_TFTP_CHROOT
"""


class Connection(ConnectionBase):
    transport = "cisco_tftp_chroot"
    has_pipelining = True

    def _connect(self):
        root = self.get_option("chroot") or ""
        if not root or not os.path.isdir(root):
            raise AnsibleError(f"cisco_tftp_chroot / CISCO_TFTP_CHROOT is not a directory: {root!r}")
        self.chroot = root
        self._connected = True
        return self

    def exec_command(self, cmd, in_data=None, sudoable=False):
        super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        p = subprocess.Popen(["chroot", self.chroot, "/bin/sh", "-c", cmd],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = p.communicate(in_data)
        return p.returncode, out, err

    def _inside(self, path):
        if not path.startswith("/"):
            raise AnsibleError(f"not an absolute path: {path}")
        return os.path.join(self.chroot, path.lstrip("/"))

    def put_file(self, in_path, out_path):
        super().put_file(in_path, out_path)
        shutil.copyfile(in_path, self._inside(out_path))

    def fetch_file(self, in_path, out_path):
        super().fetch_file(in_path, out_path)
        shutil.copyfile(self._inside(in_path), out_path)

    def close(self):
        self._connected = False
