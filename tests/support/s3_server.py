"""An S3-compatible object store on 127.0.0.1 for tests: moto's standalone server, in its own process.

The test credentials go into the environment (pyarrow's S3 client and every process started
after it, Ray's workers included, read them there), and the bucket is made empty. A run folder on
it is ``s3://BUCKET/PATH?endpoint_override=127.0.0.1:PORT&scheme=http``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from servers import free_port, serve

BUCKET = "factory-test"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "factory-test",
    "AWS_SECRET_ACCESS_KEY": "factory-test",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",  # never ask an instance-metadata service for credentials
}


@contextlib.contextmanager
def s3_server(tmp: Path, wait_s: float = 60) -> Iterator[str]:
    """Yield the URI query that points pyarrow at the server (``endpoint_override=…&scheme=http``)."""
    port = free_port()
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with serve(command, f"http://127.0.0.1:{port}/moto-api/", tmp / "s3.log", wait_s=wait_s):
        os.environ.update(CREDENTIALS)
        import pyarrow.fs as pafs

        query = f"endpoint_override=127.0.0.1:{port}&scheme=http"
        fs, _ = pafs.FileSystem.from_uri(f"s3://{BUCKET}?{query}&allow_bucket_creation=true")
        fs.create_dir(BUCKET)
        yield query


def s3_location(query: str, path: str) -> str:
    return f"s3://{BUCKET}/{path}?{query}"
