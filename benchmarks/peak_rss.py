"""Peak resident memory (RSS) of each stage of a recipe run, sampled from /proc while it runs.

    tools/venv/bin/python benchmarks/peak_rss.py --out /tmp/rss_fast.json -- --fast true
    tools/venv/bin/python benchmarks/peak_rss.py --stages 5-7 -- --languages es
    tools/venv/bin/python benchmarks/peak_rss.py --stages 1-10 --compare_malloc \
        --compare_root /tmp/rss_cmp -- --fast true --languages es

Everything after ``--`` goes to run.sh (and from there to xling.sh). Each stage N of --stages
runs as its own ``./run.sh ARGS --stage N --stop_stage N`` in the recipe dir (default
egs2/offline_mini/xling1), in a new session, log in --log_dir. Every --interval seconds (0.2)
the sampler reads /proc/<pid>/stat of every process and keeps the run's tree: run.sh, all its
descendants (parent links) and everything still in its process group (children orphaned by a
finished subshell). Per stage, printed and written to --out as JSON:
  wall s      seconds of the stage
  skip        log lines saying "skipping": steps already done (.done markers) that did no work;
              a stage whose outputs exist measures nothing, so give fresh --expdir etc.
  tree MiB    peak of the summed RSS of the tree: what the machine must hold (the recipe runs
              --train_jobs trainings at once). An upper bound: pages shared between processes
              count once per process (libraries; forked copies such as ESPnet's DataLoader
              workers, --num_workers 1 by default, share most of their parent's pages).
  at s        when in the stage the tree peaked (the JSON also has how many processes the tree
              had then and its 4 largest, peak_tree_top)
  proc MiB    peak RSS of the largest single process, and its command (short form)
  kernel MiB  the kernel's RSS high-water mark of the largest process of the tree (wait4
              ru_maxrss over run.sh and every descendant its parent waited for); catches peaks
              shorter than the sampling interval, so it is >= proc MiB up to sampling noise
              (e.g. the RSS growth of a Python process in its last milliseconds, at exit)
  jemalloc    python processes of the stage with libjemalloc mapped / python processes seen
              (those alive for at least 1 s: a check of which malloc really ran)
The "bound" row is the maximum over stages (wall: the sum). Machine facts printed first: cores,
total and available RAM, load average (the cores may be shared), and LD_PRELOAD / MALLOC_CONF
of the recipe environment (path.sh preloads jemalloc where installed).

--compare_malloc runs every stage twice, as the recipe runs (jemalloc preloaded by path.sh) and
with glibc malloc (XLING_MALLOC=glibc: path.sh skips the preload; jemalloc is also dropped from
an inherited LD_PRELOAD), the two runs of a stage one after the other (order alternating by
stage), and prints glibc / jemalloc ratios per stage. So that neither reuses the other's outputs,
each variant writes to its own roots, --compare_root/<variant>/{data,exp,dump} (appended as
--datadir/--expdir/--dumpdir after the run.sh arguments, so they win; default root: a new temp
dir). Stages need the outputs of the stages before them: measure 1-10 in one go, or reuse the
same --compare_root for a later --stages range (a stage already done there is skipped, see skip).
Peaks shorter than --interval are missed by the sampled columns (not by kernel MiB).
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")
MIB = 2 ** 20


def parse_stages(spec: str) -> list:
    """'1-10', '5', '1,3,5-7' -> sorted stage numbers."""
    stages = set()
    for part in spec.split(","):
        lo, _, hi = part.strip().partition("-")
        stages.update(range(int(lo), int(hi or lo) + 1))
    return sorted(stages)


def read_stat(pid: str):
    """(comm, ppid, pgrp, starttime, rss bytes) of a process; raises OSError when it is gone."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        data = f.read()
    left, right = data.index(b"("), data.rindex(b")")  # comm may hold spaces and parentheses
    rest = data[right + 2:].split()  # rest[0] is field 3 (state) of proc(5)
    return (data[left + 1:right].decode(errors="replace"), int(rest[1]), int(rest[2]),
            int(rest[19]), int(rest[21]) * PAGE)


