# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Reading and writing rosbag2 files (sqlite3 or mcap) without a ROS installation.

Storage goes through the pure-Python ``rosbags`` library (``pip install rosbags``);
messages are (de)serialised with ``rclpy.serialization`` into the same
``sensor_msgs.msg`` classes the node receives, so the offline tools reuse
:mod:`dada_ros.msgs.conversions` unchanged and the bytes are exactly what a ROS 2 publisher
would send. No rclpy context is created, nothing touches the network.

* :class:`BagReader` - topics, counts and raw messages of a bag in log-time order.
* :class:`BagWriter` - a new bag; topics are added from a reader's connection (copied
  definition, type hash and QoS) or from a message type name.
* :func:`serialize` / :func:`deserialize` / :func:`message_class` - CDR <-> message objects.

Times: ``log_time`` is the bag's receive time in integer nanoseconds; header stamps are
converted with :func:`stamp_ns`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import importlib
from pathlib import Path
from types import TracebackType
from typing import Any, Dict, Iterable, Iterator, List, NamedTuple, Optional, Tuple, Type, Union

import yaml

__all__ = [
    'STORAGE_FORMATS', 'BagError', 'RawMessage', 'TopicInfo', 'BagReader', 'BagWriter',
    'storage_format_of', 'message_class', 'msgtype_of', 'serialize', 'deserialize',
    'stamp_ns', 'stamp_seconds',
]

#: Storage formats this module reads and writes (the rosbag2 storage identifiers).
STORAGE_FORMATS: Tuple[str, ...] = ('sqlite3', 'mcap')
#: rosbag2 metadata version written by default: 8 (Iron..Kilted read it; 9 changes the
#: QoS layout that older readers expect).
DEFAULT_BAG_VERSION = 8

PathLike = Union[str, Path]


class BagError(RuntimeError):
    """A bag that cannot be opened, read or written."""


class RawMessage(NamedTuple):
    """One serialised message of a bag."""

    topic: str
    msgtype: str
    """Type name such as ``sensor_msgs/msg/Image``."""
    log_time: int
    """Receive time in the bag (nanoseconds since the epoch)."""
    data: bytes
    """CDR bytes."""
    connection: Any
    """The ``rosbags`` connection the message belongs to (for :meth:`BagWriter.add_topic`)."""


@dataclass
class TopicInfo:
    """A topic of a bag: type, message count and its ``rosbags`` connections."""

    name: str
    msgtype: str
    count: int
    connections: List[Any] = field(default_factory=list)


def _rosbags() -> Any:
    try:
        import rosbags.rosbag2 as rosbag2
    except ImportError as error:  # pragma: no cover - depends on the installation
        raise BagError("the bag tools need the 'rosbags' package: pip install rosbags "
                       "(or pip install 'dada_ros[bag]')") from error
    return rosbag2


def storage_format_of(path: PathLike) -> str:
    """Return ``'sqlite3'`` or ``'mcap'`` for a bag directory (or a bare ``.mcap`` file).

    Raises:
        BagError: the path is not a readable rosbag2 bag.
    """
    bag = Path(path)
    if bag.is_file():
        if bag.suffix == '.mcap':
            return 'mcap'
        raise BagError(f'{bag} is a file but not an .mcap file; rosbag2 bags are folders')
    metadata = bag / 'metadata.yaml'
    if not metadata.is_file():
        raise BagError(f'{bag} is not a rosbag2 bag (no metadata.yaml)')
    try:
        info = yaml.safe_load(metadata.read_text())['rosbag2_bagfile_information']
        storage = str(info['storage_identifier'])
    except (yaml.YAMLError, KeyError, TypeError) as error:
        raise BagError(f'{metadata}: unreadable metadata ({error})') from None
    if storage not in STORAGE_FORMATS:
        raise BagError(f'{bag}: storage {storage!r} is not supported; '
                       f'supported: {list(STORAGE_FORMATS)}')
    return storage


