#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn make bench's raw samples into the results table and the plot.

bench-report.py DIR reads DIR/raw-stock.txt, DIR/raw-series.txt (lines
"BENCH metric case value", "INFO ...", "FAIL ...") and DIR/machine.txt,
and writes DIR/README.md (the tables), DIR/*.dat and DIR/bench.gp (the
plot's data and script) and DIR/bench.png (gnuplot, when installed).

Every figure is the median of its samples, with the spread (min..max) and
the count; ratios are series / stock of the medians. A figure one kernel
cannot produce (the series' one-step flows) is shown as "n/a".
"""
import os
import statistics
import subprocess
import sys

KERNELS = ("stock", "series")
GIB = 1 << 30
MIB = 1 << 20


def load(path):
    samples, infos, fails = {}, [], []
    if not os.path.exists(path):
        return samples, infos, ["no results file"]
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            w = line.split()
            if len(w) == 4 and w[0] == "BENCH":
                try:
                    samples.setdefault((w[1], w[2]), []).append(float(w[3]))
                except ValueError:
                    fails.append("unparsable sample: " + line.strip())
            elif w and w[0] == "INFO":
                infos.append(line.strip()[5:])
            elif w and w[0] == "FAIL":
                fails.append(line.strip()[5:])
    return samples, infos, fails


def med(v):
    return statistics.median(v) if v else None


class Results:
    def __init__(self, d):
        self.s, self.info, self.fails = {}, {}, {}
        for k in KERNELS:
            self.s[k], self.info[k], self.fails[k] = load(
                os.path.join(d, "raw-%s.txt" % k))

    def get(self, k, metric, case):
        return self.s[k].get((metric, case), [])

    def median(self, k, metric, case):
        return med(self.get(k, metric, case))

    def cases(self, metric):
        seen = []
        for k in KERNELS:
            for (m, c) in self.s[k]:
                if m == metric and c not in seen:
                    seen.append(c)
        return seen


def fmt(v, unit):
    if v is None:
        return "n/a"
    if unit == "s":
        return "%.3f" % v
    if unit == "MiB":
        return "%.1f" % (v / MIB)
    if unit == "GiB/s":
        return "%.3f" % v
    if unit == "%":
        return "%.1f %%" % (100 * v)
    return "%g" % v


def cell(r, k, metric, case, unit, scale=1.0):
    v = r.get(k, metric, case)
    if not v:
        return "n/a"
    v = [x * scale for x in v]
    m = med(v)
    if len(v) == 1:
        return fmt(m, unit)
    return "%s (%s..%s, n=%d)" % (fmt(m, unit), fmt(min(v), unit),
                                  fmt(max(v), unit), len(v))


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "n/a"
    return "%.2f" % (a / b)


def overlap(r, metric, case):
    """True when the two kernels' min..max spreads overlap."""
    a = r.get("stock", metric, case)
    b = r.get("series", metric, case)
    return bool(a and b) and min(a) <= max(b) and min(b) <= max(a)


def row(r, label, metric, case, unit, scale=1.0):
    a = r.median("stock", metric, case)
    b = r.median("series", metric, case)
    q = ratio(b, a)
    if q != "n/a" and overlap(r, metric, case):
        q += " ~"
    return "| %s | %s | %s | %s |" % (
        label, cell(r, "stock", metric, case, unit, scale),
        cell(r, "series", metric, case, unit, scale), q)


def size_of(case):
    """'4096M/50%' -> 4096 (MiB)."""
    return int(case.split("/")[0].rstrip("M").split("x")[-1])


def capacity_rows(r):
    """Capacity: RAM bytes over dax device and namespace bytes, per kernel.

    The series measures every case twice: with whole memory blocks only
    (kmem.subblock=N) and with partial memory blocks, its default (case
    CASE/subblock)."""
    out = ["| placement | dax device | stock | series | series, kmem.subblock=Y"
           " | ratio (subblock / stock) | reserved by the pfn/memmap info |",
           "|---|---|---|---|---|---|---|"]
    cases = [c for c in r.cases("dax_bytes") if not c.endswith("/subblock")]
    for c in cases:
        dax = r.median("stock", "dax_bytes", c) or r.median("series", "dax_bytes", c)
        ns = r.median("stock", "ns_bytes", c) or r.median("series", "ns_bytes", c)
        res = r.median("stock", "reserved_bytes", c)
        cells, fr = [], {}
        for k, case in (("stock", c), ("series", c), ("series", c + "/subblock")):
            ram = r.median(k, "ram_bytes", case)
            fr[(k, case)] = None if ram is None or not dax else ram / dax
            if ram is None:
                cells.append("n/a")
            else:
                cells.append("%s MiB: %s of the device, %s of the namespace" % (
                    fmt(ram, "MiB"), fmt(fr[(k, case)], "%"),
                    fmt(ram / ns if ns else None, "%")))
        out.append("| %s namespace(s) | %s MiB | %s | %s | %s | %s | %s MiB |" % (
            c, fmt(dax, "MiB"), cells[0], cells[1], cells[2],
            ratio(fr[("series", c + "/subblock")], fr[("stock", c)]), fmt(res, "MiB")))
    return out


def per_gib_series(r, metric, suffix=""):
    """[(GiB, stock s/GiB, series s/GiB, spreads...)] for a metric by size."""
    pts = []
    for c in r.cases(metric):
        if suffix and not c.endswith(suffix):
            continue
        if not suffix and "/" in c:
            continue
        g = size_of(c) / 1024
        line = [g]
        for k in KERNELS:
            v = r.get(k, metric, c)
            if v:
                line += [med(v) / g, min(v) / g, max(v) / g]
            else:
                line += ["NaN", "NaN", "NaN"]
        pts.append(line)
    return sorted(pts)


def write_dat(path, pts):
    with open(path, "w", encoding="utf-8") as f:
        f.write("# GiB stock_med stock_min stock_max series_med series_min series_max (s/GiB)\n")
        for p in pts:
            f.write(" ".join(str(x) for x in p) + "\n")


GP = """# make bench's plot; regenerate with: gnuplot bench.gp (in this directory)
set terminal pngcairo noenhanced size 1400,450 font ",10"
set output "bench.png"
set yrange [0:*]
set multiplot layout 1,3 title "dax kmem hot-add / hot-remove, stock 6.12 vs series (TCG VM, median with min..max)"
set grid
set logscale x 2
set xlabel "device size (GiB)"
set ylabel "seconds per GiB"
set key top right
set title "hot-add (daxctl / raw sysfs)"
plot "hotadd_daxctl.dat" u 1:2:3:4 w yerrorlines t "stock daxctl", \\
     "hotadd_daxctl.dat" u 1:5:6:7 w yerrorlines t "series daxctl", \\
     "hotadd_sysfs.dat" u 1:2:3:4 w yerrorlines t "stock sysfs", \\
     "hotadd_sysfs.dat" u 1:5:6:7 w yerrorlines t "series sysfs", \\
     "hotadd_policy.dat" u 1:5:6:7 w yerrorlines t "series online_policy"
set title "hot-remove, nothing in use"
plot "hotremove_daxctl.dat" u 1:2:3:4 w yerrorlines t "stock daxctl", \\
     "hotremove_daxctl.dat" u 1:5:6:7 w yerrorlines t "series daxctl", \\
     "hotremove_sysfs.dat" u 1:2:3:4 w yerrorlines t "stock sysfs", \\
     "hotremove_sysfs.dat" u 1:5:6:7 w yerrorlines t "series sysfs", \\
     "hotremove_unbind.dat" u 1:5:6:7 w yerrorlines t "series unbind"
unset logscale x
set xlabel "share of the device in use (%)"
set ylabel "seconds"
set title "hot-remove (daxctl) of the %s device under load"
set xrange [-10:100]
plot "load.dat" u 1:2:3:4 w yerrorlines t "stock", \\
     "load.dat" u 1:5:6:7 w yerrorlines t "series"
unset multiplot
"""


def is_empty_row(line):
    """A table row whose cells past the first are all "n/a" or blank."""
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    return all(c in ("", "n/a") for c in cells[1:])


def prune(md, why):
    """Drop the tables a run has no figure for.

    A table (header, separator, rows) whose rows are all empty goes; a
    numbered section left without a table says that it was not measured,
    and @why (a partial run's KMEM_BENCH_ONLY, or the failures above).
    """
    out, i = [], 0
    while i < len(md):
        if (md[i].startswith("|") and i + 1 < len(md)
                and md[i + 1].startswith("|---")):
            j = i + 2
            while j < len(md) and md[j].startswith("|"):
                j += 1
            if all(is_empty_row(x) for x in md[i + 2:j]):
                # the blank line after the table goes with it
                i = j + 1 if j < len(md) and md[j] == "" else j
                continue
            out += md[i:j]
            i = j
            continue
        out.append(md[i])
        i += 1
    res, sect = [], None
    for line in out + ["## end"]:
        if line.startswith("## "):
            if sect is not None:
                has_table = any(x.startswith("|---") for x in sect)
                numbered = sect[0][3:4].isdigit()
                if numbered and not has_table:
                    sect = [sect[0], "", "Not measured in this run "
                            "(%s)." % why, ""]
                res += sect
            sect = [line]
        elif sect is None:
            res.append(line)
        else:
            sect.append(line)
    while res and res[-1] == "":
        res.pop()
    return res


def main():
    d = sys.argv[1]
    r = Results(d)
    machine = ""
    if os.path.exists(os.path.join(d, "machine.txt")):
        with open(os.path.join(d, "machine.txt"), encoding="utf-8") as f:
            machine = f.read()
    md = ["# make bench: stock 6.12 kmem vs the series", "",
          "Generated by `harness/bench-report.py` from `raw-stock.txt` and "
          "`raw-series.txt` (one line per sample). Each cell is the median, "
          "then (min..max, n = samples); the ratio is series / stock of the "
          "medians (below 1: the series is faster or smaller); a ratio "
          "marked ~ is one where the two kernels' min..max spreads overlap, "
          "so the samples do not tell the kernels apart. The VM runs "
          "under TCG on a shared 2-core machine: read the ratios, not the "
          "absolute times.", "", "```", machine.rstrip(), "```", ""]

    for k in KERNELS:
        if r.fails[k]:
            md += ["**%s run reported failures** (these samples are missing):" % k, ""]
            md += ["- " + x for x in r.fails[k]] + [""]

    md += ["## 1. Capacity", "",
           "Bytes that became System RAM (MemTotal growth after `daxctl "
           "reconfigure-device -m system-ram` of every device) over the dax "
           "devices' bytes; the last column is the namespace bytes the "
           "devdax pfn info block and its memmap (ndctl's default map=dev) "
           "take before the dax device starts. The series is measured with "
           "whole memory blocks only, as stock (kmem.subblock=N), and with "
           "partial memory blocks (kmem.subblock=Y, its default; each "
           "device's online_policy online_movable "
           "so that kmem onlines a partial first block, which daxctl 76.1 "
           "does not see); the ratio compares that with stock.", ""]
    md += capacity_rows(r) + [""]
    md += ["| hot-add device | stock: RAM / device | series: RAM / device | ratio |",
           "|---|---|---|---|"]
    for c in r.cases("hotadd_daxctl"):
        fr = {}
        for k in KERNELS:
            ram = r.median(k, "ram_bytes", c)
            dax = None
            for i in r.info[k]:
                if i.startswith("hotplug %s " % c):
                    dax = float(i.split("bytes=")[1].split()[0])
            fr[k] = ram / dax if ram is not None and dax else None
        md.append("| %s | %s | %s | %s |" % (c, fmt(fr["stock"], "%"),
                                             fmt(fr["series"], "%"),
                                             ratio(fr["series"], fr["stock"])))
    md += ["", "## 2. DRAM cost", "",
           "Node 0 (DRAM) MemFree consumed per GiB of System RAM added "
           "(caches dropped before and after), whole memory blocks "
           "(kmem.subblock=N), for each place of the memmap: DRAM, the "
           "device's memory itself (memmap_on_memory) and, series only, the "
           "namespace's pfn reservation (daxX.Y/memmap=reservation, the "
           "series' default for the map=dev namespace measured).", "",
           "| case | stock MiB/GiB | series MiB/GiB | ratio |", "|---|---|---|---|"]
    for c in r.cases("dram_per_gib"):
        md.append(row(r, c, "dram_per_gib", c, "MiB"))
    md += ["", "| case | stock RAM added (MiB) | series RAM added (MiB) | ratio |",
           "|---|---|---|---|"]
    for c in r.cases("dram_per_gib"):
        md.append(row(r, c, "ram_bytes", c, "MiB"))

    md += ["", "## 3. Hot-add", "",
           "Seconds from the first command to every memory block online "
           "(ZONE_MOVABLE). daxctl: `daxctl reconfigure-device -m system-ram`. "
           "sysfs: unbind from device_dax, bind to kmem, `online_movable` to "
           "every memoryN/state. online_policy (series only): "
           "`daxX.Y/online_policy=online_movable`, then bind.", "",
           "| flow, size | stock s | series s | ratio |", "|---|---|---|---|"]
    for metric in ("hotadd_daxctl", "hotadd_sysfs", "hotadd_policy"):
        for c in r.cases(metric):
            md.append(row(r, "%s %s" % (metric[7:], c), metric, c, "s"))

    md += ["", "The series' one-step flows against the stock kernel's daxctl "
           "(what a user of the stock kernel runs for the same result):", "",
           "| size | stock daxctl add s | series online_policy add s | ratio "
           "| stock daxctl remove s | series unbind remove s | ratio |",
           "|---|---|---|---|---|---|---|"]
    for c in r.cases("hotadd_policy"):
        a1 = r.median("stock", "hotadd_daxctl", c)
        b1 = r.median("series", "hotadd_policy", c)
        a2 = r.median("stock", "hotremove_daxctl", c + "/0%")
        b2 = r.median("series", "hotremove_unbind", c + "/0%")
        md.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            c, fmt(a1, "s"), fmt(b1, "s"), ratio(b1, a1),
            fmt(a2, "s"), fmt(b2, "s"), ratio(b2, a2)))
    md += ["", "## 4. Hot-remove", "",
           "Seconds from the request to the memory gone. daxctl: `daxctl "
           "reconfigure-device -m devdax -f` (offlines, then unbinds). "
           "sysfs: `offline` to every memoryN/state, then unbind. unbind "
           "(series only): the unbind alone, with the memory online. With "
           "load, numa_fill holds that share of the device on node 1 and "
           "checks every word after the migration.", "",
           "| flow, size / in use | stock s | series s | ratio |", "|---|---|---|---|"]
    for metric in ("hotremove_daxctl", "hotremove_sysfs", "hotremove_unbind"):
        for c in sorted(r.cases(metric), key=lambda c: (size_of(c), len(c), c)):
            md.append(row(r, "%s %s" % (metric[10:], c), metric, c, "s"))
    md += ["", "| migration throughput, size / in use | stock GiB/s | series GiB/s | ratio |",
           "|---|---|---|---|"]
    for c in sorted(r.cases("migrate_gibs"), key=lambda c: (size_of(c), c)):
        md.append(row(r, c, "migrate_gibs", c, "GiB/s"))

    md += ["", "## 5. Scale", "",
           "Seconds per GiB of device, by size (median): flat means the cost "
           "grows linearly with the size.", "",
           "| flow | kernel | " + " | ".join("%s GiB" % (size_of(c) / 1024)
                                             for c in r.cases("hotadd_daxctl")) + " |",
           "|---|---|" + "---|" * len(r.cases("hotadd_daxctl"))]
    for metric, suffix in (("hotadd_daxctl", ""), ("hotadd_sysfs", ""),
                           ("hotadd_policy", ""), ("hotremove_daxctl", "/0%"),
                           ("hotremove_sysfs", "/0%"), ("hotremove_unbind", "/0%")):
        pts = per_gib_series(r, metric, suffix)
        write_dat(os.path.join(d, metric + ".dat"), pts)
        for i, k in enumerate(KERNELS):
            vals = [p[1 + 3 * i] for p in pts]
            if all(v == "NaN" for v in vals):
                continue
            md.append("| %s | %s | %s |" % (metric, k, " | ".join(
                "n/a" if v == "NaN" else "%.3f" % v for v in vals)))

    md += ["", "## 6. The limit", "",
           "memset and memcpy bandwidth of one thread on node 0 (DRAM) in the "
           "same guest, and the hot-remove migration throughput as a share of "
           "memcpy's (a migration reads and writes each page once, as memcpy "
           "does).", "",
           "| figure | stock | series | ratio |", "|---|---|---|---|",
           row(r, "memset GiB/s", "memset_gibs", "node0", "GiB/s"),
           row(r, "memcpy GiB/s", "memcpy_gibs", "node0", "GiB/s")]
    for c in sorted(r.cases("migrate_gibs"), key=lambda c: (size_of(c), c)):
        fr = {}
        for k in KERNELS:
            a = r.median(k, "migrate_gibs", c)
            b = r.median(k, "memcpy_gibs", "node0")
            fr[k] = a / b if a is not None and b else None
        md.append("| migration %s / memcpy | %s | %s | %s |" % (
            c, fmt(fr["stock"], "%"), fmt(fr["series"], "%"),
            ratio(fr["series"], fr["stock"])))

    # hot-remove under load, for the largest size that has load samples
    loaded = [c for c in r.cases("hotremove_daxctl") if not c.endswith("/0%")]
    load_size = max((size_of(c) for c in loaded), default=None)
    with open(os.path.join(d, "load.dat"), "w", encoding="utf-8") as f:
        f.write("# percent stock_med stock_min stock_max series_med series_min series_max (s)\n")
        if load_size is not None:
            for pct in (0, 50, 90):
                c = "%dM/%d%%" % (load_size, pct)
                line = [pct]
                for k in KERNELS:
                    v = r.get(k, "hotremove_daxctl", c)
                    line += [med(v), min(v), max(v)] if v else ["NaN"] * 3
                f.write(" ".join(str(x) for x in line) + "\n")
    with open(os.path.join(d, "bench.gp"), "w", encoding="utf-8") as f:
        f.write(GP.replace("%s device", "%s GiB device" % (
            (load_size or 0) / 1024)))
    plot = bool(r.cases("hotadd_daxctl"))
    if plot:
        md += ["", "## Plot", "", "![hot-add and hot-remove](bench.png)", "",
               "`bench.png` is drawn by `gnuplot bench.gp` from the `.dat` "
               "files in this directory."]
    else:
        md += ["", "## Plot", "", "None: this run has no hot-add samples "
               "(KMEM_BENCH_ONLY=capacity or dram)."]
    for k in KERNELS:
        md += ["", "## %s run: facts from the guest" % k, "", "```"]
        md += r.info[k] + ["```"]
    with open(os.path.join(d, "README.md"), "w", encoding="utf-8") as f:
        why = ("KMEM_BENCH_ONLY limits the cases" if "KMEM_BENCH_ONLY" in machine
               else "see the failures reported above")
        f.write("\n".join(prune(md, why)) + "\n")
    if not plot:
        return 0
    try:
        subprocess.run(["gnuplot", "bench.gp"], cwd=d, check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print("bench-report: no plot: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
