import sys, threading, time, http.client, statistics
port, secs = int(sys.argv[1]), float(sys.argv[2])
lat = []; lock = threading.Lock(); stop = time.time() + secs
def worker():
    mine = []
    while time.time() < stop:
        t = time.perf_counter()
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            c.request("GET", "/"); c.getresponse().read()
            mine.append(time.perf_counter() - t)
        except Exception:
            pass
        c.close()
    with lock: lat.extend(mine)
ts = [threading.Thread(target=worker) for _ in range(8)]
[t.start() for t in ts]; [t.join() for t in ts]
lat.sort()
p99 = lat[int(len(lat) * 0.99)] * 1000 if lat else float("nan")
print(f"{len(lat) / secs:.0f} {p99:.2f}")
