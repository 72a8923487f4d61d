/**
 * An ioredis look-alike for the Redis store's unit tests: the events, `status` and the few methods the store's
 * units touch, with every command left pending until the test answers it. It models what ioredis does, not
 * Redis: the real-server tests (test/session/redis-store.test.ts) cover the whole.
 */
import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';

export interface PendingCommand {
  name: string;
  args: string[];
  resolve(value: unknown): void;
  reject(error: Error): void;
}

export class FakeRedis extends EventEmitter {
  /** ioredis' connection status: 'wait', 'connecting', 'ready', 'reconnecting', 'end'... */
  status = 'connecting';
  options: { enableOfflineQueue?: boolean; commandTimeout?: number } = { enableOfflineQueue: false, commandTimeout: 500 };
  /** Commands sent and not yet answered, oldest first. */
  readonly pending: PendingCommand[] = [];
  readonly duplicates: FakeRedis[] = [];
  readonly duplicateOptions: unknown[] = [];
  /** Channels passed to subscribe(), one per call. */
  readonly subscribeCalls: string[] = [];
  /** What the next subscribe() does. */
  subscribeFails = false;
  /** disconnect() calls, with their `reconnect` argument. */
  readonly disconnects: boolean[] = [];
  quits = 0;

  defineCommand(name: string): void {
    (this as unknown as Record<string, (...args: string[]) => Promise<unknown>>)[name] = (...args) => this.send(name, args);
  }

  del(...keys: string[]): Promise<unknown> {
    return this.send('del', keys);
  }

  duplicate(options?: unknown): FakeRedis {
    const copy = new FakeRedis();
    this.duplicates.push(copy);
    this.duplicateOptions.push(options);
    return copy;
  }

  subscribe(channel: string): Promise<unknown> {
    this.subscribeCalls.push(channel);
    return this.subscribeFails ? Promise.reject(new Error('subscribe failed')) : Promise.resolve(1);
  }

  disconnect(reconnect = false): void {
    this.disconnects.push(reconnect);
    this.status = reconnect ? 'reconnecting' : 'end';
  }

  quit(): Promise<string> {
    this.quits += 1;
    this.status = 'end';
    return Promise.resolve('OK');
  }

  /** Connected: status 'ready', then the 'ready' event, as ioredis does. */
  connect(): void {
    this.status = 'ready';
    this.emit('ready');
  }

  /** The connection dropped: ioredis emits 'close' and starts reconnecting. */
  drop(): void {
    this.status = 'reconnecting';
    this.emit('close');
  }

  /** A connection error (a refused reconnection, a reset), emitted while in `status`. */
  fail(message: string): void {
    this.emit('error', new Error(message));
  }

  /** A notice on a subscribed channel. */
  publish(channel: string, message: string): void {
    this.emit('message', channel, message);
  }

  /** Answers the oldest pending command. */
  answer(value: unknown): void {
    const command = this.pending.shift();
    if (!command) throw new Error('no command pending');
    command.resolve(value);
  }

  /** Typed as the ioredis client the units take. */
  asRedis(): Redis {
    return this as unknown as Redis;
  }

  private send(name: string, args: string[]): Promise<unknown> {
    return new Promise((resolve, reject) => this.pending.push({ name, args, resolve, reject }));
  }
}

/** An ioredis ReplyError's shape: what the store maps to store_reply (or, for LOADING and the like, unreachable). */
export function replyError(message: string): Error {
  return Object.assign(new Error(message), { name: 'ReplyError' });
}
