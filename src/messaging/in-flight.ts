import { errorFields, logger } from '../log';

/** Work that settles messages, kept so that stopping can wait for it; a failure is logged, never thrown. */
export class InFlight {
  private readonly work = new Set<Promise<void>>();

  constructor(private readonly failure: string) {}

  track(work: Promise<void>): void {
    const guarded = work.catch((err) => {
      logger.error(this.failure, errorFields(err));
    });
    this.work.add(guarded);
    void guarded.finally(() => this.work.delete(guarded));
  }

  /** Resolves once everything tracked has settled, including work tracked meanwhile. */
  async settled(): Promise<void> {
    while (this.work.size > 0) await Promise.allSettled([...this.work]);
  }
}