def tree_of(leader: int) -> dict:
    """{pid: (comm, starttime, rss)} of the leader, its descendants and its process group."""
    procs = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                procs[int(name)] = read_stat(name)
            except (OSError, ValueError, IndexError):  # gone between listing and reading
                continue
    children = {}
    for pid, (_, ppid, _, _, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    tree = {pid for pid, p in procs.items() if p[2] == leader}
    todo, visited = [leader, *tree], set()
    while todo:
        pid = todo.pop()
        if pid not in visited:
            visited.add(pid)
            tree.add(pid)
            todo.extend(children.get(pid, []))
    return {pid: (procs[pid][0], procs[pid][3], procs[pid][4]) for pid in tree if pid in procs}


def short_cmd(pid: int, comm: str) -> str:
    """'python3 -m espnet_ext.bin.asr_train', 'perl run.pl', ... (comm if the process is gone)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return comm
    if not argv:
        return comm
    prog = os.path.basename(argv[0])
    if "-m" in argv[1:-1]:
        return f"{prog} -m {argv[argv.index('-m') + 1]}"
    if "-c" in argv[1:-1]:
        return f"{prog} -c ..."
    first = next((os.path.basename(a) for a in argv[1:] if not a.startswith("-")), "")
    return f"{prog} {first}".strip()[:60]


def has_jemalloc(pid: int):
    try:
        with open(f"/proc/{pid}/maps", "rb") as f:
            return b"libjemalloc" in f.read()
    except OSError:
        return None


def run_stage(cmd: list, cwd: Path, env: dict, log: Path, interval: float) -> dict:
    """Run cmd in a new session, sampling its tree's RSS until it exits."""
    peak_tree = peak_proc = 0
    peak_cmd, samples, peak_at, peak_n, peak_top = "", 0, 0.0, 0, []
    names = {}  # (pid, starttime, comm) -> short command, read once: a zombie has no cmdline
    seen_py, jemalloc_py = set(), set()  # python processes alive >= 1 s (LD_PRELOAD mapped)
    t0 = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        while True:
            tick = time.monotonic()
            tree = tree_of(proc.pid)
            uptime = float(Path("/proc/uptime").read_text().split()[0])
            samples += 1
            for pid, (comm, start, rss) in tree.items():
                key = (pid, start, comm)
                if key not in names:
                    names[key] = short_cmd(pid, comm)
                if rss > peak_proc:
                    peak_proc, peak_cmd = rss, names[key]
                if comm.startswith("python") and key not in seen_py \
                        and uptime - start / TICK >= 1.0:
                    mapped = has_jemalloc(pid)
                    if mapped is not None:
                        seen_py.add(key)
                        if mapped:
                            jemalloc_py.add(key)
            total = sum(rss for _, _, rss in tree.values())
            if total > peak_tree:  # what the tree held at its peak: the 4 largest processes
                peak_tree, peak_at, peak_n = total, tick - t0, len(tree)
                top = sorted(tree.items(), key=lambda item: -item[1][2])[:4]
                peak_top = [[names[pid, start, comm], round(rss / MIB)]
                            for pid, (comm, start, rss) in top]
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(max(0.0, interval - (time.monotonic() - tick)))
    except BaseException:  # Ctrl-C: do not leave the stage's trainings running
        os.killpg(proc.pid, signal.SIGTERM)
        raise
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = log.read_text(errors="replace")
    return dict(rc=proc.returncode, wall_s=time.monotonic() - t0, samples=samples,
                skipped=sum("skipping" in line for line in text.splitlines()),
                peak_tree_mib=peak_tree / MIB, peak_tree_at_s=peak_at, peak_tree_top=peak_top,
                peak_tree_procs=peak_n, peak_proc_mib=peak_proc / MIB,
                peak_proc_cmd=peak_cmd, kernel_maxrss_mib=usage.ru_maxrss * 1024 / MIB,
                python_procs=len(seen_py), jemalloc_python_procs=len(jemalloc_py))


def recipe_malloc(recipe: Path, env: dict) -> dict:
    """LD_PRELOAD and MALLOC_CONF after sourcing the recipe's path.sh in this environment."""
    out = subprocess.run(
        ["bash", "-c", '. ./path.sh >/dev/null 2>&1; printf "%s\\n%s\\n" "${LD_PRELOAD:-}" '
         '"${MALLOC_CONF:-}"'], cwd=recipe, env=env, capture_output=True, text=True, check=True)
    preload, conf = (out.stdout.split("\n") + ["", ""])[:2]
    return dict(ld_preload=preload, malloc_conf=conf, jemalloc="jemalloc" in preload)


def machine_facts() -> dict:
    mem = {}
    with open("/proc/meminfo") as f:
        for line in f:
            key, value = line.split(":", 1)
            mem[key] = int(value.split()[0]) * 1024
    return dict(cpu_count=os.cpu_count(), cpus_usable=len(os.sched_getaffinity(0)),
                mem_total_gib=mem["MemTotal"] / 2 ** 30,
                mem_available_gib=mem["MemAvailable"] / 2 ** 30,
                loadavg=" ".join(Path("/proc/loadavg").read_text().split()[:3]))


def bound(rows: list) -> dict:
    return dict(wall_s=sum(r["wall_s"] for r in rows),
                peak_tree_mib=max(r["peak_tree_mib"] for r in rows),
                peak_proc_mib=max(r["peak_proc_mib"] for r in rows),
                peak_proc_cmd=max(rows, key=lambda r: r["peak_proc_mib"])["peak_proc_cmd"],
                kernel_maxrss_mib=max(r["kernel_maxrss_mib"] for r in rows))


def print_table(name: str, rows: list, total: dict) -> None:
    print(f"\n{name}")
    print(f"{'stage':>5} {'wall s':>8} {'skip':>4} {'samples':>7} {'tree MiB':>9} {'at s':>6} "
          f"{'proc MiB':>9} {'kernel MiB':>10} {'jemalloc':>8}  process")
    for r in rows:
        print(f"{r['stage']:>5} {r['wall_s']:8.1f} {r['skipped']:4d} {r['samples']:7d} "
              f"{r['peak_tree_mib']:9.0f} {r['peak_tree_at_s']:6.1f} {r['peak_proc_mib']:9.0f} "
              f"{r['kernel_maxrss_mib']:10.0f} "
              f"{r['jemalloc_python_procs']:>4}/{r['python_procs']:<3}  {r['peak_proc_cmd']}")
    print(f"{'bound':>5} {total['wall_s']:8.1f} {'':4} {'':7} {total['peak_tree_mib']:9.0f} "
          f"{'':6} {total['peak_proc_mib']:9.0f} {total['kernel_maxrss_mib']:10.0f} {'':8}  "
          f"{total['peak_proc_cmd']}")


def main() -> None:
    argv = sys.argv[1:]
    ours, run_args = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv \
        else (argv, [])
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="%(prog)s [options] [-- run.sh arguments...]")
    parser.add_argument("--stages", default="1-10", help="e.g. 1-10, 6, 1,3,5-7")
    parser.add_argument("--recipe", type=Path, default=REPO / "egs2/offline_mini/xling1")
    parser.add_argument("--interval", type=float, default=0.2, help="sampling period (s)")
    parser.add_argument("--out", type=Path, help="also write the results as JSON")
    parser.add_argument("--log_dir", type=Path, help="stage logs (default: a new temp dir)")
    parser.add_argument("--compare_malloc", action="store_true",
                        help="run every stage with jemalloc (as the recipe) and with glibc")
    parser.add_argument("--compare_root", type=Path,
                        help="output roots of the two variants (default: a new temp dir)")
    args = parser.parse_args(ours)
    stages = parse_stages(args.stages)
    recipe = args.recipe.resolve()
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="peak_rss_logs_"))
    log_dir.mkdir(parents=True, exist_ok=True)

    variants = {}  # name -> (env, extra run.sh arguments)
    if args.compare_malloc:
        root = (args.compare_root or Path(tempfile.mkdtemp(prefix="peak_rss_"))).resolve()
        for name in ("jemalloc", "glibc"):
            env = dict(os.environ)
            env.pop("XLING_MALLOC", None)
            if name == "glibc":
                env["XLING_MALLOC"] = "glibc"
                env.pop("MALLOC_CONF", None)
                keep = [p for p in env.get("LD_PRELOAD", "").split(":")
                        if p and "jemalloc" not in p]
                env.pop("LD_PRELOAD", None)
                if keep:
                    env["LD_PRELOAD"] = ":".join(keep)
            dirs = [a for d in ("data", "exp", "dump") for a in (f"--{d}dir", str(root / name / d))]
            variants[name] = (env, dirs)
    else:
        variants["recipe"] = (dict(os.environ), [])

    facts = machine_facts()
    facts["malloc"] = {name: recipe_malloc(recipe, env) for name, (env, _) in variants.items()}
    print(f"machine: {facts['cpu_count']} cores ({facts['cpus_usable']} usable), "
          f"RAM {facts['mem_total_gib']:.1f} GiB total, {facts['mem_available_gib']:.1f} GiB "
          f"available, load average {facts['loadavg']}")
    for name, m in facts["malloc"].items():
        print(f"recipe environment ({name}): LD_PRELOAD={m['ld_preload'] or '(empty)'}; "
              f"jemalloc preloaded: {'yes' if m['jemalloc'] else 'no'}; "
              f"MALLOC_CONF={m['malloc_conf'] or '(unset)'}")
    if args.compare_malloc and not facts["malloc"]["jemalloc"]["jemalloc"]:
        print("warning: jemalloc is not preloaded by path.sh here: both variants are glibc")
    print(f"recipe: {recipe}; run.sh arguments: {' '.join(run_args) or '(none)'}")
    for name, (_, dirs) in variants.items():
        if dirs:
            print(f"  {name}: + {' '.join(dirs)}")
    print(f"stages: {' '.join(map(str, stages))}; sampling every {args.interval} s; "
          f"logs: {log_dir}", flush=True)

    rows = {name: [] for name in variants}
    for i, stage in enumerate(stages):
        order = list(variants) if i % 2 == 0 else list(reversed(variants))
        for name in order:
            env, dirs = variants[name]
            log = log_dir / f"{name}_stage{stage}.log"
            cmd = ["./run.sh", *run_args, *dirs, "--stage", str(stage), "--stop_stage", str(stage)]
            r = run_stage(cmd, recipe, env, log, args.interval)
            if r["rc"] != 0:
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
                sys.exit(f"{tail}\n\nerror: stage {stage} ({name}) failed with exit status "
                         f"{r['rc']} after {r['wall_s']:.0f} s: {' '.join(cmd)} (cwd {recipe}); "
                         f"full log: {log}")
            rows[name].append(dict(stage=stage, **r))
            print(f"  stage {stage} ({name}): {r['wall_s']:.1f} s, tree "
                  f"{r['peak_tree_mib']:.0f} MiB, process {r['peak_proc_mib']:.0f} MiB "
                  f"({r['peak_proc_cmd']})", flush=True)

    result = dict(machine=facts, recipe=str(recipe), run_args=run_args, stages=stages,
                  interval_s=args.interval, log_dir=str(log_dir), variants={})
    for name, variant_rows in rows.items():
        total = bound(variant_rows)
        result["variants"][name] = dict(extra_args=variants[name][1], stages=variant_rows,
                                        bound=total)
        print_table(f"{name}: peak RSS per stage", variant_rows, total)

    if args.compare_malloc:
        keys = ("peak_tree_mib", "peak_proc_mib", "kernel_maxrss_mib", "wall_s")
        ratio = {}
        je, gl = result["variants"]["jemalloc"], result["variants"]["glibc"]
        print("\nglibc / jemalloc")
        print(f"{'stage':>5} {'tree':>7} {'proc':>7} {'kernel':>7} {'wall':>7}")
        for label, a, b in [(str(r["stage"]), r, g) for r, g in zip(je["stages"], gl["stages"])] \
                + [("bound", je["bound"], gl["bound"])]:
            ratio[label] = {k: b[k] / a[k] if a[k] else None for k in keys}
            print(f"{label:>5} " + " ".join(
                f"{v:6.2f}x" if v is not None else f"{'-':>7}" for v in ratio[label].values()))
        result["ratio_glibc_over_jemalloc"] = ratio

    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"\nwritten: {args.out}")


if __name__ == "__main__":
    main()
