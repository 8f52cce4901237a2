import { status } from "@grpc/grpc-js";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { CallObserver } from "../rpc/add-service";

/** What the gauges read at scrape time. */
export interface MetricsSources {
  /** Running per-request children, programs and keeper inits (the addon's count). */
  children(): number;
  /** Open namespace handles (the handle table's size). */
  handles(): number;
  /** Calls waiting for a child slot (--max-children). */
  queued(): number;
  /** Threads parked in a /proc/PID/cmdline read whose process's mmap lock is stuck (the addon's count); none when absent. */
  stuckCommandReads?(): number;
}

/**
 * The daemon's Prometheus metrics, in a registry of its own (several daemons
 * may live in one test process):
 * - `lxnsd_calls_total{service,method,code}`: finished calls
 * - `lxnsd_call_duration_seconds{service,method}`: their latency
 * - `lxnsd_children`, `lxnsd_handles_open`: read at scrape time
 * - `lxnsd_queue_depth`: calls waiting for a child slot
 * - `lxnsd_stuck_command_reads`: threads parked in a cmdline read (native/src/proc_command.h)
 * - the prom-client process metrics (`process_open_fds`, memory, CPU, event loop lag), when `withProcessMetrics`
 */
export class DaemonMetrics {
  readonly registry = new Registry();
  private readonly calls: Counter<"service" | "method" | "code">;
  private readonly durations: Histogram<"service" | "method">;

  constructor(sources: MetricsSources, withProcessMetrics = false) {
    const registers = [this.registry];
    this.calls = new Counter({ name: "lxnsd_calls_total", help: "Finished gRPC calls by service, method and status code.", labelNames: ["service", "method", "code"], registers });
    this.durations = new Histogram({
      name: "lxnsd_call_duration_seconds",
      help: "gRPC call latency by service and method, from the handler's start to its answer.",
      labelNames: ["service", "method"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    new Gauge({ name: "lxnsd_children", help: "Running children of the daemon: per-request children, programs, pid namespace keepers.", registers, collect() { this.set(sources.children()); } });
    new Gauge({ name: "lxnsd_handles_open", help: "Open namespace handles.", registers, collect() { this.set(sources.handles()); } });
    new Gauge({ name: "lxnsd_queue_depth", help: "Calls waiting for a free child slot (--max-children).", registers, collect() { this.set(sources.queued()); } });
    new Gauge({
      name: "lxnsd_stuck_command_reads",
      help: "Threads parked in a /proc/PID/cmdline read of the namespace scan, whose process's mmap lock is stuck (at most 8; at 8 every COMMAND is comm).",
      registers,
      collect() {
        this.set(sources.stuckCommandReads?.() ?? 0);
      },
    });
    if (withProcessMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** The CallObserver of one service (full name, e.g. lxnsd.v1.NamespaceService). */
  observerFor(service: string): CallObserver {
    return (method, code, seconds) => {
      this.calls.inc({ service, method, code: status[code] });
      this.durations.observe({ service, method }, seconds);
    };
  }
}
