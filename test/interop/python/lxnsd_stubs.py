"""lxnsd messages and gRPC stubs for Python, built at run time from the project's .proto files.

`protoc --python_out` writes the message modules into a temporary directory
(nothing generated is committed). Debian ships no grpc_python_plugin next to
python3-grpcio, so the stubs are made from the service descriptors with
channel.unary_unary and friends: one callable per RPC, named as in the .proto.
"""

import importlib
import os
import subprocess
import sys
import tempfile

import grpc


def proto_files(proto_root):
    """Every .proto under proto_root, as paths relative to it (the import paths)."""
    found = []
    for directory, _, names in os.walk(proto_root):
        found += [os.path.relpath(os.path.join(directory, name), proto_root) for name in names if name.endswith(".proto")]
    return sorted(found)


def module_name(proto_path):
    """lxnsd/v1/types.proto -> lxnsd.v1.types_pb2, as protoc names it."""
    return proto_path[: -len(".proto")].replace("/", ".") + "_pb2"


def load_messages(proto_root):
    """Compiles every .proto with protoc and imports the modules; returns {proto path: module}."""
    files = proto_files(proto_root)
    with tempfile.TemporaryDirectory(prefix="lxnsd-python-") as out:
        subprocess.run(["protoc", f"--proto_path={proto_root}", f"--python_out={out}", *files], check=True)
        sys.path.insert(0, out)
        try:
            # google.rpc joins the namespace package google (python3-protobuf's google.protobuf).
            return {name: importlib.import_module(module_name(name)) for name in files}
        finally:
            sys.path.remove(out)


def message_class(descriptor):
    """The generated class of a top-level message descriptor."""
    return getattr(importlib.import_module(module_name(descriptor.file.name)), descriptor.name)


class Stub:
    """A client of one service: stub.Inspect(request), stub.ListNamespaces(request) (an iterator), ..."""

    def __init__(self, channel, service):
        kinds = {
            (False, False): channel.unary_unary,
            (False, True): channel.unary_stream,
            (True, False): channel.stream_unary,
            (True, True): channel.stream_stream,
        }
        for method in service.methods:
            call = kinds[(method.client_streaming, method.server_streaming)]
            setattr(self, method.name, call(
                f"/{service.full_name}/{method.name}",
                request_serializer=message_class(method.input_type).SerializeToString,
                response_deserializer=message_class(method.output_type).FromString,
            ))


def stubs(channel, modules):
    """{service name: Stub} for every service in the loaded files."""
    return {
        service.name: Stub(channel, service)
        for module in modules.values()
        for service in module.DESCRIPTOR.services_by_name.values()
    }


def error_info(error: grpc.RpcError):
    """The google.rpc.ErrorInfo lxnsd puts in the grpc-status-details-bin trailer, or None."""
    from google.rpc import error_details_pb2, status_pb2

    for key, value in error.trailing_metadata() or ():
        if key != "grpc-status-details-bin":
            continue
        for detail in status_pb2.Status.FromString(value).details:
            info = error_details_pb2.ErrorInfo()
            if detail.Unpack(info):
                return info
    return None