class BagReader:
    """Read-only access to a rosbag2 bag; use as a context manager.

    Args:
        path: Bag folder (``metadata.yaml`` plus ``.db3`` or ``.mcap`` files) or a bare
            ``.mcap`` file.
    """

    def __init__(self, path: PathLike) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise BagError(f'bag {self.path} does not exist')
        self.storage = storage_format_of(self.path)
        rosbag2 = _rosbags()
        try:
            self._reader = rosbag2.Reader(self.path)
            self._reader.open()
        except Exception as error:  # noqa: B902 - rosbags raises several unrelated types
            raise BagError(f'cannot open bag {self.path}: {error}') from error
        self.topics: Dict[str, TopicInfo] = {}
        for connection in self._reader.connections:
            info = self.topics.get(connection.topic)
            if info is None:
                info = self.topics[connection.topic] = TopicInfo(
                    connection.topic, connection.msgtype, 0)
            info.count += int(connection.msgcount)
            info.connections.append(connection)

    @property
    def message_count(self) -> int:
        """Number of messages in the bag."""
        return int(self._reader.message_count)

    @property
    def start_time(self) -> int:
        """Log time of the first message (ns); 0 for an empty bag."""
        return int(self._reader.start_time) if self.message_count else 0

    @property
    def duration(self) -> int:
        """Log-time span of the bag (ns)."""
        return int(self._reader.duration) if self.message_count else 0

    def messages(self, topics: Optional[Iterable[str]] = None) -> Iterator[RawMessage]:
        """Yield the messages of ``topics`` (default: all) in log-time order."""
        if topics is None:
            connections: List[Any] = list(self._reader.connections)
        else:
            wanted = set(topics)
            connections = [c for c in self._reader.connections if c.topic in wanted]
            if not connections:
                return
        for connection, log_time, data in self._reader.messages(connections=connections):
            yield RawMessage(connection.topic, connection.msgtype, int(log_time), bytes(data),
                             connection)

    def close(self) -> None:
        """Close the bag files."""
        self._reader.close()

    def __enter__(self) -> 'BagReader':
        return self

    def __exit__(self, kind: Optional[Type[BaseException]], value: Optional[BaseException],
                 traceback: Optional[TracebackType]) -> None:
        self.close()


def _typestore() -> Any:
    from rosbags.typesys import get_typestore, Stores
    store = getattr(Stores, 'ROS2_KILTED', None) or getattr(Stores, 'ROS2_JAZZY')
    return get_typestore(store)


