// Living under systemd: readiness and watchdog notifications ($NOTIFY_SOCKET)
// and sockets handed over by socket activation ($LISTEN_FDS).
//
// sd_notify is a datagram to a Unix socket, which Node cannot send (node:dgram
// speaks UDP only, node:net streams only). So each notification runs
// `systemd-notify`, which systemd ships wherever it runs; the unit needs
// NotifyAccess=all since the sender is that child (--pid names wsgate as the
// main process). Without $NOTIFY_SOCKET nothing is sent; without the program,
// a debug line says so and the gateway runs on (Type=notify would then time out:
// use Type=simple).
import { execFile } from 'node:child_process';
import type { Logger } from '../observability/logger.js';

const FIRST_ACTIVATED_FD = 3; // SD_LISTEN_FDS_START

/** Sends `state` (READY=1, RELOADING=1, STOPPING=1, WATCHDOG=1, STATUS=...) to the service manager, if there is one. */
export function notifyServiceManager(log: Logger, ...state: string[]): void {
  if (!process.env.NOTIFY_SOCKET) return;
  execFile('systemd-notify', [`--pid=${process.pid}`, ...state], { timeout: 5000 }, (err) => {
    if (err) log.debug({ err: (err as NodeJS.ErrnoException).code ?? err.message, state }, 'systemd-notify failed: the notification is not sent');
  });
}

/**
 * WATCHDOG=1 at half the interval systemd asks for (WatchdogSec= sets
 * $WATCHDOG_USEC): a process whose event loop hangs stops sending and is
 * restarted. Returns a stop function.
 */
export function startWatchdog(log: Logger): () => void {
  const usec = Number(process.env.WATCHDOG_USEC);
  const pid = process.env.WATCHDOG_PID;
  if (!process.env.NOTIFY_SOCKET || !(usec > 0) || (pid !== undefined && Number(pid) !== process.pid)) return () => {};
  const timer = setInterval(() => notifyServiceManager(log, 'WATCHDOG=1'), Math.max(500, usec / 2000));
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * The listening sockets systemd passed (socket activation: fds 3.. when
 * $LISTEN_PID is this process), in the order of the unit's ListenStream= lines.
 * They take the place of the listen addresses one by one.
 */
export function activatedSockets(): number[] {
  const count = Number(process.env.LISTEN_FDS);
  if (!(count > 0) || Number(process.env.LISTEN_PID) !== process.pid) return [];
  return Array.from({ length: count }, (_, i) => FIRST_ACTIVATED_FD + i);
}

/** CLOCK_MONOTONIC (what hrtime reads on Linux) in microseconds, which systemd wants with RELOADING=1. */
export function monotonicUsec(): string {
  return String(process.hrtime.bigint() / 1000n);
}
