# The program every supervisor in bench/servers runs: a tiny HTTP/1.0-style server on 127.0.0.1:$PORT that answers any
# request with 200 and "ok <pid>\n" (the pid lets the measurer tell a restarted process from the one it killed).
# Only the interpreter's built-in _socket is imported and it runs with `python3 -S`, so it is listening ~30 ms after
# exec on a quiet machine: the restart figures are then mostly the supervisor's own delay, not the program's start-up.
# Prints one line once it listens (as most servers do; supervisord notices STARTING -> RUNNING when its loop wakes up).
import os
import _socket

port = int(os.environ["PORT"])
listener = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
listener.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", port))
listener.listen(128)
os.write(1, b"listening on 127.0.0.1:%d (pid %d)\n" % (port, os.getpid()))
body = b"ok %d\n" % os.getpid()
response = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
while True:
    fd, _ = listener._accept()
    conn = _socket.socket(fileno=fd)
    try:
        conn.settimeout(5)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
        if data:
            conn.sendall(response)
    except OSError:
        pass
    finally:
        conn.close()
