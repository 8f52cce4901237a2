"""A Python caller of lxnsd: calls the API through stubs built from proto/ and checks the answers against /proc.

    python3 client_checks.py ADDRESS PROTO_DIR TARGET_PID

ADDRESS is a grpc target (unix:/path/to.sock); TARGET_PID a process in a network
namespace of its own. Exits 1 with the failed check on stderr; on success
prints one JSON document of what it saw, for the caller to compare with /proc.
"""

import hashlib
import json
import os
import queue
import re
import sys

import grpc

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lxnsd_stubs  # noqa: E402

# /proc/PID/ns names of the NamespaceType values, in the enum's order.
NS_NAMES = {1: "user", 2: "cgroup", 3: "ipc", 4: "net", 5: "mnt", 6: "pid", 7: "time", 8: "uts"}


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def ns_link(pid, name):
    return os.readlink(f"/proc/{pid}/ns/{name}")


class Checks:
    def __init__(self, address, proto_dir, target_pid):
        modules = lxnsd_stubs.load_messages(proto_dir)
        self.pb = modules["lxnsd/v1/types.proto"]
        self.ns_pb = modules["lxnsd/v1/namespace_service.proto"]
        self.ps_pb = modules["lxnsd/v1/process_service.proto"]
        self.channel = grpc.insecure_channel(address)
        services = lxnsd_stubs.stubs(self.channel, modules)
        self.ns = services["NamespaceService"]
        self.ps = services["ProcessService"]
        self.target_pid = target_pid
        self.report = {"pid": os.getpid()}

    def ref(self, ns_type, **source):
        return self.pb.NamespaceRef(type=ns_type, **source)

    def spec(self, argv, join=()):
        return self.pb.ExecSpec(argv=argv, join=list(join))

    def inspect(self):
        """Inspect of each of our own namespaces (by pid) and the target's net namespace (by path) = stat of /proc."""
        own = {}
        for ns_type, name in NS_NAMES.items():
            st = os.stat(f"/proc/self/ns/{name}")
            info = self.ns.Inspect(self.ns_pb.InspectRequest(ref=self.ref(ns_type, pid=os.getpid()))).info
            check(info.type == ns_type, f"Inspect {name}: type {info.type}")
            check(info.ns_id == st.st_ino, f"Inspect {name}: ns_id {info.ns_id} != st_ino {st.st_ino}")
            check(info.device == st.st_dev, f"Inspect {name}: device {info.device} != st_dev {st.st_dev}")
            own[name] = info.ns_id
        path = f"/proc/{self.target_pid}/ns/net"
        target = self.ns.Inspect(self.ns_pb.InspectRequest(ref=self.ref(4, path=path))).info
        check(target.ns_id == os.stat(path).st_ino, f"Inspect {path}: {target.ns_id}")
        check(target.ns_id != own["net"], "the target's net namespace is ours")
        self.report["own"] = {name: str(ns_id) for name, ns_id in own.items()}
        self.report["target_net"] = str(target.ns_id)
        return own, target.ns_id

    def list_namespaces(self, own, target_net):
        """ListNamespaces (a server stream): ours by pid, and every net namespace."""
        mine = {
            (row.summary.info.type, row.summary.info.ns_id)
            for row in self.ns.ListNamespaces(self.ns_pb.ListNamespacesRequest(pid=os.getpid()))
        }
        expected = {(ns_type, own[name]) for ns_type, name in NS_NAMES.items()}
        check(mine == expected, f"ListNamespaces(pid=self): {sorted(mine)} != {sorted(expected)}")
        rows = {
            row.summary.info.ns_id: row.summary
            for row in self.ns.ListNamespaces(self.ns_pb.ListNamespacesRequest(types=[4]))
        }
        check(own["net"] in rows and target_net in rows, "ListNamespaces(net) misses ours or the target's")
        check(rows[own["net"]].pid <= os.getpid(), "our net namespace's lowest pid is above ours")
        target_row = rows[target_net]
        check(target_row.process_count >= 1, "the target's net namespace has no process")
        check(ns_link(target_row.pid, "net") == f"net:[{target_net}]", "the listed pid is not in the target's net namespace")
        self.report["net_rows"] = len(rows)
        self.report["target_row"] = {"pid": target_row.pid, "process_count": target_row.process_count, "command": target_row.command}

    def unshare(self, own):
        """Unshare net+uts: two handles of new namespaces, not ours."""
        request = self.ns_pb.UnshareRequest(types=[4, 8], options=self.pb.UnshareOptions(hostname="py-interop", loopback_up=True))
        handles = {NS_NAMES[h.info.type]: h for h in self.ns.Unshare(request).handles}
        check(sorted(handles) == ["net", "uts"], f"Unshare returned {sorted(handles)}")
        for name, handle in handles.items():
            check(handle.info.ns_id != own[name], f"the new {name} namespace is ours")
            check(handle.id != "", "a handle without an id")
            check(handle.expires_at.seconds > 0, "a handle without a lease")
        self.report["unshared"] = {name: str(h.info.ns_id) for name, h in handles.items()}
        return handles

    def run(self, handles, target_net):
        """Run joined to the new namespaces (by handle) and to the target (by pid); a non-zero exit is an answer."""
        joins = [self.ref(h.info.type, handle=h.id) for h in handles.values()]
        answer = self.ps.Run(self.ps_pb.RunRequest(spec=self.spec(["sh", "-c", "hostname; readlink /proc/self/ns/net /proc/self/ns/uts"], joins)))
        expected = f"py-interop\nnet:[{handles['net'].info.ns_id}]\nuts:[{handles['uts'].info.ns_id}]\n"
        check(answer.stdout.decode() == expected, f"Run in the handles: {answer.stdout!r} != {expected!r}")
        check(answer.exit.WhichOneof("status") == "code" and answer.exit.code == 0, f"Run exit {answer.exit}")
        answer = self.ps.Run(self.ps_pb.RunRequest(spec=self.spec(["readlink", "/proc/self/ns/net"], [self.ref(4, pid=self.target_pid)])))
        check(answer.stdout.decode() == f"net:[{target_net}]\n", f"Run in the target: {answer.stdout!r}")
        answer = self.ps.Run(self.ps_pb.RunRequest(spec=self.spec(["sh", "-c", "cat; echo err >&2; exit 3"]), stdin=b"in\n"))
        check((answer.stdout, answer.stderr, answer.exit.code) == (b"in\n", b"err\n", 3), f"Run exit 3: {answer}")
        self.report["run_hostname"] = "py-interop"

    def exec_stream(self, handles):
        """Exec: a cat joined to the new net namespace echoes each stdin chunk back before stdin closes."""
        requests = queue.Queue()
        requests.put(self.ps_pb.ExecRequest(spec=self.spec(["cat"], [self.ref(4, handle=handles["net"].id)])))
        responses = self.ps.Exec(iter(requests.get, None))
        first = next(responses)
        check(first.WhichOneof("msg") == "started", f"Exec: first answer {first}")
        pid = first.started.pid
        # The program is a process we can see: cat, in the new net namespace.
        check(open(f"/proc/{pid}/comm").read().strip() == "cat", f"Exec pid {pid} is not cat")
        check(ns_link(pid, "net") == f"net:[{handles['net'].info.ns_id}]", f"Exec pid {pid} is not in the new net namespace")

        def echo(data):
            requests.put(self.ps_pb.ExecRequest(stdin=data))
            got = b""
            while len(got) < len(data):
                answer = next(responses)
                check(answer.WhichOneof("msg") == "stdout", f"Exec: expected stdout, got {answer}")
                got += answer.stdout
            check(got == data, f"Exec echo: {got[:64]!r} != {data[:64]!r}")

        echo(b"hello\n")
        echo(b"world\n")
        big = os.urandom(1 << 20)
        for offset in range(0, len(big), 32 << 10):
            requests.put(self.ps_pb.ExecRequest(stdin=big[offset : offset + (32 << 10)]))
        requests.put(self.ps_pb.ExecRequest(close_stdin=True))
        out = hashlib.sha256()
        size = 0
        exit_status = None
        for answer in responses:
            kind = answer.WhichOneof("msg")
            if kind == "stdout":
                out.update(answer.stdout)
                size += len(answer.stdout)
            elif kind == "exit":
                exit_status = answer.exit
            else:
                raise AssertionError(f"Exec: unexpected {answer}")
        requests.put(None)
        check(size == len(big) and out.hexdigest() == hashlib.sha256(big).hexdigest(), f"Exec: {size} bytes came back, not the 1 MiB sent")
        check(exit_status is not None and exit_status.WhichOneof("status") == "code" and exit_status.code == 0, f"Exec exit {exit_status}")
        self.report["exec"] = {"pid": pid, "echoed_bytes": size}

        # A signal message reaches the program: sleep dies of SIGTERM, and that is its exit status.
        requests = queue.Queue()
        requests.put(self.ps_pb.ExecRequest(spec=self.spec(["sleep", "100"])))
        responses = self.ps.Exec(iter(requests.get, None))
        check(next(responses).WhichOneof("msg") == "started", "Exec sleep: no started")
        requests.put(self.ps_pb.ExecRequest(signal=15))
        last = list(responses)[-1]
        requests.put(None)
        check(last.WhichOneof("msg") == "exit" and last.exit.WhichOneof("status") == "signal" and last.exit.signal == 15, f"Exec signal: {last}")
        self.report["exec_signal"] = last.exit.signal

    def exec_tty(self):
        """Exec with a terminal: sh -i gets its prompt, stty size follows terminal_size and a resize, exit 5 is 5."""
        requests = queue.Queue()
        spec = self.spec(["sh", "-i"])
        spec.env.extend(["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "PS1=py$ "])
        spec.tty = True
        spec.terminal_size.CopyFrom(self.pb.TerminalSize(rows=25, cols=90))
        requests.put(self.ps_pb.ExecRequest(spec=spec))
        responses = self.ps.Exec(iter(requests.get, None))
        check(next(responses).WhichOneof("msg") == "started", "Exec tty: no started")
        seen = {"text": b"", "stderr": 0}

        def until(pattern):
            while re.search(pattern, seen["text"]) is None:
                answer = next(responses)
                kind = answer.WhichOneof("msg")
                check(kind in ("stdout", "stderr"), f"Exec tty: unexpected {answer} before {pattern!r}; screen {seen['text'][-200:]!r}")
                if kind == "stderr":
                    seen["stderr"] += 1
                seen["text"] += answer.stdout
            match = re.search(pattern, seen["text"])
            seen["text"] = seen["text"][match.end() :]
            return match

        until(rb"py\$ $")
        requests.put(self.ps_pb.ExecRequest(stdin=b"stty size\n"))
        first = until(rb"\r\n(\d+ \d+)\r\npy\$ $").group(1).decode()
        requests.put(self.ps_pb.ExecRequest(resize=self.pb.TerminalSize(rows=50, cols=132)))
        requests.put(self.ps_pb.ExecRequest(stdin=b"stty size\n"))
        resized = until(rb"\r\n(\d+ \d+)\r\npy\$ $").group(1).decode()
        requests.put(self.ps_pb.ExecRequest(stdin=b"exit 5\n"))
        exit_status = None
        for answer in responses:
            kind = answer.WhichOneof("msg")
            if kind == "exit":
                exit_status = answer.exit
            elif kind == "stderr":
                seen["stderr"] += 1
        requests.put(None)
        check(exit_status is not None and exit_status.WhichOneof("status") == "code", f"Exec tty exit {exit_status}")
        self.report["tty"] = {"size": first, "resized": resized, "exit": exit_status.code, "stderr_chunks": seen["stderr"]}

    def close(self, handles):
        """Close releases a handle and may be repeated; using it afterwards is FAILED_PRECONDITION."""
        for handle in handles.values():
            self.ns.Close(self.ns_pb.CloseRequest(handle=handle.id))
            self.ns.Close(self.ns_pb.CloseRequest(handle=handle.id))
        self.report["closed"] = self.failure(
            lambda: self.ns.Inspect(self.ns_pb.InspectRequest(ref=self.ref(4, handle=handles["net"].id))))

    def failure(self, call):
        """Runs a call that must fail; returns its status code name and ErrorInfo (domain, reason)."""
        try:
            call()
        except grpc.RpcError as error:
            info = lxnsd_stubs.error_info(error)
            return {
                "code": error.code().name,
                "domain": info.domain if info else None,
                "reason": info.reason if info else None,
                "message": error.details(),
            }
        raise AssertionError("the call succeeded")

    def errors(self):
        """Bad requests map to the documented status codes, each with an lxnsd ErrorInfo."""
        gone = int(open("/proc/sys/kernel/pid_max").read()) + 1
        cases = {
            "no_such_pid": lambda: self.ns.Inspect(self.ns_pb.InspectRequest(ref=self.ref(4, pid=gone))),
            "missing_type": lambda: self.ns.Inspect(self.ns_pb.InspectRequest(ref=self.ref(0, pid=os.getpid()))),
            "unknown_handle": lambda: self.ns.Close(self.ns_pb.CloseRequest(handle="h-does-not-exist")),
            "no_such_program": lambda: self.ps.Run(self.ps_pb.RunRequest(spec=self.spec(["/nonexistent/program"]))),
            "empty_argv": lambda: self.ps.Run(self.ps_pb.RunRequest(spec=self.spec([]))),
        }
        self.report["errors"] = {name: self.failure(call) for name, call in cases.items()}

    def all(self):
        own, target_net = self.inspect()
        self.list_namespaces(own, target_net)
        handles = self.unshare(own)
        try:
            self.run(handles, target_net)
            self.exec_stream(handles)
            self.exec_tty()
        finally:
            self.close(handles)
        self.errors()
        self.channel.close()
        return self.report


def main(argv):
    if len(argv) != 4:
        sys.exit(__doc__)
    report = Checks(argv[1], argv[2], int(argv[3])).all()
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv)