class BagWriter:
    """Create a new rosbag2 bag; use as a context manager (the bag is finalised on exit).

    Args:
        path: Bag folder to create (must not exist).
        storage: ``'sqlite3'`` or ``'mcap'``.
        version: rosbag2 metadata version (8 or 9).
    """

    def __init__(self, path: PathLike, storage: str = 'sqlite3',
                 version: int = DEFAULT_BAG_VERSION) -> None:
        if storage not in STORAGE_FORMATS:
            raise BagError(f'storage must be one of {list(STORAGE_FORMATS)}, got {storage!r}')
        self.path = Path(path)
        if self.path.exists():
            raise BagError(f'{self.path} exists already; choose a new output path')
        rosbag2 = _rosbags()
        plugin = rosbag2.StoragePlugin.MCAP if storage == 'mcap' else rosbag2.StoragePlugin.SQLITE3
        self.storage = storage
        try:
            self._writer = rosbag2.Writer(self.path, version=version, storage_plugin=plugin)
            self._writer.open()
        except Exception as error:  # noqa: B902 - rosbags raises several unrelated types
            raise BagError(f'cannot create bag {self.path}: {error}') from error
        self._connections: Dict[Tuple[str, str], Any] = {}
        self._store: Any = None
        self.counts: Dict[str, int] = {}

    def has_topic(self, topic: str, msgtype: Optional[str] = None) -> bool:
        """Whether ``topic`` (of ``msgtype``, if given) was added."""
        return any(t == topic and (msgtype is None or m == msgtype)
                   for t, m in self._connections)

    def add_topic(self, topic: str, msgtype: str, like: Any = None) -> None:
        """Add ``topic`` of ``msgtype`` unless it exists.

        Args:
            topic: Topic name.
            msgtype: Type name, e.g. ``sensor_msgs/msg/Image``.
            like: A ``rosbags`` connection to copy the definition, hash, serialisation
                format and offered QoS from (pass-through topics); otherwise the
                definition comes from the built-in type store.
        """
        key = (topic, msgtype)
        if key in self._connections:
            return
        kwargs: Dict[str, Any] = {}
        if like is not None and like.msgdef.data and like.digest:
            kwargs = {'msgdef': like.msgdef.data, 'rihs01': like.digest,
                      'serialization_format': like.ext.serialization_format,
                      'offered_qos_profiles': like.ext.offered_qos_profiles}
        else:
            if self._store is None:
                self._store = _typestore()
            kwargs['typestore'] = self._store
            if like is not None:
                kwargs['offered_qos_profiles'] = like.ext.offered_qos_profiles
        try:
            self._connections[key] = self._writer.add_connection(topic, msgtype, **kwargs)
        except Exception as error:  # noqa: B902 - unknown type, bad definition, ...
            raise BagError(f'cannot add topic {topic} ({msgtype}): {error}') from error
        self.counts.setdefault(topic, 0)

    def write(self, topic: str, msgtype: str, log_time: int, data: bytes) -> None:
        """Write serialised ``data`` (the topic must have been added)."""
        try:
            connection = self._connections[(topic, msgtype)]
        except KeyError:
            raise BagError(f'topic {topic} ({msgtype}) was not added') from None
        self._writer.write(connection, int(log_time), data)
        self.counts[topic] += 1

    def write_msg(self, topic: str, log_time: int, msg: Any) -> None:
        """Serialise ``msg`` and write it, adding the topic on first use."""
        msgtype = msgtype_of(type(msg))
        self.add_topic(topic, msgtype)
        self.write(topic, msgtype, log_time, serialize(msg))

    def close(self) -> None:
        """Finalise the bag (writes ``metadata.yaml``)."""
        self._writer.close()

    def __enter__(self) -> 'BagWriter':
        return self

    def __exit__(self, kind: Optional[Type[BaseException]], value: Optional[BaseException],
                 traceback: Optional[TracebackType]) -> None:
        self.close()


# --- messages -------------------------------------------------------------------------------
def message_class(msgtype: str) -> type:
    """Import the Python class of a type name such as ``sensor_msgs/msg/Image``.

    Raises:
        BagError: the name is malformed or its package is not installed.
    """
    parts = msgtype.split('/')
    if len(parts) == 2:  # 'pkg/Name' (ROS 1 style) means 'pkg/msg/Name'
        parts = [parts[0], 'msg', parts[1]]
    if len(parts) != 3 or not all(parts):
        raise BagError(f'malformed message type {msgtype!r}')
    try:
        module = importlib.import_module(f'{parts[0]}.{parts[1]}')
        return getattr(module, parts[2])  # type: ignore[no-any-return]
    except (ImportError, AttributeError):
        raise BagError(f'message type {msgtype} is not installed') from None


def msgtype_of(cls: type) -> str:
    """Return the type name (``pkg/msg/Name``) of a generated message class."""
    package = cls.__module__.split('.')[0]
    return f'{package}/msg/{cls.__name__}'


def serialize(msg: Any) -> bytes:
    """CDR-serialise a message object (no rclpy context needed)."""
    from rclpy.serialization import serialize_message
    return bytes(serialize_message(msg))


def deserialize(data: bytes, cls: type) -> Any:
    """Deserialise CDR ``data`` into an instance of ``cls``."""
    from rclpy.serialization import deserialize_message
    return deserialize_message(data, cls)


def stamp_ns(header: Any) -> int:
    """Header stamp in integer nanoseconds."""
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


def stamp_seconds(header: Any) -> float:
    """Header stamp in float seconds (as the node feeds the pairer)."""
    return float(header.stamp.sec) + float(header.stamp.nanosec) * 1e-9
