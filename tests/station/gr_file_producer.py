"""A GNU Radio flowgraph streaming a cf32 file over TCP, run by Debian's
/usr/bin/python3 (where gnuradio lives) for tests/station:

    /usr/bin/python3 gr_file_producer.py PORT RATE_HZ PATH

blocks.file_source (once) -> blocks.throttle at RATE_HZ -> network.tcp_sink
in server mode on 127.0.0.1:PORT, as SDR software at a station serves its
IQ. It exits when the file has been sent (the client then reads the end of
the stream); what it produces before a client connects is dropped
(gr-network's tcp_sink), so the file starts with a lead-in of noise.
"""

from __future__ import annotations

import sys

from gnuradio import blocks, gr, network

TCPSINKMODE_SERVER = 2  # gr-network's tcp_sink.h


def main(port: int, rate_hz: float, path: str) -> None:
    tb = gr.top_block()
    source = blocks.file_source(gr.sizeof_gr_complex, path, False)
    throttle = blocks.throttle(gr.sizeof_gr_complex, rate_hz)
    sink = network.tcp_sink(gr.sizeof_gr_complex, 1, "127.0.0.1", port, TCPSINKMODE_SERVER)
    tb.connect(source, throttle, sink)
    tb.run()


if __name__ == "__main__":
    main(int(sys.argv[1]), float(sys.argv[2]), sys.argv[3])
