"""A process that joins a dpn run as its rank 1 without being dpn: the
hostile peer of tests/dist_trust.rs. It speaks c10d's TCPStore through
torch (the same library dpn's rendezvous uses) and dpn's rendezvous keys as
docs/distributed.md ("Trust") describes them.

usage: dist_fake_peer.py MODE HOST PORT [ARGS]

  torch-allreduce        join the torch way (store + Gloo under "gloo/") and
                         all-reduce a buffer of another size than dpn's
  forge-tally VERSION    pass dpn's rendezvous as rank 1 (no secret), copy
                         rank 0's settings, then report a made-up tally
  wrong-secret VERSION   present itself with a proof under another secret
  silent                 listen on PORT, accept, and never answer
"""

import json
import os
import secrets
import socket
import sys
import time
from datetime import timedelta

mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
TIMEOUT = timedelta(seconds=60)


def store():
    import torch.distributed as dist

    return dist.TCPStore(host, port, 2, False, timeout=TIMEOUT, use_libuv=True)


def hello(s, version, proof=None):
    nonce = secrets.token_hex(16)
    won = s.compare_set("dpn/rank/1", "", nonce)
    assert won.decode() == nonce, won
    s.get("dpn/nonce")
    s.set("dpn/hello/1", json.dumps({"version": version, "nonce": nonce, "proof": proof}))
    welcome = json.loads(s.get("dpn/welcome"))
    s.add("dpn/welcomed", 1)
    return welcome


if mode == "silent":
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((host, port))
    srv.listen(16)
    print("listening", flush=True)
    conns = []
    srv.settimeout(0.5)
    end = time.time() + 120
    while time.time() < end:
        try:
            conns.append(srv.accept()[0])
        except socket.timeout:
            pass
elif mode == "torch-allreduce":
    import torch
    import torch.distributed as dist

    s = store()
    pg = dist.ProcessGroupGloo(dist.PrefixStore("gloo/", s), 1, 2, timeout=TIMEOUT)
    pg.allreduce([torch.zeros(12345, dtype=torch.float64)]).wait()
elif mode == "forge-tally":
    s = store()
    w = hello(s, sys.argv[4])
    prefix = "dpn/%s/" % w["session"]
    # Rank 0's own settings, copied: this peer passes the comparison.
    s.set(prefix + "x/0/1", s.get(prefix + "x/0/0"))
    assert s.get(prefix + "x/1/verdict") == b"+", "settings refused"
    ours = json.loads(s.get(prefix + "x/2/0"))
    n = len(ours["per_class"])
    forged = dict(ours, images=1150, correct1=1140, correct5=1150,
                  per_class=[[115, 114, 115]] * n)
    s.set(prefix + "x/2/1", json.dumps(forged))
    print(s.get(prefix + "x/3/verdict").decode(errors="replace"), flush=True)
elif mode == "wrong-secret":
    s = store()
    w = hello(s, sys.argv[4], proof="00" * 32)
    print(json.dumps(w), flush=True)
else:
    sys.exit("unknown mode " + mode)
