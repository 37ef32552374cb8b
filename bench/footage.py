"""Long clips for benchmarks, made from the real footage without re-encoding."""
from pathlib import Path

import av


def loop_packets(source: Path, out: Path, frames: int) -> None:
    """Write ``frames`` frames to ``out`` by repeating ``source``'s H.264 packets (remuxed, not
    re-encoded), timestamps shifted by the source's duration per repetition. The source must
    open on a keyframe (the footage's clips do), so every repetition decodes on its own; it takes
    seconds where encoding thousands of 1080p frames takes most of an hour on two cores."""
    with av.open(str(source)) as container:
        stream = container.streams.video[0]
        packets = [(bytes(p), p.pts, p.dts, p.duration, p.is_keyframe) for p in container.demux(stream) if p.size]
        span = max(pts + duration for _, pts, _, duration, _ in packets) - min(pts for _, pts, *_ in packets)
        with av.open(str(out), "w") as target:
            out_stream = target.add_stream_from_template(stream)
            for number in range(frames):
                data, pts, dts, duration, keyframe = packets[number % len(packets)]
                packet = av.Packet(data)
                shift = span * (number // len(packets))
                packet.pts, packet.dts, packet.duration = pts + shift, dts + shift, duration
                packet.is_keyframe = keyframe
                packet.time_base = stream.time_base
                packet.stream = out_stream
                target.mux(packet)
