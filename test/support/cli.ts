// The real CLI (bin/wsgate.js) as a child process: run to exit, or start and wait for "listening".
import { spawn, type ChildProcess } from 'node:child_process';
import { BIN } from './paths.js';

/** Runs the real CLI (with `env` added to this process's environment); resolves with exit code and output when it exits (killed after timeoutMs). */
export function runCli(args: string[], timeoutMs = 10_000, env: Record<string, string> = {}): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  return collect(child, timeoutMs);
}

/** Starts the real CLI (with `env` added to this process's environment) and resolves once it logs "listening" (its port is in `port`). */
export async function spawnCli(args: string[], env: Record<string, string> = {}): Promise<{ child: ChildProcess; port: number; output: () => string; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const exited = collect(child, 60_000);
  let out = '';
  child.stdout!.on('data', (c) => (out += c));
  const port = await new Promise<number>((resolve, reject) => {
    const check = () => {
      const m = /"address":\{"address":"[^"]*","family":"[^"]*","port":(\d+)\}[^\n]*"msg":"listening"/.exec(out);
      if (m) {
        child.stdout!.removeListener('data', check);
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on('data', check);
    void exited.then((r) => reject(new Error(`wsgate exited early (${r.code}): ${r.stderr}${r.stdout}`)));
  });
  return { child, port, output: () => out, exited };
}

function collect(child: ChildProcess, timeoutMs: number) {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c) => (stdout += c));
  child.stderr!.on('data', (c) => (stderr += c));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      // Let the pipes finish.
      setImmediate(() => resolve({ code, signal, stdout, stderr }));
    }),
  );
}
