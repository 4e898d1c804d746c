"""A loopback static file server with HTTP Range support, to try the downloader without YouTube.

    python3 -m text2music.data.serve_files data/demo/audio --port 8765

ffmpeg (under yt-dlp) seeks in a remote file with Range requests, as real video hosts allow;
Python's own `http.server` ignores Range, and ffmpeg then cuts the wrong section. Binds
127.0.0.1 only. The tests use the same handler.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import threading
import time
from pathlib import Path


class RangeRequestHandler(http.server.SimpleHTTPRequestHandler):
    delay = 0.0  # seconds to wait before answering (tests use it to slow a download down)

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.delay:
            time.sleep(self.delay)
        path = Path(self.translate_path(self.path))
        range_header = self.headers.get("Range", "")
        if not path.is_file() or not range_header.startswith("bytes="):
            return super().do_GET()
        size = path.stat().st_size
        first, _, last = range_header[len("bytes=") :].split(",")[0].partition("-")
        start = int(first) if first else max(0, size - int(last))
        end = min(int(last), size - 1) if first and last else size - 1
        if start >= size:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.end_headers()
            return
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        with open(path, "rb") as f:
            f.seek(start)
            try:
                self.wfile.write(f.read(end - start + 1))
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client (ffmpeg) stopped reading once it had its section


def serve_directory(folder: str | Path, port: int = 0, delay: float = 0.0) -> http.server.ThreadingHTTPServer:
    """Start serving `folder` on 127.0.0.1:`port` (0 = any free port) in a background thread."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"folder to serve not found: {folder}")
    handler = type("Handler", (RangeRequestHandler,), {"delay": delay})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), functools.partial(handler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path)
    ap.add_argument("--port", type=int, default=8765)
    args = ap.parse_args()
    server = serve_directory(args.folder, args.port)
    print(f"serving {args.folder} on http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C stops)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()


if __name__ == "__main__":
    main()
