"""A tiny SMTP server for the tests: `python3 smtp_sink.py PORT OUTFILE`.

Every message received is appended to OUTFILE, followed by a line `--END--`.
Prints `ready` once listening; runs until killed.
"""
import sys
import time

try:
    from aiosmtpd.controller import Controller
except ImportError:
    print("aiosmtpd-missing", flush=True)
    sys.exit(3)


class Sink:
    def __init__(self, path):
        self.path = path

    async def handle_DATA(self, server, session, envelope):
        with open(self.path, "a", encoding="utf-8") as f:
            f.write("To: " + ",".join(envelope.rcpt_tos) + "\n")
            f.write(envelope.content.decode("utf-8", "replace"))
            f.write("\n--END--\n")
        return "250 OK"


def main():
    port = int(sys.argv[1])
    controller = Controller(Sink(sys.argv[2]), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
