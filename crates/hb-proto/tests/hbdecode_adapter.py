#!/usr/bin/env python3
"""Adapter between the independent decoder shared/interop/captures/tools/hbdecode.py and the
hb-proto test `hbdecode_agreement`: decodes every Heartbeat datagram of every capture with
hbdecode's own pcap reader and parsers and prints one canonical line per datagram:

    FILE <TAB> NUMBER <TAB> PAYLOAD-HEX <TAB> RENDERING

RENDERING is "ERR" when hbdecode cannot parse the datagram, else the fields joined by ";",
each "T:NAMEHEX=VALUE" where VALUE is hex for types 0/1/4 (and any unknown type),
"{...}" (fields of the nested message) for type 2 and "[HEX,HEX,...]" for type 3.
The Rust side renders its own decode the same way and compares.

usage: hbdecode_adapter.py TOOLS_DIR CAPTURES_DIR
"""
import os
import sys


def render(fields):
    out = []
    for f in fields:
        if f.t == 2:
            val = '{' + render(f.value) + '}'
        elif f.t == 3:
            val = '[' + ','.join(e.hex() for e in f.value) + ']'
        else:
            val = f.value.hex()
        out.append('%d:%s=%s' % (f.t, f.name.encode().hex(), val))
    return ';'.join(out)


def main():
    tools, captures = sys.argv[1], sys.argv[2]
    sys.path.insert(0, tools)
    import hbdecode

    for name in sorted(os.listdir(captures)):
        if not name.endswith('.pcap'):
            continue
        port = 7694 if name.startswith('C2-') else 694
        number = 0
        for _t, linktype, frame in hbdecode.read_pcap(os.path.join(captures, name)):
            u = hbdecode.udp_of(linktype, frame)
            if not u:
                continue
            _src, sp, _dst, dp, _ttl, payload = u
            if dp != port and sp != port:
                continue
            number += 1
            try:
                if payload.startswith(b'###\n'):
                    fields, _end = hbdecode.parse_netstring_msg(payload, 0)
                elif payload.startswith(b'>>>\n'):
                    fields, _end = hbdecode.parse_classic(payload)
                else:
                    raise ValueError('unknown format')
                rendering = render(fields)
            except Exception:  # any parse failure of the reference decoder
                rendering = 'ERR'
            print('%s\t%d\t%s\t%s' % (name, number, payload.hex(), rendering))


if __name__ == '__main__':
    main()
