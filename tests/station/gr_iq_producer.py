"""A GNU Radio flowgraph serving an IQ stream over TCP, run by Debian's
/usr/bin/python3 (where gnuradio lives) for tests/station:

    /usr/bin/python3 gr_iq_producer.py PORT cf32|cs16 RATE_HZ PERIOD

blocks.vector_source (a ramp: sample n is ``(n % PERIOD) - 1j * (n % PERIOD)``,
repeated) -> blocks.throttle at RATE_HZ -> [blocks.complex_to_interleaved_short]
-> network.tcp_sink in server mode on 127.0.0.1:PORT. It streams until killed;
what it produces before a client connects is dropped (gr-network's tcp_sink),
so a client checks the ramp's continuity, not where it starts.
"""

from __future__ import annotations

import sys
import time

from gnuradio import blocks, gr, network

TCPSINKMODE_SERVER = 2  # gr-network's tcp_sink.h


def main(port: int, sample_format: str, rate_hz: float, period: int) -> None:
    ramp = [complex(n, -n) for n in range(period)]
    tb = gr.top_block()
    source = blocks.vector_source_c(ramp, True)
    throttle = blocks.throttle(gr.sizeof_gr_complex, rate_hz)
    if sample_format == "cf32":
        sink = network.tcp_sink(gr.sizeof_gr_complex, 1, "127.0.0.1", port, TCPSINKMODE_SERVER)
        tb.connect(source, throttle, sink)
    else:
        to_short = blocks.complex_to_interleaved_short(False, 1.0)
        sink = network.tcp_sink(gr.sizeof_short, 1, "127.0.0.1", port, TCPSINKMODE_SERVER)
        tb.connect(source, throttle, to_short, sink)
    tb.start()
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), int(sys.argv[4]))
