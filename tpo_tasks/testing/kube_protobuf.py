"""Decode the Kubernetes protobuf request bodies that kubectl sends.

``kubectl create configmap|secret|namespace`` post protobuf
(``application/vnd.kubernetes.protobuf``) instead of JSON. A body is the magic
``k8s\\0`` followed by a ``runtime.Unknown`` message whose ``raw`` field contains the
object. This module decodes that envelope and the object types those commands
create (field numbers from ``k8s.io/api`` ``generated.proto``, Kubernetes 1.32) into
the same dicts a JSON body gives. Other kinds raise :class:`UnsupportedKind`.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

MAGIC = b"k8s\x00"


class UnsupportedKind(ValueError):
    """A protobuf body of a kind this decoder does not know."""


def _fields(data: bytes) -> Iterator[tuple[int, int, Any]]:
    """Yield (field number, wire type, value) for each field of one message."""
    position = 0
    while position < len(data):
        key, position = _varint(data, position)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, position = _varint(data, position)
        elif wire_type == 1:
            value, position = data[position : position + 8], position + 8
        elif wire_type == 2:
            length, position = _varint(data, position)
            value, position = data[position : position + length], position + length
        elif wire_type == 5:
            value, position = data[position : position + 4], position + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire_type}")
        yield number, wire_type, value


def _varint(data: bytes, position: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if position >= len(data):
            raise ValueError("truncated protobuf varint")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7


def _text(value: bytes) -> str:
    return value.decode("utf-8")


def _map_entry(value: bytes, decode_value: Callable[[bytes], Any]) -> tuple[str, Any]:
    key, item = "", decode_value(b"")
    for number, _, field_value in _fields(value):
        if number == 1:
            key = _text(field_value)
        elif number == 2:
            item = decode_value(field_value)
    return key, item


def _base64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def _owner_reference(data: bytes) -> dict[str, Any]:
    names = {1: "kind", 3: "name", 4: "uid", 5: "apiVersion"}
    reference: dict[str, Any] = {}
    for number, _, value in _fields(data):
        if number in names:
            reference[names[number]] = _text(value)
        elif number == 6:
            reference["controller"] = bool(value)
        elif number == 7:
            reference["blockOwnerDeletion"] = bool(value)
    return reference


def _object_meta(data: bytes) -> dict[str, Any]:
    strings = {
        1: "name",
        2: "generateName",
        3: "namespace",
        5: "uid",
        6: "resourceVersion",
    }
    metadata: dict[str, Any] = {}
    for number, _, value in _fields(data):
        if number in strings:
            if value:  # proto2 writes empty optional strings; JSON omits them
                metadata[strings[number]] = _text(value)
        elif number in (11, 12):
            name = "labels" if number == 11 else "annotations"
            key, item = _map_entry(value, _text)
            metadata.setdefault(name, {})[key] = item
        elif number == 13:
            metadata.setdefault("ownerReferences", []).append(_owner_reference(value))
        elif number == 14:
            metadata.setdefault("finalizers", []).append(_text(value))
    return metadata


def _config_map(data: bytes) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for number, _, value in _fields(data):
        if number == 1:
            obj["metadata"] = _object_meta(value)
        elif number == 2:
            key, item = _map_entry(value, _text)
            obj.setdefault("data", {})[key] = item
        elif number == 3:
            key, item = _map_entry(value, _base64)
            obj.setdefault("binaryData", {})[key] = item
        elif number == 4:
            obj["immutable"] = bool(value)
    return obj


def _secret(data: bytes) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for number, _, value in _fields(data):
        if number == 1:
            obj["metadata"] = _object_meta(value)
        elif number == 2:
            key, item = _map_entry(value, _base64)
            obj.setdefault("data", {})[key] = item
        elif number == 3:
            obj["type"] = _text(value)
        elif number == 4:
            key, item = _map_entry(value, _text)
            obj.setdefault("stringData", {})[key] = item
        elif number == 5:
            obj["immutable"] = bool(value)
    return obj


def _namespace(data: bytes) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for number, _, value in _fields(data):
        if number == 1:
            obj["metadata"] = _object_meta(value)
    return obj


DECODERS: dict[tuple[str, str], Callable[[bytes], dict[str, Any]]] = {
    ("v1", "ConfigMap"): _config_map,
    ("v1", "Secret"): _secret,
    ("v1", "Namespace"): _namespace,
}


def decode(body: bytes) -> dict[str, Any]:
    """Decode a protobuf request body into a JSON-like object."""
    if not body.startswith(MAGIC):
        raise ValueError("protobuf body does not start with the k8s magic bytes")
    api_version = kind = ""
    raw = b""
    for number, _, value in _fields(body[len(MAGIC) :]):
        if number == 1:
            for type_number, _, type_value in _fields(value):
                if type_number == 1:
                    api_version = _text(type_value)
                elif type_number == 2:
                    kind = _text(type_value)
        elif number == 2:
            raw = value
    decoder = DECODERS.get((api_version, kind))
    if decoder is None:
        raise UnsupportedKind(
            f"protobuf bodies of {kind} {api_version} are not supported"
        )
    obj = decoder(raw)
    obj["apiVersion"] = api_version
    obj["kind"] = kind
    return obj
