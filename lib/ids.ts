// Task ids: one counter per prefix, handed out in blocks (INCRBY) so that an enqueue costs a
// single round trip. Ids are unique across queues and increase within a process; blocks left
// unused when a process exits leave gaps.
import type { Redis } from 'ioredis';
import { idsKey } from './keys';

export class IdAllocator {
  private next = 0;
  private end = 0; // exclusive
  private refill: Promise<void> | null = null;
  private block = 16;

  constructor(private client: Redis, private prefix: string) {}

  /** `n` fresh ids from the block in hand, or null when it holds fewer (take() refills). */
  takeNow(n: number): number[] | null {
    if (this.end - this.next < n) return null;
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) out[i] = this.next++;
    return out;
  }

  /** `n` fresh ids. */
  async take(n: number): Promise<number[]> {
    const out: number[] = [];
    while (out.length < n) {
      if (this.next >= this.end) await this.fill(n - out.length);
      while (out.length < n && this.next < this.end) out.push(this.next++);
    }
    return out;
  }

  private fill(need: number): Promise<void> {
    if (!this.refill) {
      // Grow the block under load (up to 1000) so busy producers rarely pay the extra round trip.
      const size = Math.max(need, this.block);
      this.block = Math.min(this.block * 2, 1000);
      this.refill = (async () => {
        try {
          const last = Number(await this.client.incrby(idsKey(this.prefix), size));
          this.next = last - size + 1;
          this.end = last + 1;
        } finally {
          this.refill = null;
        }
      })();
    }
    return this.refill;
  }
}
